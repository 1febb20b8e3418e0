"""``sudoless encipher``, ``sudoless decipher`` and ``sudoless mcmc lm build``: substitution ciphers.

NumPy and the cipher package are imported inside the commands, so ``sudoless --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sudoless.cli import cli, emit_json, json_option
from sudoless.errors import CheckFailed, InputError

CONFIDENT = 0.5


def read_source(source: str) -> str:
    """The text of FILE, or of stdin for ``-``; a missing or unreadable file is an :class:`InputError`."""
    try:
        if source == "-":
            return sys.stdin.read()
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{source}: is a directory, not a text file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror})") from None


def checked(source: str, check: Callable[[], Any]) -> Any:
    """``check()``, with an :class:`InputError` it raises prefixed by the input's name (``-`` is stdin)."""
    try:
        return check()
    except InputError as exc:
        raise InputError(f"{'stdin' if source == '-' else source}: {exc}") from None


def load_model(path: Path | None) -> Any:
    """The model at ``path``, or the default English model cached under SUDOLESS_HOME (built on first use)."""
    from sudoless.mcmc.cipher.model import LanguageModel, cached_default

    if path is not None:
        return LanguageModel.load(path)
    from sudoless.config import load_settings

    return cached_default(load_settings().home)


@cli.command()
@click.argument("source", metavar="FILE|-")
@click.option("--key", default=None, help="Cipher alphabet: the cipher letter for each of a..z (default: random).")
@click.option("--seed", type=int, default=None, help="Seed for the random key and homophone choices.")
@click.option("--no-spaces", is_flag=True, help="Patristocrat: letters only, upper case, in groups of five.")
@click.option("--homophonic", is_flag=True, help="Several symbols per letter, no word boundaries (Zodiac style).")
@click.option(
    "--symbols",
    type=click.IntRange(26, 78),
    default=54,
    show_default=True,
    help="Number of cipher symbols of a homophonic key.",
)
@json_option
def encipher(
    source: str, key: str | None, seed: int | None, no_spaces: bool, homophonic: bool, symbols: int, as_json: bool
) -> None:
    """Encipher a text with a simple substitution key (case and punctuation kept) or a homophonic one.

    The ciphertext goes to stdout; a generated key is printed on stderr (or in the JSON).
    """
    import numpy as np

    from sudoless.mcmc.cipher import substitution as cipher

    text = read_source(source)
    checked(source, lambda: cipher.plain_letters(text))
    rng = np.random.default_rng(seed)
    if homophonic:
        if key is not None:
            raise InputError("--key is for simple substitution; a homophonic key is generated from --seed")
        homophones = cipher.homophonic_key(rng, symbols)
        ciphertext = cipher.encipher_homophonic(text, homophones, rng)
        shown: Any = {letter: "".join(s) for letter, s in homophones.items()}
        kind = "homophonic"
    else:
        alphabet = cipher.parse_key(key) if key is not None else cipher.random_key(rng)
        ciphertext = cipher.encipher(text, alphabet, spaced=not no_spaces)
        shown, kind = alphabet, "patristocrat" if no_spaces else "cryptogram"
    if as_json:
        emit_json({"ciphertext": ciphertext, "key": shown, "kind": kind})
        return
    click.echo(ciphertext, nl=False)
    if key is None:
        text_key = shown if isinstance(shown, str) else " ".join(f"{k}={v}" for k, v in shown.items())
        click.echo(f"key: {text_key}", err=True)


@cli.command()
@click.argument("source", metavar="FILE|-")
@click.option("--time-limit", type=float, default=10.0, show_default=True, help="Seconds of search at most.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the search (reproducible).")
@click.option(
    "--kind",
    type=click.Choice(["auto", "cryptogram", "patristocrat", "homophonic"]),
    default="auto",
    show_default=True,
    help="What the ciphertext is; auto guesses from its look.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Language model from 'sudoless mcmc lm build' (default: English from symspellpy).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a PNG of the best score against time.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when a terminal).")
@json_option
def decipher(
    source: str,
    time_limit: float,
    seed: int,
    kind: str,
    model_path: Path | None,
    plot_path: Path | None,
    progress: bool | None,
    as_json: bool,
) -> None:
    """Break a substitution cipher by Metropolis search over keys; the plaintext goes to stdout.

    Exits 1, still printing the best plaintext, when the confidence is below 0.5, or when the time limit
    ended the search before it converged and its independent chains agree on less than 95% of the letters.
    """
    from sudoless.mcmc.cipher.solver import CONSENSUS, solve
    from sudoless.mcmc.cipher.text import CipherKind, Cryptogram, SymbolText, detect_kind
    from sudoless.mcmc.progress import progress_bar

    text = read_source(source)
    if time_limit <= 0:
        raise InputError(f"--time-limit must be positive, got {time_limit:g}")
    # Reject unreadable ciphertext before loading (or building) the language model, which takes seconds.
    resolved = checked(source, lambda: detect_kind(text) if kind == "auto" else CipherKind(kind))
    if resolved == CipherKind.HOMOPHONIC:
        checked(source, lambda: SymbolText.read(text))
    else:
        checked(source, lambda: Cryptogram.read(text, spaced=resolved == CipherKind.CRYPTOGRAM))
    model = load_model(model_path)
    show = sys.stderr.isatty() and not as_json if progress is None else progress
    with progress_bar(time_limit, "deciphering", enabled=show) as advance:
        done = [0.0]

        def report(seconds: float, score: float, rounds: int) -> None:
            advance(min(seconds, time_limit) - done[0])
            done[0] = min(seconds, time_limit)

        solution = solve(text, model, kind=resolved, time_limit=time_limit, seed=seed, progress=report)
    if plot_path is not None:
        from sudoless.mcmc.plots import convergence_plot

        convergence_plot(solution.trace, plot_path, title=f"{solution.kind} ({len(text)} chars)")
    solved = solution.solved(CONFIDENT)
    if as_json:
        simple = solution.kind != "homophonic"
        emit_json(
            {
                "plaintext": solution.plaintext,
                "kind": str(solution.kind),
                "key": solution.cipher_alphabet if simple else solution.key,
                "key_map": solution.key,
                "score": solution.score,
                "confidence": solution.confidence,
                "share": solution.share,
                "coverage": solution.coverage,
                "agreement": solution.agreement,
                "converged": solution.converged,
                "consensus": solution.consensus,
                "rounds": solution.rounds,
                "evaluations": solution.evaluations,
                "seconds": solution.seconds,
                "solved": solved,
            }
        )
    else:
        click.echo(solution.plaintext, nl=not solution.plaintext.endswith("\n"))
    if solved:
        return
    if as_json:  # the document says it (solved, confidence, converged, consensus)
        raise CheckFailed()
    if not solution.converged and solution.consensus < CONSENSUS:
        raise CheckFailed(
            f"low confidence ({solution.confidence:.2f}): the time limit ended the search before it "
            f"converged; its chains agree on {solution.consensus:.0%} of the letters; a longer "
            "--time-limit may help"
        )
    raise CheckFailed(
        f"low confidence ({solution.confidence:.2f}); the text may be too short or not in the model's language"
    )


@cli.group()
def mcmc() -> None:
    """Markov chain Monte Carlo tools: language models for the cipher solver."""


@mcmc.group()
def lm() -> None:
    """Language models for 'sudoless decipher'."""


@lm.command("build")
@click.argument("corpus", nargs=-1, metavar="[CORPUS|-]...")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Model file to write (.npz).")
@click.option("--symspell", is_flag=True, help="Build the default English model from symspellpy's word lists.")
@click.option(
    "--order",
    type=click.IntRange(2, 5),
    default=None,
    help="Letter n-gram order for spaced and unspaced text [default: 4; 5 for unspaced --symspell].",
)
@click.option(
    "--min-count",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Words seen fewer times than this are left out of the word model.",
)
@json_option
def build(
    corpus: tuple[str, ...], output: Path, symspell: bool, order: int | None, min_count: int, as_json: bool
) -> None:
    """Build a model from text corpora (any language written in a-z), or from symspellpy's English lists."""
    from sudoless.mcmc.cipher.model import LanguageModel

    if symspell == bool(corpus):
        raise InputError("give either corpus files (or - for stdin) or --symspell, not both and not neither")
    if symspell:
        if order is None:
            model = LanguageModel.from_symspell()
        else:
            model = LanguageModel.from_symspell(spaced_order=order, unspaced_order=order)
    else:
        text = "\n".join(read_source(c) for c in corpus)
        order = order or 4
        model = LanguageModel.from_corpus(
            text, spaced_order=order, unspaced_order=order, min_count=min_count, source=", ".join(corpus)
        )
    model.save(output)
    size = output.stat().st_size
    info = {
        "output": str(output),
        "words": len(model.words.words),
        "word_pairs": len(model.words.pair_keys),
        "order": model.spaced_order,
        "unspaced_order": model.unspaced_order,
        "source": model.source,
        "bytes": size,
    }
    if as_json:
        emit_json(info)
    else:
        click.echo(
            f"{output}: {info['words']} words, {info['word_pairs']} word pairs, letter "
            f"{model.spaced_order}-grams ({model.unspaced_order}-grams unspaced) "
            f"({size // 1024} KiB)"
        )
