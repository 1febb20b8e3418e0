"""Making ciphers: simple substitution (cryptograms and patristocrats) and homophonic substitution.

A simple key is written as its *cipher alphabet*: 26 letters, the cipher letter for plain a, b, ..., z
(``QWERTYUIOPASDFGHJKLZXCVBNM`` enciphers "a" as "q"). Case is kept and everything that is not an ASCII
letter passes through, so a cryptogram keeps its punctuation; a patristocrat keeps only the letters, upper
case, in groups of five (the ACA's layout).

A homophonic key gives each plain letter several symbols, about in proportion to the letter's frequency in
English, so that symbol frequencies come out nearly flat; each occurrence of a letter picks one of its
symbols at random. The text loses its word boundaries and is laid out 17 symbols a line, like the Zodiac
408 cipher.
"""

from __future__ import annotations

import numpy as np

from sudoless.errors import InputError
from sudoless.mcmc.cipher.text import ALPHABET, letter_indices

HOMOPHONE_SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-*/=<>#%&@$?!^~"
ENGLISH_FREQUENCY = np.array(
    [
        8.2,
        1.5,
        2.8,
        4.3,
        12.7,
        2.2,
        2.0,
        6.1,
        7.0,
        0.15,
        0.77,
        4.0,
        2.4,
        6.7,
        7.5,
        1.9,
        0.095,
        6.0,
        6.3,
        9.1,
        2.8,
        0.98,
        2.4,
        0.15,
        2.0,
        0.074,
    ]
)


def random_key(rng: np.random.Generator) -> str:
    """A uniformly random cipher alphabet (self-mappings allowed, as in a uniformly random permutation)."""
    return "".join(ALPHABET[i] for i in rng.permutation(26)).upper()


def parse_key(text: str) -> str:
    """Check a cipher alphabet: 26 distinct letters a-z in any case; returns it upper case."""
    key = text.strip().upper()
    if len(key) != 26 or not key.isascii() or not key.isalpha() or len(set(key)) != 26:
        raise InputError(
            f"key {text!r} is not a cipher alphabet: it needs 26 distinct letters A-Z, the cipher "
            "letter for each plain letter a..z in order"
        )
    return key


def plain_letters(text: str) -> np.ndarray:
    """The letters of a plaintext as 0..25; a text without a letter a-z is an :class:`InputError`, since its
    ciphertext would give nothing to decipher and its key nothing to check."""
    letters = letter_indices(text)
    if letters.size == 0:
        raise InputError(
            "the plaintext is empty" if not text.strip() else "the plaintext has no letters a-z to encipher"
        )
    return letters


def encipher(text: str, key: str, spaced: bool = True) -> str:
    """``text`` enciphered with the cipher alphabet ``key``: case and punctuation kept when ``spaced``,
    otherwise the letters alone, upper case, in groups of five, ten groups a line."""
    key = parse_key(key)
    letters = plain_letters(text)
    if spaced:
        table = {ord(p): c.lower() for p, c in zip(ALPHABET, key, strict=True)}
        table.update({ord(p.upper()): c for p, c in zip(ALPHABET, key, strict=True)})
        return text.translate(table)
    stream = "".join(key[i] for i in letters)
    groups = [stream[i : i + 5] for i in range(0, len(stream), 5)]
    lines = [" ".join(groups[i : i + 10]) for i in range(0, len(groups), 10)]
    return "\n".join(lines) + ("\n" if lines else "")


def homophonic_key(rng: np.random.Generator, symbols: int = 54) -> dict[str, list[str]]:
    """Plain letter -> its symbols: every letter gets one, the rest go out by largest remainder of
    English letter frequency, and the symbols are shuffled."""
    if not 26 <= symbols <= len(HOMOPHONE_SYMBOLS):
        raise InputError(f"a homophonic key needs 26 to {len(HOMOPHONE_SYMBOLS)} symbols, not {symbols}")
    share = ENGLISH_FREQUENCY / ENGLISH_FREQUENCY.sum() * (symbols - 26)
    counts = np.floor(share).astype(int) + 1
    remainder = share - np.floor(share)
    for i in np.argsort(-remainder)[: symbols - counts.sum()]:
        counts[i] += 1
    pool = list(np.array(list(HOMOPHONE_SYMBOLS[:symbols]))[rng.permutation(symbols)])
    key: dict[str, list[str]] = {}
    for letter, n in zip(ALPHABET, counts, strict=True):
        key[letter], pool = [str(s) for s in pool[:n]], pool[n:]
    return key


def encipher_homophonic(text: str, key: dict[str, list[str]], rng: np.random.Generator, width: int = 17) -> str:
    """The letters of ``text`` with each occurrence replaced by one of its letter's symbols at random."""
    missing = [p for p in ALPHABET if not key.get(p)]
    if missing:
        raise InputError(f"homophonic key has no symbol for {', '.join(missing)}")
    out = [key[ALPHABET[i]][int(rng.integers(len(key[ALPHABET[i]])))] for i in plain_letters(text)]
    lines = ["".join(out[i : i + width]) for i in range(0, len(out), width)]
    return "\n".join(lines) + ("\n" if lines else "")
