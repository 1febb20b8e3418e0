"""The server's heap, kept out of the garbage collector's full walks (see ``Server._freeze_heap`` in
:mod:`sudoless.server.serve`, and benchmarks/README.md on the p99 tail that full collections caused).

What the server builds once, after its start froze the heap, is as long-lived as what it froze: the JSON API
(FastAPI, Pydantic and some forty models and routes, about 100,000 objects) is built on its first request.
Left unfrozen, those objects were walked by every full collection, and the JSON API's reads kept a p99 of
47-82 ms at 200 requests a second where the AJAX API's, at the same CPU per request, stayed under 15 ms.

What a running server keeps grows too: its caches of rendered rows, charts, column descriptions and parsed
project versions fill as the reads go on. In one 7-minute run of every read at 200 requests a second, the
full collections grew from 2.5 to 43 ms as they filled, and the reads measured then had their p99 over 50 ms.
:func:`freeze_survivors` freezes what each full collection leaves, so the next one walks only what came
after it.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

__all__ = ["RECHECK_SECONDS", "freeze_survivors", "keep_frozen"]

#: How often the frozen heap is walked again (see :func:`freeze_survivors`).
RECHECK_SECONDS = 3600.0


def keep_frozen() -> bool:
    """Freeze what was built since the heap was last frozen, if this process froze its heap (a server does; a
    test process serving in a thread does not, and its objects must stay collectable). True if it froze."""
    if gc.get_freeze_count() == 0:
        return False
    gc.freeze()
    return True


def freeze_survivors(
    recheck: float = RECHECK_SECONDS, clock: Callable[[], float] = time.monotonic
) -> Callable[[str, dict[str, Any]], None]:
    """After each full collection, freeze what survived it; once every ``recheck`` seconds, unfreeze instead.

    Right after a full collection the younger generations are empty, so freezing then takes exactly the
    objects that collection found alive. Frozen objects are still freed when their last reference goes; what
    a frozen object can no longer be is collected as part of a reference cycle, so the whole heap is
    unfrozen once in a while (hourly by default): the full collection after that walks everything once,
    collects such cycles, and what it leaves is frozen again. Returns the callback it added to
    ``gc.callbacks`` (remove it to stop)."""
    unfrozen_at = [clock()]

    def after_collection(phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        now = clock()
        if now - unfrozen_at[0] >= recheck:
            unfrozen_at[0] = now
            gc.unfreeze()
        else:
            gc.freeze()

    gc.callbacks.append(after_collection)
    return after_collection
