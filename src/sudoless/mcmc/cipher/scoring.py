"""Scoring keys for one ciphertext, for whole batches of chains at once, incrementally.

The score is a sum over *units*: letter windows, and adjacent word pairs. A unit is a short tuple of cipher
symbols whose value depends only on how those symbols decode. Each distinct unit is scored once and
weighted by how often it occurs, which matters for longer texts where "the" and "_th" recur.

Every unit is summarised by integer *codes*: a letter window by its index into the n-gram table, a word by
its vocabulary code. A code is linear in the plain letters of the unit's symbols,
``code = sum_s W[unit, s] * letter(s)``, so when a proposal changes the letters of one or two symbols, the
new code is the old one plus ``W[unit, a] * change(a) + W[unit, b] * change(b)``, O(1) per unit however
long the word (Jakobsen's incremental idea, in vector form). Word codes use wrapping ``uint64`` arithmetic,
which stays exact because every step is a ring operation.

:class:`ScoreState` keeps the codes and values of every unit for every chain. For a batch of proposals it
gathers only the affected (chain, unit) cells into flat arrays and sums the differences per chain with
``np.bincount``; no Python loop runs over chains, proposals or units.

Keys are ``plain_of`` arrays: the plain letter (0..25) of every cipher symbol (0..symbols-1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sudoless.mcmc.cipher.model import LanguageModel
from sudoless.mcmc.cipher.text import Cryptogram
from sudoless.mcmc.cipher.words import POWERS, WordTable

Value = Callable[[list[np.ndarray], np.ndarray], np.ndarray]


def windows(codes: np.ndarray, order: int, pad: int) -> np.ndarray:
    """All length-``order`` windows of ``codes`` after ``pad`` leading zeros, as a (windows, order) matrix."""
    padded = np.concatenate([np.zeros(pad, dtype=np.int64), codes])
    count = len(padded) - order + 1
    if count <= 0:
        return np.zeros((0, order), dtype=np.int64)
    return np.stack([padded[j : j + count] for j in range(order)], axis=1)


def positional_weights(units: np.ndarray, place: np.ndarray, symbols: int, dtype: type) -> np.ndarray:
    """W[unit, s] = sum of ``place[j]`` over the positions j where the unit holds symbol s.

    ``units`` hold shifted symbols (0 = boundary or padding, which contributes nothing)."""
    weights: np.ndarray = np.zeros((len(units), symbols + 1), dtype=dtype)
    rows = np.arange(len(units))
    for j in range(units.shape[1]):
        np.add.at(weights, (rows, units[:, j]), place[j])
    return weights[:, 1:]


@dataclass
class Term:
    """One part of the score: per distinct unit, its weight (occurrences times the term's weight), one
    positional-weight matrix per code channel with a constant offset, and a value function of the codes.

    ``offsets``/``members`` list, for every pair of symbols (a, b) (a == b for one symbol), the units that
    contain either, so that a batch of proposals finds its affected units without a loop.
    """

    weights: np.ndarray
    channels: list[np.ndarray]
    constants: list[np.ndarray]
    value: Value
    symbols: int
    offsets: np.ndarray = field(init=False)
    members: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        incidence = np.zeros((self.symbols, len(self.weights)), dtype=bool)
        for channel in self.channels:
            incidence |= (channel != 0).T
        lists: list[np.ndarray] = []
        for a in range(self.symbols):
            union = incidence[a] | incidence
            lists.extend(np.flatnonzero(row) for row in union)
        lengths = np.array([len(x) for x in lists], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.members = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)

    def affected(self, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, unit) index pairs of the units each proposal row touches."""
        starts = self.offsets[group]
        lengths = self.offsets[group + 1] - starts
        rows = np.repeat(np.arange(len(group)), lengths)
        first = np.cumsum(lengths) - lengths
        position = np.arange(int(lengths.sum())) + np.repeat(starts - first, lengths)
        return rows, self.members[position]

    def codes(self, letters: np.ndarray) -> list[np.ndarray]:
        """Codes of every unit for keys ``letters`` (keys, symbols), already shifted as the channel needs."""
        return [letters.astype(w.dtype) @ w.T + c for w, c in zip(self.channels, self.constants, strict=True)]


def letter_term(
    table: np.ndarray,
    units: np.ndarray,
    counts: np.ndarray,
    order: int,
    alphabet: int,
    symbols: int,
    shift: int,
    weight: float,
) -> Term:
    """Letter windows: the code is the window's index into the n-gram table of ``log P(last | rest)``."""
    place = np.array([alphabet ** (order - 1 - j) for j in range(order)], dtype=np.int64)
    w = positional_weights(units, place, symbols, np.int64)
    constant = (units > 0).astype(np.int64) @ place * shift

    def value(codes: list[np.ndarray], _units: np.ndarray) -> np.ndarray:
        return table[codes[0]].astype(np.float64)

    return Term(weight * counts.astype(np.float64), [w], [constant], value, symbols)


def word_term(
    words: WordTable,
    pairs: np.ndarray,
    counts: np.ndarray,
    symbols: int,
    weight: float,
    oov_logp: float,
    oov_per_letter: float,
) -> Term:
    """Adjacent word pairs (previous word, word), as shifted letter symbols with the first word of the text
    paired with an empty one. Value: ``log P(word)`` or the unknown-word cost, plus the bigram bonus."""
    half = pairs.shape[1] // 2
    place = POWERS[:half]
    left, right = pairs[:, :half], pairs[:, half:]
    unknown = oov_logp + oov_per_letter * (right > 0).sum(axis=1)

    def value(codes: list[np.ndarray], units: np.ndarray) -> np.ndarray:
        first, known_first = words.lookup(codes[0])
        second, known_second = words.lookup(codes[1])
        uni = np.where(known_second, words.logp[second], unknown[units])
        return uni + words.pair_scores(first, second, known_first & known_second)

    channels = [
        positional_weights(left, place, symbols, np.uint64),
        positional_weights(right, place, symbols, np.uint64),
    ]
    constants = [(left > 0).astype(np.uint64) @ place, (right > 0).astype(np.uint64) @ place]
    return Term(weight * counts.astype(np.float64), channels, constants, value, symbols)


def _word_grid(shifted: np.ndarray) -> np.ndarray:
    bounds = np.flatnonzero(shifted == 0)
    starts, ends = bounds[:-1] + 1, bounds[1:]
    width = int((ends - starts).max())
    grid = np.zeros((len(starts), width), dtype=np.int64)
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        grid[i, : e - s] = shifted[s:e]
    # Word codes hash the first len(POWERS) = 64 letters (words.word_codes); longer "words" (a run of
    # letters in a cookie of line noise) are scored by those letters, like any other unknown word.
    return grid[:, : len(POWERS)]


@dataclass
class Scorer:
    """The score of keys for one text, as a list of :class:`Term`. Spaced texts use the model's spaced
    letter table and the word term; unspaced ones (patristocrats, homophonic ciphers) letters only."""

    terms: list[Term]
    symbols: int

    @classmethod
    def for_cryptogram(cls, cipher: Cryptogram, model: LanguageModel) -> Scorer:
        return cls.for_codes(cipher.codes(), model, spaced=cipher.spaced, symbols=26)

    @classmethod
    def for_codes(cls, codes: np.ndarray, model: LanguageModel, spaced: bool, symbols: int) -> Scorer:
        """Spaced codes use 0 for a boundary and symbol+1 otherwise; unspaced codes are symbols 0.. ."""
        weights = model.weights
        shifted = codes if spaced else codes + 1
        order = model.spaced_order if spaced else model.unspaced_order
        table = model.spaced if spaced else model.unspaced
        alphabet = 27 if spaced else 26
        distinct, counts = np.unique(windows(shifted, order, order - 2 if spaced else 0), axis=0, return_counts=True)
        terms = [letter_term(table, distinct, counts, order, alphabet, symbols, 1 if spaced else 0, weights.letter)]
        if spaced and weights.word and np.count_nonzero(shifted) > 0:
            grid = _word_grid(shifted)
            previous = np.vstack([np.zeros((1, grid.shape[1]), dtype=np.int64), grid[:-1]])
            pairs, pair_counts = np.unique(np.hstack([previous, grid]), axis=0, return_counts=True)
            terms.append(
                word_term(
                    model.words, pairs, pair_counts, symbols, weights.word, weights.oov_logp, weights.oov_per_letter
                )
            )
        return cls(terms, symbols)

    def unit_state(self, plain_of: np.ndarray) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
        """Codes and values of every unit of every term for keys ``plain_of`` (keys, symbols)."""
        codes = [term.codes(plain_of) for term in self.terms]
        values = []
        for term, channel_codes in zip(self.terms, codes, strict=True):
            units = np.broadcast_to(np.arange(len(term.weights)), channel_codes[0].shape)
            values.append(term.value(channel_codes, units))
        return codes, values

    def total(self, values: list[np.ndarray]) -> np.ndarray:
        return np.asarray(sum(v @ term.weights for v, term in zip(values, self.terms, strict=True)), dtype=np.float64)

    def scores(self, plain_of: np.ndarray) -> np.ndarray:
        """Total log-score of each key in ``plain_of`` (shape (..., symbols)); the result has shape (...)."""
        batch = np.asarray(plain_of, dtype=np.int64).reshape(-1, self.symbols)
        return self.total(self.unit_state(batch)[1]).reshape(np.shape(plain_of)[:-1])


@dataclass
class ScoreState:
    """Keys of a batch of chains with every unit's current codes and value, for incremental proposals."""

    scorer: Scorer
    plain_of: np.ndarray
    codes: list[list[np.ndarray]]
    values: list[np.ndarray]
    scores: np.ndarray
    _pending: list[tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]] = field(default_factory=list)
    _change: tuple[np.ndarray, ...] | None = None

    @classmethod
    def start(cls, scorer: Scorer, plain_of: np.ndarray) -> ScoreState:
        plain_of = np.array(plain_of, dtype=np.int64).reshape(-1, scorer.symbols)
        codes, values = scorer.unit_state(plain_of)
        return cls(scorer, plain_of, codes, values, scorer.total(values))

    def propose(
        self, chain: np.ndarray, first: np.ndarray, new_first: np.ndarray, second: np.ndarray, new_second: np.ndarray
    ) -> np.ndarray:
        """Scores of proposals, one per row: chain ``chain[row]``'s key with symbol ``first[row]`` given
        letter ``new_first[row]`` and ``second[row]`` given ``new_second[row]`` (pass the same symbol and
        letter twice to change one symbol). Follow with :meth:`move` or :meth:`commit`."""
        rows = len(chain)
        old_first = self.plain_of[chain, first]
        old_second = self.plain_of[chain, second]
        single = first == second
        change_first = new_first - old_first
        change_second = np.where(single, 0, new_second - old_second)
        group = first * self.scorer.symbols + second
        delta = np.zeros(rows)
        self._pending = []
        symbols = self.scorer.symbols
        for term, codes, current in zip(self.scorer.terms, self.codes, self.values, strict=True):
            touched, units = term.affected(group)
            cell = chain[touched] * len(term.weights) + units
            at_a = units * symbols + first[touched]
            at_b = units * symbols + second[touched]
            new_codes = []
            for w, code in zip(term.channels, codes, strict=True):
                flat = w.ravel()
                step = change_first[touched].astype(w.dtype) * flat[at_a]
                step += change_second[touched].astype(w.dtype) * flat[at_b]
                new_codes.append(code.ravel()[cell] + step)
            new = term.value(new_codes, units)
            delta += np.bincount(touched, weights=term.weights[units] * (new - current.ravel()[cell]), minlength=rows)
            self._pending.append((touched, cell, new_codes, new))
        self._change = (chain, first, new_first, second, new_second)
        return self.scores[chain] + delta

    def commit(self, accept: np.ndarray, proposed_scores: np.ndarray) -> None:
        """One proposal per chain (row i is chain i): keep those where ``accept`` is true."""
        self.move(np.flatnonzero(accept), proposed_scores)

    def move(self, rows: np.ndarray, proposed_scores: np.ndarray) -> None:
        """Adopt the proposals in ``rows`` (at most one per chain) as their chains' new keys."""
        if self._change is None:
            raise RuntimeError("move() or commit() without propose()")
        chain, first, new_first, second, new_second = self._change
        chosen = np.zeros(len(chain), dtype=bool)
        chosen[rows] = True
        for (touched, cell, new_codes, new), codes, current in zip(self._pending, self.codes, self.values, strict=True):
            keep = chosen[touched]
            kept = cell[keep]
            for code, new_code in zip(codes, new_codes, strict=True):
                code.ravel()[kept] = new_code[keep]
            current.ravel()[kept] = new[keep]
        self.plain_of[chain[rows], second[rows]] = new_second[rows]
        self.plain_of[chain[rows], first[rows]] = new_first[rows]
        self.scores[chain[rows]] = proposed_scores[rows]
        self._change = None
