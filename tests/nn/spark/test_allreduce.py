"""The ring all-reduce of the barrier engine, with ranks as threads on loopback sockets."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sudoless.nn.spark.allreduce import CollectiveError, Ring, listen


def ring_run(vectors: list[np.ndarray], rounds: int = 1) -> list[np.ndarray]:
    servers = [listen("127.0.0.1") for _ in vectors]
    addresses = [f"127.0.0.1:{s.getsockname()[1]}" for s in servers]
    results: list[np.ndarray | None] = [None] * len(vectors)
    errors: list[BaseException] = []

    def rank(r: int) -> None:
        try:
            ring = Ring(r, addresses, servers[r], timeout=20)
            out = vectors[r].copy()
            for _ in range(rounds):
                out = vectors[r].copy()
                ring.allreduce(out)
            ring.close()
            results[r] = out
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(len(vectors))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return [r for r in results if r is not None]


@pytest.mark.parametrize("ranks", [1, 2, 3, 4, 5])
def test_every_rank_gets_the_same_exact_sum(ranks: int) -> None:
    rng = np.random.default_rng(ranks)
    # An odd length, so the chunks differ in size; large enough that a send cannot fit in socket buffers.
    vectors = [rng.standard_normal(2_000_003).astype(np.float32) for _ in range(ranks)]
    results = ring_run(vectors, rounds=2)
    assert len(results) == ranks
    expected = np.sum(np.array(vectors, dtype=np.float64), axis=0)
    np.testing.assert_allclose(results[0], expected, rtol=1e-5, atol=1e-5)
    for other in results[1:]:
        assert np.array_equal(other, results[0]), "ranks disagree bit for bit"


def test_short_vectors_with_more_ranks_than_elements() -> None:
    results = ring_run([np.array([float(r), 1.0], np.float32) for r in range(3)])
    for result in results:
        assert result.tolist() == [3.0, 3.0]


def test_a_vanished_peer_is_an_error_not_a_hang() -> None:
    servers = [listen("127.0.0.1") for _ in range(2)]
    addresses = [f"127.0.0.1:{s.getsockname()[1]}" for s in servers]
    holder: dict[str, Ring] = {}

    def peer() -> None:
        holder["peer"] = Ring(1, addresses, servers[1], timeout=10)

    thread = threading.Thread(target=peer)
    thread.start()
    ring = Ring(0, addresses, servers[0], timeout=10)
    thread.join()
    holder["peer"].close()
    with pytest.raises(CollectiveError):
        ring.allreduce(np.ones(1000, np.float32))
    ring.close()
