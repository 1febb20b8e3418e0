"""Cipher round trips, text handling, the language model's numbers and incremental scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sudoless.errors import InputError
from sudoless.mcmc.cipher import CipherKind, LanguageModel, detect_kind, encipher, normalise, parse_key
from sudoless.mcmc.cipher import substitution as sub
from sudoless.mcmc.cipher.scoring import Scorer, ScoreState
from sudoless.mcmc.cipher.text import ALPHABET, Cryptogram, SymbolText

KEY = "QWERTYUIOPASDFGHJKLZXCVBNM"
TEXT = 'Don\'t panic! The 42 answers, as ever, were "almost" right; Zebra-crossings & jukeboxes.'


def inverse(key: str) -> np.ndarray:
    """plain_of[cipher letter] for a cipher alphabet."""
    plain_of = np.zeros(26, dtype=np.int64)
    for plain, cipher in enumerate(key.lower()):
        plain_of[ALPHABET.index(cipher)] = plain
    return plain_of


def test_cryptogram_round_trip_keeps_case_and_punctuation() -> None:
    ciphertext = encipher(TEXT, KEY)
    assert ciphertext.startswith("Rgf'z hqfoe! Zit 42")
    assert Cryptogram.read(ciphertext, spaced=True).decode(inverse(KEY)) == TEXT


def test_patristocrat_layout_and_round_trip() -> None:
    ciphertext = encipher(TEXT, KEY, spaced=False)
    groups = ciphertext.split()
    assert all(len(g) == 5 for g in groups[:-1]) and ciphertext.isupper()
    decoded = Cryptogram.read(ciphertext, spaced=False).decode(inverse(KEY))
    assert decoded == "".join(c for c in TEXT.lower() if c.isalpha() and c.isascii())
    assert detect_kind(ciphertext) == CipherKind.PATRISTOCRAT
    assert detect_kind(encipher(TEXT, KEY)) == CipherKind.CRYPTOGRAM


def test_homophonic_round_trip() -> None:
    rng = np.random.default_rng(1)
    key = sub.homophonic_key(rng, symbols=54)
    assert sum(len(v) for v in key.values()) == 54 and all(key.values())
    assert len(key["e"]) > len(key["z"])
    ciphertext = sub.encipher_homophonic(TEXT * 5, key, rng)
    text = SymbolText.read(ciphertext)
    letter_of = {s: ALPHABET.index(p) for p, symbols in key.items() for s in symbols}
    plain_of = np.array([letter_of[s] for s in text.symbols])
    assert text.decode(plain_of) == "".join(c for c in (TEXT * 5).lower() if c.isalpha() and c.isascii())
    assert detect_kind(ciphertext) == CipherKind.HOMOPHONIC


@pytest.mark.parametrize("plain", ["", " \n", "42 + 7 = 49!"])
def test_a_plaintext_without_letters_is_an_input_error(plain: str) -> None:
    rng = np.random.default_rng(0)
    for make in (
        lambda: encipher(plain, KEY),
        lambda: encipher(plain, KEY, spaced=False),
        lambda: sub.encipher_homophonic(plain, sub.homophonic_key(rng), rng),
    ):
        with pytest.raises(InputError, match="plaintext is empty" if not plain.strip() else "no letters a-z"):
            make()


def test_a_ciphertext_without_letters_is_an_input_error_unless_its_kind_is_given() -> None:
    with pytest.raises(InputError, match="no letters a-z"):
        detect_kind("3141592 6535 8979 +-*/")
    assert len(SymbolText.read("3141592 6535 8979 +-*/").symbols) == 13  # digits and signs, as homophonic


@pytest.mark.parametrize("bad", ["ABC", "QWERTYUIOPASDFGHJKLZXCVBNQ", "QWERTYUIOPASDFGHJKLZXCVB1M"])
def test_bad_keys_are_input_errors(bad: str) -> None:
    with pytest.raises(InputError, match="cipher alphabet"):
        parse_key(bad)


def test_normalise() -> None:
    assert normalise("It's 3 o'clock -- TIME   to go!") == "its oclock time to go"
    with pytest.raises(InputError):
        Cryptogram.read("1234 !!", spaced=True)


def test_letter_tables_are_normalised_conditionals(english: LanguageModel) -> None:
    spaced = np.exp(english.spaced.astype(np.float64)).reshape(-1, 27).sum(axis=1)
    unspaced = np.exp(english.unspaced.astype(np.float64)).reshape(-1, 26).sum(axis=1)
    np.testing.assert_allclose(spaced, 1.0, atol=1e-5)
    np.testing.assert_allclose(unspaced, 1.0, atol=1e-5)


def test_word_table_scales(english: LanguageModel) -> None:
    words = english.words
    index = {w: i for i, w in enumerate(words.words)}
    assert "the" in index and "dont" in index and "don't" not in index
    probs = np.exp(words.logp.astype(np.float64))
    assert probs.sum() == pytest.approx(1.0, rel=1e-4)
    # The pair list is on a ~40x larger scale than the word list for "of"; bonuses come from the pair list
    # alone, so they stay modest: log(1 + P(w2|w1)/P(w2)) for a very common pair.
    of_the = words.pair_scores(np.array([index["of"]]), np.array([index["the"]]), np.array([True]))[0]
    the_of = words.pair_scores(np.array([index["the"]]), np.array([index["of"]]), np.array([True]))[0]
    assert 0.5 < of_the < 5 and 0 <= the_of < 0.1


def test_english_text_scores_better_than_shuffled(english: LanguageModel) -> None:
    plain = "the cat sat on the mat and looked out of the window at the rain"
    cipher = Cryptogram.read(encipher(plain, KEY), spaced=True)
    scorer = Scorer.for_cryptogram(cipher, english)
    right = scorer.scores(inverse(KEY)[None])[0]
    rng = np.random.default_rng(0)
    wrong = scorer.scores(np.array([rng.permutation(26) for _ in range(50)]))
    assert np.all(wrong < right - 20)


@pytest.mark.parametrize("kind", ["cryptogram", "patristocrat", "homophonic"])
def test_incremental_scores_equal_full_rescoring(english: LanguageModel, kind: str) -> None:
    rng = np.random.default_rng(7)
    plain = "we hold these truths to be self evident that all men are created equal " * 3
    if kind == "homophonic":
        text = SymbolText.read(sub.encipher_homophonic(plain, sub.homophonic_key(rng), rng))
        scorer = Scorer.for_codes(text.codes, english, spaced=False, symbols=len(text.symbols))
    else:
        scorer = Scorer.for_cryptogram(
            Cryptogram.read(encipher(plain, KEY, kind == "cryptogram"), kind == "cryptogram"), english
        )
    keys = rng.integers(0, 26, size=(6, scorer.symbols))
    state = ScoreState.start(scorer, keys)
    for _ in range(200):
        chain = np.arange(6)
        first = rng.integers(scorer.symbols, size=6)
        second = rng.integers(scorer.symbols, size=6)
        new_first, new_second = rng.integers(26, size=6), rng.integers(26, size=6)
        new_second = np.where(first == second, new_first, new_second)
        proposed = state.propose(chain, first, new_first, second, new_second)
        expected = state.plain_of.copy()
        expected[chain, second] = new_second
        expected[chain, first] = new_first
        np.testing.assert_allclose(proposed, scorer.scores(expected), rtol=0, atol=1e-8)
        state.commit(rng.random(6) < 0.5, proposed)
    np.testing.assert_allclose(state.scores, scorer.scores(state.plain_of), rtol=0, atol=1e-8)


def test_corpus_model_save_and_load(tmp_path: Path) -> None:
    corpus = "el gato come pescado y el perro come carne; el gato duerme mucho y el perro corre " * 20
    model = LanguageModel.from_corpus(corpus, spaced_order=3, unspaced_order=3)
    assert "gato" in model.words.words
    path = tmp_path / "es.npz"
    model.save(path)
    loaded = LanguageModel.load(path)
    np.testing.assert_array_equal(loaded.spaced, model.spaced)
    assert loaded.words.words == model.words.words and loaded.spaced_order == 3
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(InputError, match="not a sudoless language model"):
        LanguageModel.load(tmp_path / "junk.npz")
    with pytest.raises(InputError, match="fewer than two words"):
        LanguageModel.from_corpus("¡!")
