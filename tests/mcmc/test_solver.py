"""Deciphering fixed ciphers. The texts were written for these tests (so no model saw them), the keys and
seeds are fixed, and the time limit is far above what the search needs, so every run stops on its own
convergence test and is deterministic: a failure here is a regression, not bad luck. The work done is
bounded by counting score evaluations, which, unlike seconds, does not depend on the machine's load."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sudoless.errors import InputError
from sudoless.mcmc.cipher import LanguageModel, encipher, solve
from sudoless.mcmc.cipher import substitution as sub
from sudoless.mcmc.cipher.solver import Search

TEXTS = [
    "When the river rose in the spring, the old miller walked down to the bank every morning to look at the "
    "water. He had seen many floods, and he knew that the first warm rain on the snow in the hills would "
    "bring the worst of them within two days.",
    "Most people who keep a garden learn to be patient. Seeds that go into the ground in April may not show "
    "a green leaf for weeks, and a cold night in May can undo a month of careful work. Still, every year we "
    "plant again, because the first tomato of summer is worth it.",
    "The committee met on Thursday afternoon to discuss the budget for next year. After a long debate about "
    "the cost of the new library building, the members agreed to delay the final vote until they could hear "
    "from the city engineers.",
]
KEYS = ["XQZMWLRTPCAVEHYDUONSJKBGFI", "PHQGIUMEAYLNOFDXJKRCVSTZWB", "MNBVCXZLKJHGFDSAPOIUYTREWQ"]
BUDGET = 3_000_000  # score evaluations, about 10 s on this machine unloaded


@pytest.mark.parametrize("index", range(3))
def test_cryptograms_of_200_plus_characters_come_out_exactly(english: LanguageModel, index: int) -> None:
    plain = TEXTS[index]
    assert len(plain) >= 200
    solution = solve(encipher(plain, KEYS[index]), english, time_limit=300, seed=0)
    assert solution.plaintext == plain
    assert solution.evaluations < BUDGET
    assert solution.confidence > 0.5 and solution.converged and solution.consensus >= 0.95 and solution.solved()
    used = {c for c in plain.lower() if c.isalpha()}
    assert all(solution.cipher_alphabet[ord(p) - 97] == KEYS[index][ord(p) - 97] for p in used)


def test_a_search_ended_by_its_time_limit_is_judged_by_its_chains_agreement(english: LanguageModel) -> None:
    # One "second" a clock reading: the limit ends the search after its first round, before any stopping test.
    plain = TEXTS[1]
    solution = solve(encipher(plain, KEYS[1]), english, time_limit=1, seed=0, clock=itertools.count().__next__)
    assert solution.rounds == 1 and not solution.converged
    assert solution.confidence == pytest.approx(solution.share * solution.coverage * solution.consensus)
    assert solution.solved() == (solution.consensus >= 0.95 and solution.confidence >= 0.5)
    finished = solve(encipher(plain, KEYS[1]), english, time_limit=300, seed=0)
    assert finished.converged and finished.solved() and finished.plaintext == plain


def test_a_settled_search_is_confirmed_by_a_fresh_population(english: LanguageModel) -> None:
    ciphertext = encipher(TEXTS[2], KEYS[2])
    alone = solve(ciphertext, english, time_limit=300, seed=3, search=Search(confirm_letters=10**9))
    confirmed = solve(ciphertext, english, time_limit=300, seed=3, search=Search(confirm_letters=100))
    # Same seed: the first population runs as before, then a second one must fail to beat its key.
    assert confirmed.rounds > alone.rounds and confirmed.score >= alone.score
    assert confirmed.plaintext == alone.plaintext == TEXTS[2]


def test_patristocrat(english: LanguageModel) -> None:
    plain = TEXTS[0] + " " + TEXTS[1]
    letters = "".join(c for c in plain.lower() if c.isalpha())
    solution = solve(encipher(plain, KEYS[1], spaced=False), english, time_limit=300, seed=0)
    assert solution.kind == "patristocrat"
    right = np.mean([a == b for a, b in zip(solution.plaintext, letters, strict=True)])
    assert right >= 0.95


def test_homophonic_runs_and_reports(english: LanguageModel) -> None:
    rng = np.random.default_rng(0)
    ciphertext = sub.encipher_homophonic(TEXTS[2], sub.homophonic_key(rng), rng)
    solution = solve(ciphertext, english, time_limit=2, seed=0)
    assert solution.kind == "homophonic"
    assert len(solution.plaintext) == sum(c.isalpha() for c in TEXTS[2])
    assert set(solution.key) == {c for c in ciphertext if not c.isspace()}


def test_seed_reproducibility_and_trace(english: LanguageModel) -> None:
    ciphertext = encipher(TEXTS[2], KEYS[0])
    a = solve(ciphertext, english, time_limit=300, seed=5)
    b = solve(ciphertext, english, time_limit=300, seed=5)
    assert a.plaintext == b.plaintext and a.score == b.score and a.rounds == b.rounds
    best = [s for _, s, _ in a.trace[1:]]
    assert best == sorted(best) and a.trace[0][0] == 0 and a.trace[0][1] < best[0]


def test_stop_hook_and_bad_arguments(english: LanguageModel) -> None:
    solution = solve(encipher(TEXTS[0], KEYS[0]), english, time_limit=300, seed=0, stop=lambda: True)
    assert solution.rounds == 1
    with pytest.raises(InputError):
        solve("", english)
    with pytest.raises(InputError):
        solve("abc", english, time_limit=0)


def test_a_word_longer_than_64_letters_is_scored(english: LanguageModel) -> None:
    # Line noise in a fortune cookie once crashed the word scorer (word codes hash 64 letters at most).
    noise = "supercalifragilisticexpialidocious" * 2
    plain = TEXTS[0] + " " + noise + " " + TEXTS[1]
    solution = solve(encipher(plain, KEYS[2]), english, time_limit=300, seed=0)
    assert len(noise) > 64
    assert solution.plaintext.startswith(TEXTS[0]) and solution.plaintext.endswith(TEXTS[1])
