"""Breaking substitution ciphers by tempered Metropolis search over keys, with incremental scoring.

The target is ``exp(score / T)`` over keys, with the score of :mod:`~sudoless.mcmc.cipher.model`. For
deciphering the useful output is the best key seen, so the sampler is run as a stochastic optimiser. It was
shaped by measurement on held-out text (``benchmarks/decipher.py``), where simpler schemes lost:

* **Informed moves.** Each step scores the *whole* neighbourhood of every chain's key at once (every swap
  of a letter in the text with any other letter; for homophonic ciphers, every new letter for every
  symbol) with :class:`~sudoless.mcmc.cipher.scoring.ScoreState`'s incremental scoring, then draws the move
  from ``exp(delta / T)`` (a heat bath over the neighbourhood; greedy at ``T = 0``). NumPy pays per call,
  not per element, so a few chains taking wide steps get much further per second than many chains each
  trying one random swap, which is all a scalar Metropolis sampler could do.
* **Basin hopping.** Every chain climbs to a local optimum, then repeatedly kicks its key with a few
  random swaps, climbs again and accepts the new optimum with Metropolis probability at
  ``hop_temperature``: a Markov chain over local optima (Li and Scheraga's Monte Carlo minimisation).
  Letter models leave short ciphers with wrong optima that are strong attractors, and kicks leave them;
  plain annealing from random keys (``anneal_steps``, off by default) found the true key far less often.
* **Stopping.** When ``agree`` chains, started independently, sit on the best key (cross-chain agreement,
  the practical convergence test), when no improvement came for ``patience`` rounds and for as many
  rounds as it took to find the best, when it came for ``dictionary_stop`` rounds and every decoded word
  is a dictionary word, or at the time limit. For texts of ``confirm_letters`` letters or more, a
  population that stops on a key better than every earlier one's is not trusted alone: a fresh population
  from random keys runs the same search, and the solver stops only when one fails to beat the best so far.

The confidence is the share of ``exp(score / T)`` that the best key holds among the distinct optima the
chains visited, times, for spaced texts, the share of decoded words that are dictionary words, times
``min(1, letters / 28)``: below the unicity distance of simple substitution in English (about 28 letters)
several meaningful decryptions are expected, however firmly the search settles on one; and, when the
time limit ended the search, times the *consensus*. It is a heuristic, reported with its parts.

The consensus is the share of the text's letters on which the best key and the closest other chain's
final key decode alike (the second-closest chain end: the closest is, as a rule, the chain that found the
best key). It matters when the time limit (or ``stop``) ends the search before its own stopping test
passed: the best key can then sit far above every other optimum seen, so the score share reads ~1.0 on a
wrong key (a 400-symbol homophonic cipher at 1 s: about a quarter of the letters right). Such a search
counts as solved (:meth:`Solution.solved`) only when its chains agree on at least ``CONSENSUS`` of the
letters, and its confidence is multiplied by the consensus. A search that stopped on its own test keeps
the confidence above: that test already asks for chains that agree, or, for simple substitution, for a
settled search confirmed by a fresh population (from ``confirm_letters`` letters); on held-out
cryptograms of 75 characters, 5 of 16 correct decryptions that settled alone had a consensus under 0.95.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from sudoless.errors import InputError
from sudoless.mcmc.cipher import homophonic
from sudoless.mcmc.cipher.homophonic import HomophonicSearch
from sudoless.mcmc.cipher.model import LanguageModel
from sudoless.mcmc.cipher.scoring import Scorer, ScoreState
from sudoless.mcmc.cipher.substitution import ENGLISH_FREQUENCY
from sudoless.mcmc.cipher.text import ALPHABET, CipherKind, Cryptogram, SymbolText, detect_kind
from sudoless.mcmc.cipher.words import word_codes

Progress = Callable[[float, float, int], None]
UNICITY_LETTERS = 28
# Chains that found the same optimum decode alike on every letter; 0.95 leaves room for a rare symbol that
# the text does not pin down (a letter seen once or twice) without accepting a different plaintext.
CONSENSUS = 0.95


@dataclass(frozen=True)
class Search:
    """Knobs of the search; the defaults were set by measurement on held-out fortunes (see the benchmark).

    Texts of ``long_letters`` letters or more (about 200 characters) run ``long_chains`` chains instead of
    ``chains``: there the letter model alone leads most chains to the true key, and 8 chains instead of 16
    halved the time at 300-500 characters with the same success. Shorter texts have strong false optima
    that several chains can agree on; 32 chains instead of 16 found the true key more often at 75-150
    characters (mean letter accuracy up at each length on the tuning half) for about 1.5 times the time.

    ``confirm_letters``: every search failure of the held-out 100-cipher run at 100-300 characters (5 of
    the 10 failures there; the others were model failures) had stopped after under 2.3 CPU s of the 10, on
    agreement of 3 chains (3 ciphers) or on patience (2), at a wrong key scoring below the true one. A
    second, independent population costs about twice the time (median CPU at 200 characters 0.58 -> 0.99 s
    on the tuning half on a loaded machine) and changed no outcome on the tuning half (60 ciphers each at
    150, 200 and 300 characters: the same 57, 60 and 59 solved), which has no such failures to fix."""

    chains: int = 32
    long_chains: int = 8
    long_letters: int = 160
    anneal_steps: int = 0
    t_start: float = 5.0
    t_end: float = 0.2
    kick: int = 6
    agree: int = 3
    patience: int = 10
    hop_temperature: float = 2.0
    max_climb: int = 400
    dictionary_stop: int = 2
    confirm_letters: int = 100


@dataclass(frozen=True)
class Solution:
    """A decryption: the plaintext, the key as ``{cipher symbol: plain letter}`` for the symbols in the text,
    the score, the confidence and its parts, and how the search went (``trace``: seconds, best score and
    the chains' mean score, at the start and after every round)."""

    kind: CipherKind
    plaintext: str
    key: dict[str, str]
    plain_of: np.ndarray
    score: float
    confidence: float
    share: float
    coverage: float
    agreement: int
    converged: bool
    consensus: float
    rounds: int
    evaluations: int
    seconds: float
    trace: list[tuple[float, float, float]] = field(default_factory=list)

    def solved(self, min_confidence: float = 0.5) -> bool:
        """Whether to trust the plaintext: the search converged on its own test, or, stopped by its time
        limit, its chains agree on the plaintext (``consensus``); and the confidence reaches
        ``min_confidence``. The CLI exits 1 and the job fails otherwise."""
        return (self.converged or self.consensus >= CONSENSUS) and self.confidence >= min_confidence

    @property
    def cipher_alphabet(self) -> str:
        """For one-for-one keys: the cipher letter of each plain letter a..z, upper case, ``.`` where the
        plain letter does not occur (so ``encipher --key`` with it reproduces the ciphertext)."""
        out = ["."] * 26
        for cipher, plain in self.key.items():
            if len(cipher) == 1 and cipher.isalpha():
                out[ALPHABET.index(plain)] = cipher.upper()
        return "".join(out)


@dataclass
class _Problem:
    kind: CipherKind
    symbols: int
    present: np.ndarray
    full: Scorer
    letters: Scorer
    permutation: bool
    decode: Callable[[np.ndarray], str]
    names: tuple[str, ...]
    words: list[str]
    letter_count: int
    occurrences: np.ndarray


def _problem(ciphertext: str, model: LanguageModel, kind: CipherKind) -> _Problem:
    if kind == CipherKind.AUTO:
        kind = detect_kind(ciphertext)
    letters_only = replace(model, weights=replace(model.weights, word=0.0))
    if kind == CipherKind.HOMOPHONIC:
        text = SymbolText.read(ciphertext)
        symbols = len(text.symbols)
        full = Scorer.for_codes(text.codes, model, spaced=False, symbols=symbols)
        return _Problem(
            kind,
            symbols,
            np.arange(symbols),
            full,
            full,
            False,
            text.decode,
            text.symbols,
            [],
            len(text.codes),
            np.bincount(text.codes, minlength=symbols),
        )
    cipher = Cryptogram.read(ciphertext, spaced=kind == CipherKind.CRYPTOGRAM)
    full = Scorer.for_cryptogram(cipher, model)
    letters = Scorer.for_cryptogram(cipher, letters_only) if cipher.spaced else full
    return _Problem(
        kind,
        26,
        cipher.present,
        full,
        letters,
        True,
        cipher.decode,
        tuple(ALPHABET),
        list(cipher.words) if cipher.spaced else [],
        len(cipher.letters),
        np.bincount(cipher.letters, minlength=26),
    )


def _moves(problem: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """The neighbourhood as (first, second) symbol pairs: swaps for one-for-one keys (each unordered pair
    once), new letters for homophonic ones (second = the letter, first = the symbol)."""
    if problem.permutation:
        present = set(problem.present.tolist())
        pairs = [(a, b) for a in problem.present for b in range(26) if b != a and not (b in present and b < a)]
        array = np.array(pairs, dtype=np.int64)
        return array[:, 0], array[:, 1]
    first = np.repeat(problem.present, 26)
    return first, np.tile(np.arange(26), len(problem.present))


class _Climber:
    """Heat-bath steps over the full neighbourhood for every chain of a :class:`ScoreState` at once."""

    def __init__(self, problem: _Problem, rng: np.random.Generator) -> None:
        self.problem = problem
        self.rng = rng
        self.first, self.second = _moves(problem)
        self.evaluations = 0

    def step(self, state: ScoreState, temperature: float, active: np.ndarray | None = None) -> np.ndarray:
        """One heat-bath step of the chains in ``active`` (default all); returns the chains that moved."""
        active = np.arange(len(state.scores)) if active is None else active
        chains, moves = len(active), len(self.first)
        chain = np.repeat(active, moves)
        first, second = np.tile(self.first, chains), np.tile(self.second, chains)
        if self.problem.permutation:
            scores = state.propose(chain, first, state.plain_of[chain, second], second, state.plain_of[chain, first])
        else:
            scores = state.propose(chain, first, second, first, second)
        self.evaluations += len(chain)
        delta = (scores - state.scores[chain]).reshape(chains, moves)
        if temperature > 0:
            logits = np.concatenate([delta / temperature, np.zeros((chains, 1))], axis=1)
            pick = np.argmax(logits + self.rng.gumbel(size=logits.shape), axis=1)
        else:
            best = np.argmax(delta, axis=1)
            pick = np.where(delta[np.arange(chains), best] > 1e-9, best, moves)
        moving = np.flatnonzero(pick < moves)
        state.move(moving * moves + pick[moving], scores)
        return active[moving]

    def climb(self, state: ScoreState, temperatures: np.ndarray, limit: int) -> None:
        """Anneal through ``temperatures``, then steepest ascent to a local optimum. A chain with no
        improving move stays put for good, so it leaves the batch: late steps only pay for the few chains
        still climbing."""
        for t in temperatures:
            self.step(state, float(t))
        active = None
        for _ in range(limit):
            active = self.step(state, 0.0, active)
            if len(active) == 0:
                break


def _random_keys(problem: _Problem, count: int, rng: np.random.Generator) -> np.ndarray:
    if problem.permutation:
        return np.argsort(rng.random((count, 26)), axis=1)
    weights = ENGLISH_FREQUENCY / ENGLISH_FREQUENCY.sum()
    return rng.choice(26, size=(count, problem.symbols), p=weights)


def _kicked(problem: _Problem, keys: np.ndarray, kick: int, rng: np.random.Generator) -> np.ndarray:
    keys = keys.copy()
    for row in keys:
        for _ in range(int(rng.integers(2, 2 + kick))):
            a = int(rng.choice(problem.present))
            if problem.permutation:
                b = int(rng.integers(26))
                row[[a, b]] = row[[b, a]]
            else:
                row[a] = int(rng.integers(26))
    return keys


def solve(
    ciphertext: str,
    model: LanguageModel,
    kind: CipherKind | str = CipherKind.AUTO,
    time_limit: float = 10.0,
    seed: int = 0,
    search: Search | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    stop: Callable[[], bool] | None = None,
    homophonic_search: HomophonicSearch | None = None,
) -> Solution:
    """Decipher ``ciphertext`` (a cryptogram, patristocrat or homophonic cipher; ``auto`` detects which).

    Homophonic ciphers go to the annealed Gibbs sampler of :mod:`.homophonic` (knobs: ``homophonic_search``);
    the others to the search described in this module (knobs: ``search``).

    ``progress(seconds, best score, rounds)`` is called after every round; ``stop()`` returning true ends
    the search early (a cancelled job). Deterministic for a given seed as long as neither the time limit
    nor ``stop`` is what ends the search.
    """
    if time_limit <= 0:
        raise InputError(f"time limit must be positive, got {time_limit:g} s")
    search = search or Search()
    problem = _problem(ciphertext, model, CipherKind(kind))
    if problem.kind == CipherKind.HOMOPHONIC:
        began = clock()
        found = homophonic.search(
            SymbolText.read(ciphertext), model, time_limit, seed, homophonic_search, progress, clock, stop
        )
        return _solution(
            problem,
            model,
            found.key,
            found.score,
            found.optima,
            found.agreement,
            found.converged,
            found.ends,
            found.batches,
            found.evaluations,
            clock() - began,
            found.trace,
        )
    rng = np.random.default_rng(seed)
    climber = _Climber(problem, rng)
    start = clock()
    temperatures = search.t_start * (search.t_end / search.t_start) ** np.linspace(0, 1, search.anneal_steps)
    chains = search.long_chains if problem.letter_count >= search.long_letters else search.chains
    confirm = problem.letter_count >= search.confirm_letters

    def population() -> ScoreState:
        """Fresh chains from random keys, each climbed to a local optimum of the full score."""
        state = ScoreState.start(problem.letters, _random_keys(problem, chains, rng))
        if not trace:
            initial = problem.full.scores(state.plain_of)
            trace.append((0.0, float(initial.max()), float(initial.mean())))
        climber.climb(state, temperatures, search.max_climb)
        if problem.letters is not problem.full:
            state = ScoreState.start(problem.full, state.plain_of)
        climber.climb(state, np.zeros(0), search.max_climb)
        return state

    trace: list[tuple[float, float, float]] = []
    state = population()
    best, best_score = state.plain_of[0], -np.inf
    # Each population is an independent search with its own best key, patience and agreement test.
    run_best, run_score, run_rounds, earlier = best, -np.inf, 0, -np.inf
    optima: dict[bytes, float] = {}
    ends: list[np.ndarray] = []  # the final keys of every population's chains, for the consensus
    rounds = stale = 0
    hits = 0
    while True:
        rounds += 1
        run_rounds += 1
        for key, score in zip(state.plain_of, state.scores, strict=True):
            optima[key[problem.present].tobytes()] = float(score)
        top = int(np.argmax(state.scores))
        if state.scores[top] > run_score + 1e-9:
            run_best, run_score, stale = state.plain_of[top].copy(), float(state.scores[top]), 0
        else:
            stale += 1
        if run_score > best_score + 1e-9:
            best, best_score = run_best, run_score
        hits = int((state.plain_of[:, problem.present] == run_best[problem.present]).all(axis=1).sum())
        elapsed = clock() - start
        trace.append((elapsed, best_score, float(state.scores.mean())))
        if progress is not None:
            progress(elapsed, best_score, rounds)
        settled = stale >= max(search.patience, run_rounds - stale)
        # Below about 50 letters many keys spell dictionary words (the unicity distance is ~28 letters).
        if search.dictionary_stop and stale >= search.dictionary_stop and problem.words and problem.letter_count >= 50:
            settled = settled or _coverage(problem, model, run_best) == 1.0
        # A population that settles on a key better than every earlier population's may have settled on a
        # strong false optimum: a fresh population must fail to beat it before the search stops.
        converged = (hits >= search.agree or settled) and not (confirm and run_score > earlier + 1e-9)
        if converged or elapsed >= time_limit or (stop is not None and stop()):
            break
        if hits >= search.agree or settled:
            ends.append(state.plain_of.copy())
            state, run_score, run_rounds, stale, earlier = population(), -np.inf, 0, 0, best_score
            continue
        trial = ScoreState.start(problem.full, _kicked(problem, state.plain_of, search.kick, rng))
        climber.climb(trial, np.zeros(0), search.max_climb)
        accept = np.log(rng.random(len(trial.scores))) < (trial.scores - state.scores) / search.hop_temperature
        state = ScoreState.start(problem.full, np.where(accept[:, None], trial.plain_of, state.plain_of))
    ends.append(state.plain_of.copy())
    return _solution(
        problem,
        model,
        best,
        best_score,
        optima,
        hits,
        converged,
        np.concatenate(ends),
        rounds,
        climber.evaluations,
        clock() - start,
        trace,
    )


def _coverage(problem: _Problem, model: LanguageModel, key: np.ndarray) -> float:
    """Share of the decoded words that are vocabulary words (1 for texts without word boundaries)."""
    if not problem.words:
        return 1.0
    decoded = ["".join(ALPHABET[key[ALPHABET.index(c)]] for c in word) for word in problem.words]
    _, known = model.words.lookup(word_codes(decoded))
    return float(known.mean())


def _consensus(problem: _Problem, best: np.ndarray, ends: np.ndarray) -> float:
    """Share of the text's letters that the best key and the second-closest chain end decode alike.

    The closest end is passed over because it is, as a rule, the chain that found the best key; where two
    chains or more hold it, the second-closest agrees on every letter. Fewer than two chain ends: 0."""
    if len(ends) < 2:
        return 0.0
    present = problem.present
    same = ends[:, present] == best[present]
    weights = problem.occurrences[present].astype(np.float64)
    agreement = np.sort(same @ weights / weights.sum())
    return float(agreement[-2])


def _solution(
    problem: _Problem,
    model: LanguageModel,
    best: np.ndarray,
    score: float,
    optima: dict[bytes, float],
    hits: int,
    converged: bool,
    ends: np.ndarray,
    rounds: int,
    evaluations: int,
    seconds: float,
    trace: list[tuple[float, float, float]],
) -> Solution:
    values = np.array(list(optima.values()))
    temperature = model.weights.temperature
    share = float(1.0 / np.exp((values - score) / temperature).sum())
    plaintext = problem.decode(best)
    coverage = _coverage(problem, model, best)
    key = {problem.names[s]: ALPHABET[int(best[s])] for s in problem.present}
    unicity = min(1.0, problem.letter_count / UNICITY_LETTERS)
    consensus = _consensus(problem, best, ends)
    confidence = share * coverage * unicity * (1.0 if converged else consensus)
    return Solution(
        problem.kind,
        plaintext,
        key,
        best,
        score,
        confidence,
        share,
        coverage,
        hits,
        converged,
        consensus,
        rounds,
        evaluations,
        seconds,
        trace,
    )
