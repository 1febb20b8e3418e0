"""Deciphering success against ciphertext length: sudoless's solver next to a Chen & Rosenthal baseline.

Plaintexts are cookies from Debian's ``fortunes`` package (``apt-get install fortunes fortunes-min``),
normalised as the language model's data is (lower case, apostrophes dropped, other non-letters a single
space) and cut at a word boundary at or below each length. They are held out twice over: the language model
is built only from symspellpy's word lists, and the solver's settings were tuned on the other half of the
cookies (``crc32(cookie)`` even); this benchmark draws only from the odd half. Every cipher gets a fresh
uniformly random key (spaces kept and not enciphered: the Aristocrat setting Chen & Rosenthal used).

Two methods run on the same ciphers in the same run, each with a budget of ``--budget`` seconds (default 10)
per cipher on one core (``--jobs`` worker processes, each one cipher at a time). The budget is counted in
CPU seconds of the worker process, so that a machine shared with other work still gives each cipher the
same amount of computing; wall-clock times are reported next to CPU times.

* ``sudoless``: :func:`sudoless.mcmc.cipher.solve` with the default English model;
* ``chen-rosenthal``: letter-bigram Metropolis written here from the published settings: 27 symbols with the
  space unencrypted, bigram counts (+1) of a reference text, score raised to the power p = 0.25, swaps of
  two uniformly picked letters, 10 repetitions of 10,000 iterations each started from the unigram
  frequency-rank key, best key kept. The reference counts are the symspell-derived letter bigrams scaled to
  the size of War and Peace, since the book itself is not available offline.

Success ("ok95") means at least 95% of the letters right; "exact" means the whole text right. A run whose
best key scores below the true key under its own model is a *search* failure; otherwise a *model* failure.

A homophonic track (``--homophonic N``) enciphers N cookie texts of 400 letters with 54-symbol keys.

    .venv/bin/python benchmarks/decipher.py [--ciphers 100] [--lengths 50,75,100,150,200,300,500]
        [--budget 10] [--jobs 2] [--homophonic 100] [--seed 1]

Results: a table on stdout and ``benchmarks/results/decipher.json`` (every cipher's outcome included);
``decipher.partial.jsonl`` beside it gets every run as it finishes. Times: ``med s``/``p90 s`` are wall
seconds, ``cpu s`` the median CPU seconds of the worker (the budget's clock too).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "decipher.json"
FORTUNES = Path("/usr/share/games/fortunes")
LENGTHS = (50, 75, 100, 150, 200, 300, 500)
TARGET_OK95 = {50: 0.50, 75: 0.75, 100: 0.90, 150: 0.97, 200: 0.99, 300: 1.0, 500: 1.0}
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
ENGLISH_ORDER = "etaoinsrhldcumfpgwybvkxjqz"
WAR_AND_PEACE_CHARS = 3_200_000


# -- held-out plaintexts ------------------------------------------------------------------------------------


def cookies() -> list[str]:
    """All fortune cookies, normalised; skips the index files, ascii-art and sub-folders."""
    from sudoless.mcmc.cipher.text import normalise

    if not FORTUNES.is_dir():
        sys.exit(f"{FORTUNES} not found: apt-get install fortunes fortunes-min")
    out = []
    for path in sorted(FORTUNES.iterdir()):
        if path.is_dir() or path.suffix in (".dat", ".u8") or path.name == "ascii-art":
            continue
        for cookie in path.read_text(encoding="latin-1").split("\n%\n"):
            text = normalise(cookie)
            if text:
                out.append(text)
    return out


def held_out(texts: list[str]) -> list[str]:
    """The test half: the solver was tuned on the cookies whose crc32 is even."""
    return [t for t in texts if zlib.crc32(t.encode()) % 2 == 1]


def cut(text: str, length: int) -> str:
    """The first ``length`` characters, shortened to end at a word boundary."""
    if len(text) <= length:
        return text
    head = text[: length + 1]
    return head[: head.rfind(" ")] if " " in head else head[:length]


@dataclass(frozen=True)
class Case:
    track: str
    length: int
    index: int
    plaintext: str
    ciphertext: str
    plain_of: list[int]
    seed: int


def simple_cases(texts: list[str], length: int, count: int, seed: int) -> list[Case]:
    rng = random.Random(seed * 100_003 + length)
    pool = [t for t in texts if len(t) >= length]
    cases = []
    for index in range(count):
        plain = cut(rng.choice(pool), length)
        key = list(ALPHABET)
        rng.shuffle(key)
        ciphertext = plain.translate(str.maketrans(ALPHABET, "".join(key)))
        plain_of = [0] * 26
        for p, c in enumerate(key):
            plain_of[ALPHABET.index(c)] = p
        cases.append(Case("cryptogram", length, index, plain, ciphertext, plain_of, rng.randrange(2**31)))
    return cases


def homophonic_cases(texts: list[str], count: int, seed: int, letters: int = 400) -> list[Case]:
    from sudoless.mcmc.cipher.substitution import encipher_homophonic, homophonic_key
    from sudoless.mcmc.cipher.text import SymbolText

    rng = random.Random(seed * 7919)
    pool = [t.replace(" ", "") for t in texts if len(t.replace(" ", "")) >= letters]
    cases = []
    for index in range(count):
        plain = rng.choice(pool)[:letters]
        np_rng = np.random.default_rng(rng.randrange(2**31))
        key = homophonic_key(np_rng, 54)
        ciphertext = encipher_homophonic(plain, key, np_rng)
        symbols = SymbolText.read(ciphertext).symbols
        letter_of = {s: ALPHABET.index(p) for p, group in key.items() for s in group}
        cases.append(
            Case("homophonic", letters, index, plain, ciphertext, [letter_of[s] for s in symbols], rng.randrange(2**31))
        )
    return cases


# -- the Chen & Rosenthal baseline ---------------------------------------------------------------------------


def reference_bigrams() -> np.ndarray:
    """log(count + 1) of the 27x27 letter bigrams (0 = space), counts for a War-and-Peace-sized text."""
    from sudoless.mcmc.cipher import ngrams
    from sudoless.mcmc.cipher.model import LanguageModel

    model = LanguageModel.from_symspell(spaced_order=2, unspaced_order=2)
    # Re-derive joint bigram counts (the model stores conditionals) from the same word lists.
    words = model.words
    probs = np.exp(words.logp.astype(np.float64))
    from sudoless.mcmc.cipher.words import letter_matrix

    matrix = letter_matrix(words.words)
    lengths = (matrix > 0).sum(axis=1)
    tokens = np.hstack([matrix, np.zeros((len(matrix), 1), dtype=np.int64)])
    joint = ngrams.derive_counts(
        tokens, lengths + 1, probs, np.zeros((0, 2), dtype=np.int64), np.zeros(0), 2, 27, lam=0.0
    )
    counts = joint / joint.sum() * WAR_AND_PEACE_CHARS
    return np.log(counts + 1).reshape(27, 27)


def chen_rosenthal(
    ciphertext: str,
    table: np.ndarray,
    seed: int,
    budget: float,
    power: float = 0.25,
    repetitions: int = 10,
    iterations: int = 10_000,
) -> tuple[np.ndarray, float]:
    """Best key (plain_of over 26 letters) and its bigram log-score; the repetitions run side by side."""
    codes = np.array([0 if c == " " else ord(c) - 96 for c in ciphertext], dtype=np.int64)
    counts = np.bincount(codes[codes > 0] - 1, minlength=26)
    start = np.zeros(26, dtype=np.int64)
    for rank, cipher in enumerate(np.argsort(-counts, kind="stable")):
        start[cipher] = ALPHABET.index(ENGLISH_ORDER[rank])
    rng = np.random.default_rng(seed)
    keys = np.repeat(start[None], repetitions, axis=0)

    def score(k: np.ndarray) -> np.ndarray:
        lookup = np.concatenate([np.zeros((len(k), 1), dtype=np.int64), k + 1], axis=1)
        plain = lookup[:, codes]
        return table[plain[:, :-1], plain[:, 1:]].sum(axis=1)

    current = score(keys)
    best_keys, best = keys.copy(), current.copy()
    rows = np.arange(repetitions)
    deadline = time.process_time() + budget
    for step in range(iterations):
        if step % 256 == 0 and time.process_time() > deadline:
            break
        i, j = rng.integers(26, size=repetitions), rng.integers(26, size=repetitions)
        proposed = keys.copy()
        proposed[rows, i], proposed[rows, j] = keys[rows, j], keys[rows, i]
        new = score(proposed)
        accept = np.log(rng.random(repetitions)) < power * (new - current)
        keys[accept], current[accept] = proposed[accept], new[accept]
        better = current > best
        best_keys[better], best[better] = keys[better], current[better]
    top = int(np.argmax(best))
    return best_keys[top], float(best[top])


# -- running one case ----------------------------------------------------------------------------------------

_MODEL: Any = None
_TABLE: np.ndarray | None = None


def _init(model_path: str, table: np.ndarray) -> None:
    global _MODEL, _TABLE
    from sudoless.mcmc.cipher.model import LanguageModel

    _MODEL = LanguageModel.load(Path(model_path))
    _TABLE = table


def accuracy(got: str, want: str) -> float:
    pairs = [(a, b) for a, b in zip(got, want, strict=False) if b != " "]
    return sum(a == b for a, b in pairs) / max(len(pairs), 1)


def run_case(job: tuple[str, Case, float]) -> dict[str, Any]:
    method, case, budget = job
    from sudoless.mcmc.cipher.scoring import Scorer
    from sudoless.mcmc.cipher.solver import _problem, solve
    from sudoless.mcmc.cipher.text import CipherKind

    wall, cpu = time.monotonic(), time.process_time()
    true_key = np.array(case.plain_of)
    if method == "sudoless":
        kind = CipherKind.HOMOPHONIC if case.track == "homophonic" else CipherKind.CRYPTOGRAM
        solution = solve(case.ciphertext, _MODEL, kind=kind, time_limit=budget, seed=case.seed, clock=time.process_time)
        plaintext, found = solution.plaintext, solution.score
        scorer: Scorer = _problem(case.ciphertext, _MODEL, kind).full
        true_score = float(scorer.scores(true_key[None])[0])
        extra = {"confidence": solution.confidence, "rounds": solution.rounds, "evaluations": solution.evaluations}
    else:
        key, found = chen_rosenthal(case.ciphertext, _TABLE, case.seed, budget)
        plaintext = "".join(" " if c == " " else ALPHABET[key[ord(c) - 97]] for c in case.ciphertext)
        codes = np.array([0 if c == " " else true_key[ord(c) - 97] + 1 for c in case.ciphertext])
        true_score = float(_TABLE[codes[:-1], codes[1:]].sum())
        extra = {}
    want = case.plaintext if case.track != "homophonic" else case.plaintext
    right = accuracy(plaintext, want)
    return {
        "method": method,
        "track": case.track,
        "length": case.length,
        "index": case.index,
        "letters": sum(c != " " for c in case.plaintext),
        "accuracy": right,
        "ok95": right >= 0.95,
        "exact": plaintext == want,
        "seconds": time.monotonic() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "score": found,
        "true_score": true_score,
        "search_failure": bool(found < true_score - 1e-6 and right < 1),
        **extra,
    }


# -- reporting -----------------------------------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["track"], row["method"], row["length"]), []).append(row)
    out = []
    for (track, method, length), group in sorted(groups.items()):
        n = len(group)
        ok = sum(r["ok95"] for r in group)
        low, high = wilson(ok, n)
        seconds = sorted(r["seconds"] for r in group)
        failures = [r for r in group if not r["ok95"]]
        out.append(
            {
                "track": track,
                "method": method,
                "length": length,
                "ciphers": n,
                "ok95": ok / n,
                "ok95_ci": [low, high],
                "exact": sum(r["exact"] for r in group) / n,
                "mean_accuracy": float(np.mean([r["accuracy"] for r in group])),
                "median_seconds": float(np.median(seconds)),
                "p90_seconds": float(np.quantile(seconds, 0.9)),
                "median_cpu_seconds": float(np.median([r["cpu_seconds"] for r in group])),
                "search_failures": sum(r["search_failure"] for r in failures),
                "model_failures": sum(not r["search_failure"] for r in failures),
                "target_ok95": TARGET_OK95.get(length) if track == "cryptogram" else 0.9,
            }
        )
    return out


def print_table(summary: list[dict[str, Any]]) -> None:
    header = (
        f"{'track':<11} {'method':<15} {'chars':>5} {'n':>4} {'ok95':>6} {'95% CI':>13} {'exact':>6} "
        f"{'acc':>6} {'med s':>6} {'p90 s':>6} {'cpu s':>6} {'search/model fail':>18} {'target':>7}"
    )
    print(header)
    print("-" * len(header))
    for s in summary:
        ci = f"{s['ok95_ci'][0]:.2f}-{s['ok95_ci'][1]:.2f}"
        print(
            f"{s['track']:<11} {s['method']:<15} {s['length']:>5} {s['ciphers']:>4} {s['ok95']:>6.2f} {ci:>13} "
            f"{s['exact']:>6.2f} {s['mean_accuracy']:>6.3f} {s['median_seconds']:>6.2f} {s['p90_seconds']:>6.2f} "
            f"{s['median_cpu_seconds']:>6.2f} {s['search_failures']:>8}/{s['model_failures']:<9} "
            f"{s['target_ok95']:>7.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ciphers", type=int, default=100, help="ciphers per length (default 100)")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="comma-separated lengths in chars")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per cipher and method (default 10)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2, one per core)")
    parser.add_argument("--homophonic", type=int, default=100, help="homophonic 400-letter ciphers (0: none)")
    parser.add_argument("--methods", default="sudoless,chen-rosenthal")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from sudoless.mcmc.cipher.model import LanguageModel

    lengths = [int(x) for x in args.lengths.split(",") if x]
    methods = [m for m in args.methods.split(",") if m]
    texts = held_out(cookies())
    cases = [c for length in lengths for c in simple_cases(texts, length, args.ciphers, args.seed)]
    if args.homophonic:
        cases += homophonic_cases(texts, args.homophonic, args.seed)
    jobs = [
        (m, c, args.budget) for c in cases for m in methods if not (m == "chen-rosenthal" and c.track != "cryptogram")
    ]
    print(
        f"{len(texts)} held-out cookies; {len(cases)} ciphers; {len(jobs)} runs on {args.jobs} processes, "
        f"{args.budget:g} s budget each",
        file=sys.stderr,
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "english.npz"
        LanguageModel.from_symspell().save(model_path)
        table = reference_bigrams()
        context = multiprocessing.get_context("fork")
        partial = args.output.with_suffix(".partial.jsonl")
        partial.parent.mkdir(parents=True, exist_ok=True)
        with (
            context.Pool(args.jobs, initializer=_init, initargs=(str(model_path), table)) as pool,
            partial.open("w") as log,
        ):
            rows = []
            # Every finished run is logged at once, so a long run that is stopped still leaves its figures.
            for done, row in enumerate(pool.imap_unordered(run_case, jobs, chunksize=1), 1):
                rows.append(row)
                log.write(json.dumps(row) + "\n")
                log.flush()
                if done % 20 == 0:
                    print(f"  {done}/{len(jobs)} runs, {time.monotonic() - started:.0f} s", file=sys.stderr)
    summary = summarise(rows)
    print_table(summary)
    load = os.getloadavg()
    report = {
        "benchmark": "decipher",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": load},
        "settings": {
            "ciphers": args.ciphers,
            "lengths": lengths,
            "budget": args.budget,
            "jobs": args.jobs,
            "homophonic": args.homophonic,
            "seed": args.seed,
            "methods": methods,
        },
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "wall_seconds": time.monotonic() - started,
        "summary": summary,
        "runs": sorted(rows, key=lambda r: (r["track"], r["method"], r["length"], r["index"])),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {args.output} ({time.monotonic() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
