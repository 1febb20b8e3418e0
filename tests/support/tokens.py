"""Random markers that every pytest worker of one run agrees on.

pytest-xdist makes each worker collect the tests itself and refuses a run whose workers collected different
test ids; a marker drawn at import (``uuid4``) that appears in a parametrized id would differ between them. The
run's id, which xdist gives every worker in ``PYTEST_XDIST_TESTRUNUID``, is the same for all of them and new
for each run; without xdist the marker is drawn as before.
"""

from __future__ import annotations

import os
import uuid


def run_token(prefix: str) -> str:
    """``prefix`` and 8 hex digits, new for each test run and the same in every worker of it."""
    return prefix + (os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex)[:8]
