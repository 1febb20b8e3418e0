"""The language model that scores candidate decryptions: letter n-grams plus word unigrams and bigrams.

Letter models alone cannot reach exact decryptions of short ciphers: with a symspell-derived quadgram
model the true key is often not even a local maximum below 150 characters (rare letters such as k, w, x,
v, b, g, j, q swap freely). Words fix them. So the score of a spaced plaintext is

    letter_weight * sum log P(letter | previous letters)
  + word_weight * sum (log P(word) + bigram bonus, or oov_logp for an unknown word)

and an unspaced plaintext (patristocrat, homophonic) is scored by its letters only, with a separate table
that knows no boundary symbol. The weights were set by measurement on held-out text (see
``benchmarks/decipher.py``); :class:`Weights` keeps them together.

The default English model is built from the two frequency lists that the ``symspellpy`` package ships:
82,834 words and 242,342 word pairs. The pair counts are on a different scale from the word counts (the
left marginal of "of" in the pair list is about 40 times its word count), so each list is normalised on
its own and conditionals come from the pair list alone.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sudoless.errors import InputError
from sudoless.extras import install_hint
from sudoless.mcmc.cipher import ngrams
from sudoless.mcmc.cipher.text import spaced_codes, word_list
from sudoless.mcmc.cipher.words import WordTable, letter_matrix

FORMAT_VERSION = 1
# Bumped when the default English model changes (2: unspaced 5-grams), so stale caches are rebuilt.
DEFAULT_REVISION = 2
SYMSPELL_WORDS = "frequency_dictionary_en_82_765.txt"
SYMSPELL_PAIRS = "frequency_bigramdictionary_en_243_342.txt"


@dataclass(frozen=True)
class Weights:
    """How the parts of the score combine; see the module docstring. ``temperature`` is the scale of score
    differences the sampler treats as "one unit of surprise" at the end of annealing."""

    letter: float = 1.0
    word: float = 1.0
    oov_logp: float = -14.0
    oov_per_letter: float = 0.0
    temperature: float = 1.0


@dataclass(frozen=True)
class LanguageModel:
    """Letter tables for spaced (27 symbols) and unspaced (26) text, and the word table.

    ``spaced`` is indexed by the base-27 code of ``spaced_order`` symbols (0 = boundary, 1..26 letters) and
    holds ``log P(last | previous)``; ``unspaced`` likewise in base 26.
    """

    spaced_order: int
    spaced: np.ndarray
    unspaced_order: int
    unspaced: np.ndarray
    words: WordTable
    weights: Weights = field(default_factory=Weights)
    source: str = ""

    @classmethod
    def from_symspell(
        cls, spaced_order: int = 4, unspaced_order: int = 5, lam: float = 0.7, weights: Weights | None = None
    ) -> LanguageModel:
        """The default English model, built from the frequency lists shipped in ``symspellpy``.

        Unspaced text gets 5-grams: on 400-symbol homophonic ciphers of held-out text, the 4-gram model
        scored wrong decryptions above the true one in a third of the cases, the 5-gram model in few."""
        folder = _symspell_folder()
        fields = (folder / SYMSPELL_WORDS).read_text(encoding="utf-8").split()
        counts: defaultdict[str, float] = defaultdict(float)
        for raw, count in zip(fields[0::2], fields[1::2], strict=True):
            word = raw.replace("'", "")
            if word.isascii() and word.isalpha():
                counts[word] += float(count)
        fields = (folder / SYMSPELL_PAIRS).read_text(encoding="utf-8").split()
        pair_counts: defaultdict[tuple[str, str], float] = defaultdict(float)
        for first, second, count in zip(fields[0::3], fields[1::3], fields[2::3], strict=True):
            if first in counts and second in counts:
                pair_counts[(first, second)] += float(count)
        return cls.from_counts(
            counts,
            pair_counts,
            spaced_order,
            unspaced_order,
            lam,
            weights,
            source=f"symspellpy {SYMSPELL_WORDS} + {SYMSPELL_PAIRS}",
        )

    @classmethod
    def from_counts(
        cls,
        counts: dict[str, float],
        pair_counts: dict[tuple[str, str], float],
        spaced_order: int = 4,
        unspaced_order: int = 5,
        lam: float = 0.7,
        weights: Weights | None = None,
        source: str = "",
    ) -> LanguageModel:
        """A model from word and word-pair counts alone: letter statistics are derived from them exactly."""
        table = WordTable.build(counts, pair_counts)
        probs = np.exp(table.logp.astype(np.float64))
        index = {w: i for i, w in enumerate(table.words)}
        pairs = np.array([(index[a], index[b]) for a, b in pair_counts], dtype=np.int64).reshape(-1, 2)
        pair_probs = np.array(list(pair_counts.values()), dtype=np.float64)
        matrix = letter_matrix(table.words)
        lengths = (matrix > 0).sum(axis=1)
        spaced_tokens = np.hstack([matrix, np.zeros((len(matrix), 1), dtype=np.int64)])
        spaced = ngrams.derive_counts(spaced_tokens, lengths + 1, probs, pairs, pair_probs, spaced_order, 27, lam)
        unspaced = ngrams.derive_counts(matrix - 1, lengths, probs, pairs, pair_probs, unspaced_order, 26, lam)
        scale = 1e9
        return cls(
            spaced_order,
            ngrams.conditional_logprobs(spaced, spaced_order, 27, scale),
            unspaced_order,
            ngrams.conditional_logprobs(unspaced, unspaced_order, 26, scale),
            table,
            weights or Weights(),
            source,
        )

    @classmethod
    def from_corpus(
        cls,
        text: str,
        spaced_order: int = 4,
        unspaced_order: int = 4,
        min_count: int = 1,
        weights: Weights | None = None,
        source: str = "",
    ) -> LanguageModel:
        """A model counted from running text in any language written in a-z (other letters are dropped
        as boundaries): letter n-grams straight from the text, words and word pairs as they occur."""
        words = word_list(text)
        if len(words) < 2:
            raise InputError("the corpus has fewer than two words a-z; a language model needs running text")
        counts = Counter(words)
        pair_counts = Counter(zip(words, words[1:], strict=False))
        if min_count > 1:
            counts = Counter({w: c for w, c in counts.items() if c >= min_count})
            pair_counts = Counter({p: c for p, c in pair_counts.items() if p[0] in counts and p[1] in counts})
        if not counts:
            raise InputError(f"no word occurs {min_count} times in the corpus; lower --min-count")
        table = WordTable.build(dict(counts), dict(pair_counts))
        spaced_stream = spaced_codes(words)
        unspaced_stream = spaced_stream[spaced_stream > 0] - 1
        spaced = ngrams.count_stream(spaced_stream, spaced_order, 27)
        unspaced = ngrams.count_stream(unspaced_stream, unspaced_order, 26)
        return cls(
            spaced_order,
            ngrams.conditional_logprobs(spaced, spaced_order, 27),
            unspaced_order,
            ngrams.conditional_logprobs(unspaced, unspaced_order, 26),
            table,
            weights or Weights(),
            source or f"corpus of {len(words)} words",
        )

    def save(self, path: Path) -> None:
        """Write the model as one ``.npz`` file (no pickles, so loading a stranger's model is safe)."""
        meta = {
            "format": FORMAT_VERSION,
            "spaced_order": self.spaced_order,
            "unspaced_order": self.unspaced_order,
            "weights": asdict(self.weights),
            "source": self.source,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                meta=np.array(json.dumps(meta)),
                spaced=self.spaced,
                unspaced=self.unspaced,
                words=np.array("\n".join(self.words.words)),
                codes=self.words.codes,
                logp=self.words.logp,
                pair_keys=self.words.pair_keys,
                pair_bonus=self.words.pair_bonus,
            )

    @classmethod
    def load(cls, path: Path) -> LanguageModel:
        """Read a model written by :meth:`save`; a file that is not one raises :class:`InputError`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != FORMAT_VERSION:
                    raise InputError(
                        f"{path}: language model format {meta.get('format')} is not "
                        f"{FORMAT_VERSION}; rebuild it with 'sudoless mcmc lm build'"
                    )
                table = WordTable(
                    tuple(str(data["words"]).split("\n")),
                    data["codes"],
                    data["logp"],
                    data["pair_keys"],
                    data["pair_bonus"],
                )
                return cls(
                    int(meta["spaced_order"]),
                    data["spaced"],
                    int(meta["unspaced_order"]),
                    data["unspaced"],
                    table,
                    Weights(**meta["weights"]),
                    str(meta.get("source", "")),
                )
        except FileNotFoundError:
            raise InputError(f"{path}: no such language model file") from None
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a sudoless language model ({exc})") from None


def _symspell_folder() -> Path:
    spec = importlib.util.find_spec("symspellpy")
    if spec is None or not spec.submodule_search_locations:
        raise install_hint(
            "the default English model (symspellpy's word lists)",
            "mcmc",
            "symspellpy",
            otherwise="build a model from a corpus with 'sudoless mcmc lm build'",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_path(home: Path) -> Path:
    """Where the CLI caches the symspell-built model, so it is built once per SUDOLESS_HOME."""
    return home / "mcmc" / f"english-v{FORMAT_VERSION}-r{DEFAULT_REVISION}.npz"


def cached_default(home: Path) -> LanguageModel:
    """The default English model, read from the cache under ``home`` or built and cached there."""
    path = default_model_path(home)
    if path.exists():
        try:
            return LanguageModel.load(path)
        except InputError:
            path.unlink(missing_ok=True)
    model = LanguageModel.from_symspell()
    tmp = path.with_suffix(".tmp")
    model.save(tmp)
    tmp.replace(path)
    return model
