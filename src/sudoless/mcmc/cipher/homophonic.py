"""Breaking homophonic ciphers (several symbols per plain letter, no word boundaries) by annealed Gibbs sampling.

The state is a map from cipher symbols to plain letters, not a permutation: any number of symbols may stand
for one letter, so the natural move reassigns one symbol. A Gibbs step takes a symbol and draws its new
letter from all 26 at once, in proportion to ``exp(score / T)`` (Ravi and Knight's sampler for the Zodiac
408, with the temperature lowered as it goes, as AZdecrypt and zkdecrypto anneal theirs). A *sweep* visits
every symbol once, in a random order.

Scoring is by the model's unspaced letter n-grams. A window's table index is linear in the letters of its
symbols, so the 26 candidate letters of symbol ``s`` give the 26 new indices of every window holding ``s``
in one broadcast; the step is a single gather of ``chains x windows(s) x 26`` table cells. Every chain
visits the same symbol at the same time, so the index lists are shared and one step is a handful of NumPy
calls however many chains run: measured at about 6 ns per candidate window, against about 2 us per
proposal for the general incremental scorer on this problem.

Why anneal rather than climb: letter models of 400-symbol homophonic texts have many strong false optima
(greedy ascent with kicks solved 0 of 10 held-out ciphers; see ``benchmarks/decipher.py``). A slow
schedule from a hot start finds the true basin in most chains; batches of chains are run until ``agree``
chains, in any of the batches so far, end on the best score (the cross-chain agreement test) or the time
is up.

Why the sampling sweeps also pay for crowded letters: most false optima are degenerate keys that give many
symbols to a few common letters ("tesetisatilaashere..."; on the hard tuning ciphers their letters had an
index of coincidence of 0.16-0.21 and an entropy of 2.4-3.0 bits, against 0.06-0.08 and 4.0-4.2 for the
plaintexts). N-gram scores of such texts are high enough to trap a cooling chain, though well below the
true key's. While sampling, a key is charged ``ioc_weight`` nats for every unit by which the sum of its
squared letter counts exceeds ``ioc_limit * letters**2`` (an index of coincidence above the limit); the
greedy polish and every reported score use the n-gram score alone, so the charge steers where chains go but
never which key wins. Homophonic solvers commonly score letter statistics besides n-grams (an open-source
simulated-annealing solver posted on the Zodiac Killer forum multiplies its score by 1 + 7 IoC); a one-sided
charge is used here because only crowding is the failure seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sudoless.mcmc.cipher.model import LanguageModel
from sudoless.mcmc.cipher.scoring import positional_weights, windows
from sudoless.mcmc.cipher.substitution import ENGLISH_FREQUENCY
from sudoless.mcmc.cipher.text import SymbolText

LETTERS = np.arange(26)


@dataclass(frozen=True)
class HomophonicSearch:
    """Knobs of the annealed Gibbs search, set by measurement on 400-symbol ciphers of held-out fortunes
    with the default 5-gram model: ``sweeps`` sweeps per batch with the temperature falling geometrically
    from ``t_start`` to ``t_end``, then ``polish`` greedy sweeps; ``chains`` chains per batch.

    Slower annealing pays more than more chains: on the tuning half, 800 sweeps a chain instead of 400
    found the true key more than twice as often per chain on the hard ciphers (where most chains freeze in
    a false optimum), so about as often or more per CPU second. ``agree`` is 3 because two chains of a batch
    were once seen to end on the same wrong key; agreement only ends a search early, so asking for more
    of it never loses a solution, it only spends more time.

    Every second batch restarts all its chains from the best key so far, reheated to ``reheat`` and cooled
    over ``reheat_sweeps`` sweeps (0: only fresh batches). A false optimum holds some of the true key, and
    a moderate reheat keeps that part while the rest melts: on a tuning cipher where 16 fresh chains all
    froze in false optima, 1 of 16 reheated chains reached the true key. Reheated chains start together,
    so for the agreement test only those that end above their starting score count.

    ``ioc_weight`` and ``ioc_limit`` set the charge for crowded letters (module docstring; 0 turns it off).
    On the 7 hard tuning ciphers, one fresh batch of 16 chains ended with at least 95% of the letters right
    in 39 of 112 chains at weight 0.01 and 7 of 112 without the charge; on 4 of them (two with no such
    chain at 0.01 or in any earlier setting) 19 of 64 at 0.03, 10 at 0.01 and 10 at 0.1. At 0.03, all 40 tuning
    ciphers #0-#39 were solved end to end, 39 of them by the first batch."""

    chains: int = 16
    sweeps: int = 800
    t_start: float = 8.0
    t_end: float = 0.8
    polish: int = 3
    agree: int = 3
    reheat: float = 3.0
    reheat_sweeps: int = 400
    ioc_weight: float = 0.03
    ioc_limit: float = 0.08


@dataclass(frozen=True)
class Outcome:
    """What the search found: the best key (a letter per symbol), its score, the distinct final keys of
    every chain with their scores, how many chains agreed on the best score and whether that ended the
    search (``converged``; otherwise the time limit or ``stop`` did), the final keys of the chains that the
    agreement test counts (``ends``, one row a chain), and the work done."""

    key: np.ndarray
    score: float
    optima: dict[bytes, float]
    agreement: int
    converged: bool
    ends: np.ndarray
    batches: int
    evaluations: int
    trace: list[tuple[float, float, float]]


class SymbolGibbs:
    """Annealed Gibbs sampling over symbol-to-letter maps for a batch of chains, scored by letter n-grams."""

    def __init__(
        self, text: SymbolText, model: LanguageModel, ioc_weight: float = 0.0, ioc_limit: float = 0.08
    ) -> None:
        order = model.unspaced_order
        self.symbols = len(text.symbols)
        self.table = model.unspaced
        self.coarse, step = _coarse_table(model.unspaced)
        units, counts = np.unique(windows(text.codes + 1, order, 0), axis=0, return_counts=True)
        place = 26 ** np.arange(order - 1, -1, -1, dtype=np.int64)
        weights = positional_weights(units, place, self.symbols, np.int64)
        self.weights = weights
        self.counts = counts * model.weights.letter
        self.units = [np.flatnonzero(weights[:, s]) for s in range(self.symbols)]
        self.unit_weights = [weights[u, s] for s, u in enumerate(self.units)]
        self.unit_counts = [self.counts[u] for u in self.units]
        self.coarse_counts = [c * -step for c in self.unit_counts]
        self.frequency = ENGLISH_FREQUENCY / ENGLISH_FREQUENCY.sum()
        self.evaluations = 0
        self.occurrences = np.bincount(text.codes, minlength=self.symbols).astype(np.float64)
        self.ioc_weight = ioc_weight
        self.allowance = ioc_limit * float(len(text.codes)) ** 2

    def random_keys(self, chains: int, rng: np.random.Generator) -> np.ndarray:
        """Keys drawn letter by letter from English letter frequencies (a symbol is most likely an 'e')."""
        return rng.choice(26, size=(chains, self.symbols), p=self.frequency)

    def codes(self, keys: np.ndarray) -> np.ndarray:
        """Table index of every distinct window for every key."""
        return keys @ self.weights.T

    def scores(self, codes: np.ndarray) -> np.ndarray:
        return self.table[codes].astype(np.float64) @ self.counts

    def letter_counts(self, keys: np.ndarray) -> np.ndarray:
        """How often each plain letter occurs in each key's decoding, as (chains, 26)."""
        counts = np.zeros((len(keys), 26))
        rows = np.repeat(np.arange(len(keys)), self.symbols)
        np.add.at(counts, (rows, keys.ravel()), np.tile(self.occurrences, len(keys)))
        return counts

    def crowding(self, keys: np.ndarray) -> np.ndarray:
        """The charge for crowded letters that sampling sweeps subtract from each key's score."""
        return self._charge((self.letter_counts(keys) ** 2).sum(axis=1))

    def _charge(self, squares: np.ndarray) -> np.ndarray:
        """The charge for given sums of squared letter counts (sweeps keep these sums up to date)."""
        return self.ioc_weight * np.maximum(squares - self.allowance, 0.0)

    def sweep(self, keys: np.ndarray, codes: np.ndarray, temperature: float, rng: np.random.Generator) -> None:
        """One Gibbs sweep in place: every symbol, in random order, gets a letter drawn from
        ``exp(score / temperature)`` over the 26 (the best one when ``temperature`` is 0).

        Sampling sweeps score with the one-byte table (see :func:`_coarse_table`) minus :meth:`crowding`;
        greedy sweeps with the exact table alone, so that a greedy sweep never lowers the score."""
        chains = np.arange(len(keys))
        exact = temperature <= 0
        table = self.table if exact else self.coarse
        charged = not exact and self.ioc_weight > 0
        if charged:
            letters = self.letter_counts(keys)
            squares = (letters**2).sum(axis=1)
        for s in rng.permutation(self.symbols):
            units, weight = self.units[s], self.unit_weights[s]
            count = self.unit_counts[s] if exact else self.coarse_counts[s]
            current = codes[:, units]
            shift = LETTERS[None, None, :] - keys[:, s][:, None, None]
            candidates = current[:, :, None] + weight[None, :, None] * shift
            values = np.einsum("cul,u->cl", np.take(table, candidates), count)
            self.evaluations += values.size
            if charged:
                n, old = self.occurrences[s], keys[:, s]
                # Moving n occurrences from letter a to b changes the sum of squares by 2n(C_b - C_a + n).
                after = squares[:, None] + 2 * n * (letters - letters[chains, old][:, None] + n)
                after[chains, old] = squares
                values = values - self._charge(after)
            if temperature > 0:
                letter = np.argmax(values / temperature + rng.gumbel(size=values.shape), axis=1)
            else:
                letter = np.argmax(values, axis=1)
            codes[:, units] += weight[None, :] * (letter - keys[chains, s])[:, None]
            if charged:
                squares = after[chains, letter]
                letters[chains, old] -= n
                letters[chains, letter] += n
            keys[:, s] = letter


_COARSE: list[tuple[np.ndarray, np.ndarray, float]] = []


def _coarse_table(table: np.ndarray) -> tuple[np.ndarray, float]:
    """The n-gram table as one byte a cell: ``value = -byte * step``, 256 levels from 0 down to the table's
    minimum (steps of about 0.2 nats for the default model).

    Why: a sweep is a random gather from the table, and the 5-gram table (26**5 float32 cells, 47 MB) does
    not fit in a 32 MB cache, while a quarter of it does: sweeps of 32-64 chains measured 15-20% faster
    (no difference at 16 chains, where NumPy's per-call costs dominate). The rounding errors (at most half
    a step a window) are well below the sampling temperatures. The last table converted is kept, since
    every cipher solved with one model needs the same conversion."""
    for source, coarse, step in _COARSE:
        if source is table:
            return coarse, step
    step = max(float(-table.min()), 1e-9) / 255
    coarse = np.clip(np.rint(-table / step), 0, 255).astype(np.uint8)
    _COARSE[:] = [(table, coarse, step)]
    return coarse, step


def search(
    text: SymbolText,
    model: LanguageModel,
    time_limit: float,
    seed: int,
    options: HomophonicSearch | None = None,
    progress: Callable[[float, float, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    stop: Callable[[], bool] | None = None,
) -> Outcome:
    """Batches of annealed Gibbs chains until ``agree`` chains share the best score, the time
    limit passes or ``stop()`` is true. Deterministic for a seed when neither the clock nor ``stop`` ends it."""
    options = options or HomophonicSearch()
    rng = np.random.default_rng(seed)
    sampler = SymbolGibbs(text, model, options.ioc_weight, options.ioc_limit)
    start = clock()
    temperatures = options.t_start * (options.t_end / options.t_start) ** np.linspace(0, 1, options.sweeps)
    reheating = options.reheat * (options.t_end / options.reheat) ** np.linspace(0, 1, options.reheat_sweeps)
    best, best_score = np.zeros(sampler.symbols, dtype=np.int64), -np.inf
    optima: dict[bytes, float] = {}
    trace: list[tuple[float, float, float]] = []
    finals: list[float] = []
    ends: list[np.ndarray] = []
    batches = agreement = 0
    out_of_time = False
    while not out_of_time:
        batches += 1
        reheated = batches % 2 == 0 and options.reheat_sweeps > 0
        if reheated:
            keys, schedule, start_score = np.repeat(best[None], options.chains, axis=0), reheating, best_score
        else:
            keys, schedule = sampler.random_keys(options.chains, rng), temperatures
        codes = sampler.codes(keys)
        if not trace:
            first = sampler.scores(codes)
            trace.append((0.0, float(first.max()), float(first.mean())))
        for done, temperature in enumerate(schedule):
            sampler.sweep(keys, codes, float(temperature), rng)
            if done % 20 == 19 and (clock() - start >= time_limit or (stop is not None and stop())):
                out_of_time = True
                break
        for _ in range(options.polish):
            sampler.sweep(keys, codes, 0.0, rng)
        scores = sampler.scores(codes)
        for key, score in zip(keys, scores, strict=True):
            optima[key.tobytes()] = float(score)
        top = int(np.argmax(scores))
        if scores[top] > best_score + 1e-9:
            best, best_score = keys[top].copy(), float(scores[top])
        counted = scores > start_score + 1e-6 if reheated else np.ones(len(scores), dtype=bool)
        finals.extend(scores[counted].tolist())
        ends.extend(keys[counted].copy())
        agreement = int((np.abs(np.array(finals) - best_score) < 1e-6).sum())
        elapsed = clock() - start
        trace.append((elapsed, best_score, float(scores.mean())))
        if progress is not None:
            progress(elapsed, best_score, batches)
        if agreement >= options.agree or elapsed >= time_limit or (stop is not None and stop()):
            break
    ended = np.array(ends) if ends else np.zeros((0, sampler.symbols), dtype=np.int64)
    return Outcome(
        best, best_score, optima, agreement, agreement >= options.agree, ended, batches, sampler.evaluations, trace
    )
