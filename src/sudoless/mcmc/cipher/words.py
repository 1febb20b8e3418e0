"""Word unigram and bigram tables keyed by integer word codes, so that thousands of decodings are looked up
at once with ``np.searchsorted`` instead of Python dictionaries.

A word's code is ``sum(letter_j * 27**j)`` with letters 1..26, computed in wrapping ``uint64`` arithmetic:
exact (injective) up to 13 letters, a 64-bit hash beyond, where a false match is vanishingly unlikely.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

POWERS = np.array([27**j % 2**64 for j in range(64)], dtype=np.uint64)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class CodeIndex:
    """A read-only hash table from ``uint64`` codes to row numbers, looked up for whole arrays at once.

    Open addressing with linear probing at a load of at most 1/8, so almost every query is settled by its
    first slot (a hit, or an empty slot); only the few that land on another key probe further. Measured
    four times faster than ``np.searchsorted`` over the 82k-word vocabulary, which dominated the search.
    """

    def __init__(self, codes: np.ndarray) -> None:
        codes = np.asarray(codes, dtype=np.uint64)
        self.bits = max(4, int(np.ceil(np.log2(max(len(codes), 1) * 8))))
        self.mask = np.uint64((1 << self.bits) - 1)
        self.keys = np.zeros(1 << self.bits, dtype=np.uint64)
        self.rows = np.full(1 << self.bits, -1, dtype=np.int64)
        home = self._home(codes)
        pending = np.arange(len(codes))
        probe = 0
        while len(pending):
            slots = (home[pending] + np.uint64(probe)) & self.mask
            free = self.rows[slots] == -1
            _, first = np.unique(slots[free], return_index=True)
            placed = pending[free][first]
            self.keys[slots[free][first]] = codes[placed]
            self.rows[slots[free][first]] = placed
            done = np.zeros(len(codes), dtype=bool)
            done[placed] = True
            pending = pending[~done[pending]]
            probe += 1

    def _home(self, codes: np.ndarray) -> np.ndarray:
        return (codes * _GOLDEN) >> np.uint64(64 - self.bits)

    def find(self, codes: np.ndarray) -> np.ndarray:
        """Row of each code, or -1 where the code is not in the table."""
        flat = codes.ravel()
        slots = self._home(flat)
        rows = self.rows[slots]
        found = np.where(self.keys[slots] == flat, rows, -1)
        unsettled = np.flatnonzero((rows >= 0) & (found < 0))
        probe = 1
        while len(unsettled):
            slots = (self._home(flat[unsettled]) + np.uint64(probe)) & self.mask
            rows = self.rows[slots]
            hit = self.keys[slots] == flat[unsettled]
            found[unsettled[hit]] = rows[hit]
            unsettled = unsettled[~hit & (rows >= 0)]
            probe += 1
        return found.reshape(codes.shape)


def letter_matrix(words: list[str] | tuple[str, ...]) -> np.ndarray:
    """Lower-case a-z words as a (words, longest) matrix of letters 1..26, padded with 0."""
    if not words:
        return np.zeros((0, 1), dtype=np.int64)
    width = max(1, max(len(w) for w in words))
    raw = np.array(words, dtype=f"S{width}").view(np.uint8).reshape(len(words), width).astype(np.int64)
    return np.where(raw > 0, raw - 96, 0)


def word_codes(words: list[str] | tuple[str, ...]) -> np.ndarray:
    """Codes of lower-case a-z words: letter values (1..26) weighted by :data:`POWERS`, as the scoring
    (:func:`~sudoless.mcmc.cipher.scoring.word_term`) codes the words of a decoding."""
    matrix = letter_matrix(words)[:, :64].astype(np.uint64)
    return (matrix * POWERS[: matrix.shape[1]]).sum(axis=1, dtype=np.uint64)


@dataclass(frozen=True)
class WordTable:
    """Sorted word codes with their log-probabilities, and sorted word-pair keys with their log bonuses.

    ``pair_bonus`` is ``log(1 + mu/(1-mu) * P(w2|w1) / P(w2))``: what the interpolated bigram probability
    adds to the unigram one, so an unlisted pair costs nothing extra and a listed pair is a reward.
    """

    words: tuple[str, ...]
    codes: np.ndarray
    logp: np.ndarray
    pair_keys: np.ndarray
    pair_bonus: np.ndarray
    index: CodeIndex = field(init=False, repr=False, compare=False)
    pair_index: CodeIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", CodeIndex(self.codes))
        object.__setattr__(self, "pair_index", CodeIndex(self.pair_keys.astype(np.uint64)))

    @classmethod
    def build(cls, counts: dict[str, float], pair_counts: dict[tuple[str, str], float], mu: float = 0.5) -> WordTable:
        """Tables from word counts and word-pair counts; the two may be on different scales (each is
        normalised on its own, and conditionals come from the pair counts alone)."""
        words = sorted(counts)
        codes = word_codes(words)
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        words = [words[i] for i in order]
        if len(np.unique(codes)) != len(codes):
            raise ValueError("two vocabulary words share a code")
        freq = np.array([counts[w] for w in words], dtype=np.float64)
        unigram = freq / freq.sum()
        index = {w: i for i, w in enumerate(words)}
        pairs = [(index[a], index[b], c) for (a, b), c in pair_counts.items() if a in index and b in index]
        if pairs:
            arr = np.array(pairs, dtype=np.float64)
            first, second, c = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]
            left = np.bincount(first, weights=c, minlength=len(words))
            conditional = c / left[first]
            bonus = np.log1p(mu / (1 - mu) * conditional / unigram[second])
            keys = first * len(words) + second
            order = np.argsort(keys)
            pair_keys, pair_bonus = keys[order], bonus[order].astype(np.float32)
        else:
            pair_keys, pair_bonus = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return cls(tuple(words), codes, np.log(unigram).astype(np.float32), pair_keys, pair_bonus)

    def lookup(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary index of each code and whether it is a vocabulary word at all."""
        rows = self.index.find(codes)
        return np.maximum(rows, 0), rows >= 0

    def pair_scores(self, first: np.ndarray, second: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Bigram bonus for adjacent known words (0 for unlisted pairs or unknown words)."""
        if len(self.pair_keys) == 0:
            return np.zeros(first.shape, dtype=np.float32)
        keys = (first.astype(np.int64) * len(self.codes) + second).astype(np.uint64)
        rows = self.pair_index.find(keys)
        hit = (rows >= 0) & known
        return np.where(hit, self.pair_bonus[np.maximum(rows, 0)], np.float32(0))
