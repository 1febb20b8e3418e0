"""The server's survivors' freeze (server/heap.py): what a full collection leaves is frozen, so that the next
one walks only what came after it; young garbage is still collected; and once every ``recheck`` seconds the
frozen heap is unfrozen, so that a reference cycle that died while frozen is collected in the end. Each case
runs in a process of its own: freezing is the whole process's."""

from __future__ import annotations

import subprocess
import sys

SURVIVORS = """
import gc, weakref
from sudoless.server.heap import freeze_survivors

class Node:
    pass

def cycle():
    node = Node()
    node.self = node
    return node

now = [0.0]
freeze_survivors(recheck=100.0, clock=lambda: now[0])
gc.collect()
kept = [[index] for index in range(5_000)]
before = gc.get_freeze_count()
gc.collect()
assert gc.get_freeze_count() >= before + 5_000, (before, gc.get_freeze_count())

young = cycle()  # garbage made after the freeze is still collected
gone = weakref.ref(young)
del young
gc.collect()
assert gone() is None

old = cycle()  # a cycle alive at a full collection is frozen; dead later, it waits for the recheck
stays = weakref.ref(old)
gc.collect()
del old
gc.collect()
assert stays() is not None
now[0] = 150.0
gc.collect()  # past the recheck: this collection unfreezes the heap after it
assert gc.get_freeze_count() == 0
gc.collect()  # walks the whole heap, collects the cycle, freezes what is left
assert stays() is None
assert gc.get_freeze_count() >= 5_000
print("ok")
"""


def test_full_collections_freeze_their_survivors_and_the_heap_is_walked_again_each_recheck() -> None:
    done = subprocess.run([sys.executable, "-c", SURVIVORS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok"]
