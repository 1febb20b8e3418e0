"""The server's heap, kept out of the garbage collector's full walks (see ``Server._freeze_heap`` in
:mod:`sudoless.server.serve`, and benchmarks/README.md on the p99 tail that full collections caused).

What the server builds once, after its start froze the heap, is as long-lived as what it froze: the JSON API
(FastAPI, Pydantic and some forty models and routes, about 100,000 objects) is built on its first request.
Left unfrozen, those objects were walked by every full collection, and the JSON API's reads kept a p99 of
47-82 ms at 200 requests a second where the AJAX API's, at the same CPU per request, stayed under 15 ms.
"""

from __future__ import annotations

import gc

__all__ = ["keep_frozen"]


def keep_frozen() -> bool:
    """Freeze what was built since the heap was last frozen, if this process froze its heap (a server does; a
    test process serving in a thread does not, and its objects must stay collectable). True if it froze."""
    if gc.get_freeze_count() == 0:
        return False
    gc.freeze()
    return True
