"""Helpers shared by the tests of several areas: plain functions and classes, imported as ``support.*``.

Fixtures stay in the ``conftest.py`` files (pytest finds them there); what a test module imports by name
lives here, so that no module imports a conftest (which pytest also loads under a name of its own). The
tests folder is on the import path through ``pythonpath = ["tests"]`` in pyproject.toml, a path relative to
the repository, so a copy of the tree (tests/as_user.py runs one as another user) finds these as well.
"""
