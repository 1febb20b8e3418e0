"""The homophonic solver: incremental bookkeeping checked against full rescoring, and real ciphers broken.

The plaintext was written for these tests (no model saw it); keys and seeds are fixed and the time limit is
far above what the search needs, so the runs end on their own agreement test and are deterministic."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from mcmc.texts import LIGHTHOUSE as PLAIN
from sudoless.mcmc.cipher import LanguageModel, solve
from sudoless.mcmc.cipher import substitution as sub
from sudoless.mcmc.cipher.homophonic import HomophonicSearch, SymbolGibbs, search
from sudoless.mcmc.cipher.scoring import Scorer
from sudoless.mcmc.cipher.text import ALPHABET, SymbolText

LETTERS = "".join(c for c in PLAIN.lower() if c.isalpha())


def _cipher(seed: int) -> tuple[str, dict[str, list[str]]]:
    rng = np.random.default_rng(seed)
    key = sub.homophonic_key(rng, 54)
    return sub.encipher_homophonic(PLAIN, key, rng), key


def test_gibbs_sweeps_keep_codes_and_scores_exact(english: LanguageModel) -> None:
    text = SymbolText.read(_cipher(3)[0])
    sampler = SymbolGibbs(text, english)
    rng = np.random.default_rng(0)
    keys = sampler.random_keys(4, rng)
    codes = sampler.codes(keys)
    for temperature in (5.0, 1.0, 0.0):
        sampler.sweep(keys, codes, temperature, rng)
    assert np.array_equal(codes, sampler.codes(keys))
    full = Scorer.for_codes(text.codes, english, spaced=False, symbols=len(text.symbols))
    assert np.allclose(sampler.scores(codes), full.scores(keys), rtol=1e-6)


def test_greedy_sweep_never_lowers_the_score(english: LanguageModel) -> None:
    sampler = SymbolGibbs(SymbolText.read(_cipher(4)[0]), english)
    rng = np.random.default_rng(1)
    keys = sampler.random_keys(3, rng)
    codes = sampler.codes(keys)
    before = sampler.scores(codes)
    sampler.sweep(keys, codes, 0.0, rng)
    assert (sampler.scores(codes) >= before - 1e-6).all() and (sampler.scores(codes) > before).any()


def test_sampling_sweeps_spread_crowded_letters(english: LanguageModel) -> None:
    text = SymbolText.read(_cipher(6)[0])
    crowded = np.full((3, len(text.symbols)), ALPHABET.index("e"))
    charged = SymbolGibbs(text, english, ioc_weight=1e3, ioc_limit=0.08)
    plain = SymbolGibbs(text, english, ioc_weight=0.0)
    assert (charged.crowding(crowded) > 0).all()
    for sampler in (charged, plain):
        keys = crowded.copy()
        codes = sampler.codes(keys)
        sampler.sweep(keys, codes, 0.05, np.random.default_rng(2))
        assert np.array_equal(codes, sampler.codes(keys))
        counts = sampler.letter_counts(keys)
        assert np.array_equal(counts.sum(axis=1), np.full(3, len(text.codes)))
        ioc = (counts**2).sum(axis=1) / len(text.codes) ** 2
        # The charge outweighs every n-gram score here, so one sweep must bring the letters under the limit.
        assert (ioc <= 0.08).all() if sampler is charged else (ioc > 0.08).any()
    spread = np.broadcast_to(np.arange(len(text.symbols)) % 26, crowded.shape)
    assert (charged.crowding(spread) < charged.crowding(crowded)).all()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_homophonic_cipher_of_400_letters_is_broken(english: LanguageModel, seed: int) -> None:
    ciphertext, key = _cipher(seed)
    assert len(LETTERS) >= 400 and len({c for c in ciphertext if not c.isspace()}) > 40
    solution = solve(ciphertext, english, time_limit=300, seed=0)
    assert solution.kind == "homophonic"
    right = np.mean([a == b for a, b in zip(solution.plaintext, LETTERS, strict=True)])
    assert right >= 0.97
    letter_of = {s: p for p, symbols in key.items() for s in symbols}
    assert np.mean([letter_of[s] == p for s, p in solution.key.items()]) >= 0.9
    assert solution.agreement >= 2 and solution.confidence > 0.5 and solution.converged and solution.solved()


def test_a_search_cut_short_is_not_reported_solved(english: LanguageModel) -> None:
    """Cut after its first 20 sweeps, the search's best key is far above every other chain's, so the score
    share reads 1.0 on a wrong key; the chains' disagreement is what shows it is not solved."""
    ciphertext, _ = _cipher(13)
    # One "second" a clock reading: the search stops at its first time check, after 20 sweeps, on any machine.
    solution = solve(ciphertext, english, time_limit=1, seed=0, clock=itertools.count().__next__)
    right = np.mean([a == b for a, b in zip(solution.plaintext, LETTERS, strict=True)])
    assert right < 0.5 and solution.share > 0.99
    assert not solution.converged and solution.consensus < 0.95 and not solution.solved()
    assert solution.confidence <= solution.consensus


def test_search_is_reproducible_and_respects_stop(english: LanguageModel) -> None:
    text = SymbolText.read(_cipher(5)[0])
    quick = HomophonicSearch(chains=4, sweeps=20, agree=99)

    def ticks() -> Callable[[], float]:
        # A clock that advances one "second" a reading: the time limit then bounds the work, not the machine.
        return itertools.count().__next__

    a = search(text, english, time_limit=12, seed=7, options=quick, clock=ticks())
    b = search(text, english, time_limit=12, seed=7, options=quick, clock=ticks())
    assert np.array_equal(a.key, b.key) and a.score == b.score and a.batches == b.batches >= 2
    assert [s for _, s, _ in a.trace] == sorted(s for _, s, _ in a.trace)
    assert all(0 <= k < len(ALPHABET) for k in a.key)
    stopped = search(text, english, time_limit=300, seed=7, options=quick, stop=lambda: True)
    assert stopped.batches == 1
