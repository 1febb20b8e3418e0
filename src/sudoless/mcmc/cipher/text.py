"""Texts as the cipher tools see them: letters, word boundaries, and everything else passed through.

Three kinds of ciphertext are understood:

* a *cryptogram* (ACA Aristocrat): letters substituted one for one, word boundaries, case and punctuation
  kept; apostrophes inside a word do not split it (``don't`` scores as ``dont``);
* a *patristocrat*: the same substitution with every non-letter removed, usually written in groups of five;
* a *homophonic* cipher: every non-blank character is a symbol, several symbols stand for one letter and
  there are no word boundaries (the Zodiac 408 kind).

Symbol codes used for scoring: in spaced texts 0 is a word boundary and 1..26 are letters; in unspaced
texts 0..25 are letters. Words are scored through these codes, never through Python strings, so the solver
can decode thousands of keys at once with NumPy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from sudoless.errors import InputError

ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_APOSTROPHES = "'\u2019"
_WORD = re.compile(r"[a-z]+(?:['\u2019][a-z]+)*")


class CipherKind(StrEnum):
    """What a ciphertext is; ``auto`` lets :func:`detect_kind` decide."""

    AUTO = "auto"
    CRYPTOGRAM = "cryptogram"
    PATRISTOCRAT = "patristocrat"
    HOMOPHONIC = "homophonic"


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces: apostrophes dropped, every other non-letter a boundary.

    This is the form language models are built from and benchmark plaintexts are cut from, so that a model
    and a text always agree on what a word is.
    """
    return " ".join(word_list(text))


def word_list(text: str) -> list[str]:
    """The ASCII words of ``text``, lower-cased, with inner apostrophes removed."""
    lowered = text.lower()
    return [re.sub(f"[{_APOSTROPHES}]", "", m.group(0)) for m in _WORD.finditer(lowered)]


def letter_indices(text: str) -> np.ndarray:
    """0..25 for every ASCII letter of ``text`` in order; everything else skipped."""
    raw = np.frombuffer(text.lower().encode("ascii", "ignore"), dtype=np.uint8)
    letters = raw[(raw >= 97) & (raw <= 122)]
    return (letters - 97).astype(np.int64)


def spaced_codes(words: list[str]) -> np.ndarray:
    """``_w1_w2_..._wk_`` as symbol codes (0 boundary, 1..26 letters), the stream a spaced model scores."""
    if not words:
        return np.zeros(1, dtype=np.int64)
    joined = "_" + "_".join(words) + "_"
    raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).astype(np.int64)
    return np.where(raw == ord("_"), 0, raw - 96)


def detect_kind(ciphertext: str) -> CipherKind:
    """Guess the cipher kind from its look.

    Unspaced text with symbols other than ASCII letters, or with upper and lower case mixed (distinct
    symbols, then), means homophonic; letters alone with no blanks or in groups of equal
    length (five, by convention) mean patristocrat; anything else is read as a cryptogram. Text without a
    single letter a-z is more likely a wrong file than a cipher, so it is an :class:`InputError` rather
    than a search that cannot succeed; a homophonic cipher written in digits and signs alone is read when
    its kind is given.
    """
    symbols = {c for c in ciphertext if not c.isspace()}
    if not symbols:
        raise InputError("the ciphertext is empty")
    letters = {c for c in symbols if c.isascii() and c.isalpha()}
    if not letters:
        raise InputError(
            "the ciphertext has no letters a-z to decipher (give the kind 'homophonic' for a "
            "cipher written in digits and signs)"
        )
    mixed_case = any(c.isupper() for c in letters) and any(c.islower() for c in letters)
    unspaced = _looks_unspaced(ciphertext.split())
    if unspaced and (symbols - letters or mixed_case):
        return CipherKind.HOMOPHONIC
    if unspaced:
        return CipherKind.PATRISTOCRAT
    return CipherKind.CRYPTOGRAM


def _looks_unspaced(groups: list[str]) -> bool:
    """One block, or blocks of one length except the last (5-letter groups, 17-symbol lines)."""
    if len(groups) <= 1:
        return True
    lengths = [len(g) for g in groups]
    return lengths[0] >= 5 and all(n == lengths[0] for n in lengths[:-1]) and lengths[-1] <= lengths[0]


@dataclass(frozen=True)
class Cryptogram:
    """A cryptogram or patristocrat ciphertext, read once into the arrays the solver scores.

    ``words`` are the cipher words (patristocrats have one, the whole letter stream); ``letters`` maps
    every cipher letter occurrence to 0..25.
    """

    text: str
    spaced: bool
    words: tuple[str, ...]
    letters: np.ndarray

    @classmethod
    def read(cls, ciphertext: str, spaced: bool) -> Cryptogram:
        letters = letter_indices(ciphertext)
        if letters.size == 0:
            raise InputError("the ciphertext has no letters a-z to decipher")
        words = tuple(word_list(ciphertext)) if spaced else ("".join(ALPHABET[i] for i in letters),)
        return cls(text=ciphertext, spaced=spaced, words=words, letters=letters)

    @property
    def present(self) -> np.ndarray:
        """Sorted cipher letters (0..25) that occur at least once."""
        return np.unique(self.letters)

    def codes(self) -> np.ndarray:
        """Symbol codes of the text as scored: spaced (0 = boundary) or unspaced (0..25)."""
        if self.spaced:
            return spaced_codes(list(self.words))
        return self.letters

    def decode(self, plain_of: np.ndarray) -> str:
        """The plaintext for ``plain_of[cipher letter] = plain letter``, with case and punctuation kept."""
        table = {}
        for c in range(26):
            p = ALPHABET[int(plain_of[c])]
            table[ord(ALPHABET[c])] = p
            table[ord(ALPHABET[c].upper())] = p.upper()
        if self.spaced:
            return self.text.translate(table)
        stream = "".join(ALPHABET[int(plain_of[c])] for c in self.letters)
        return stream


@dataclass(frozen=True)
class SymbolText:
    """A homophonic ciphertext: each non-blank character is one symbol; blanks and line breaks are layout."""

    text: str
    symbols: tuple[str, ...]
    codes: np.ndarray

    @classmethod
    def read(cls, ciphertext: str) -> SymbolText:
        chars = [c for c in ciphertext if not c.isspace()]
        if not chars:
            raise InputError("the ciphertext is empty")
        symbols = tuple(sorted(set(chars)))
        index = {s: i for i, s in enumerate(symbols)}
        return cls(text=ciphertext, symbols=symbols, codes=np.array([index[c] for c in chars], dtype=np.int64))

    def decode(self, plain_of: np.ndarray) -> str:
        """The letter stream for ``plain_of[symbol index] = plain letter`` (no boundaries: there are none)."""
        return "".join(ALPHABET[int(p)] for p in plain_of[self.codes])
