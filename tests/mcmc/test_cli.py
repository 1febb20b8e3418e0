"""``sudoless encipher``, ``decipher`` and ``mcmc lm build`` through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mcmc.texts import LIGHTHOUSE
from sudoless.mcmc.cipher import substitution as cipher

SUDOLESS = Path(sys.executable).with_name("sudoless")
PLAIN = (
    "Most people who keep a garden learn to be patient. Seeds that go into the ground in April may not show "
    "a green leaf for weeks, and a cold night in May can undo a month of careful work.\n"
)
KEY = "PHQGIUMEAYLNOFDXJKRCVSTZWB"


def sudoless(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUDOLESS_HOME": str(home)}
    return subprocess.run(
        [str(SUDOLESS), *args], env=env, capture_output=True, text=True, input=stdin, timeout=300, cwd=home.parent
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sudoless: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_encipher_then_decipher(tmp_path: Path, english_file: Path) -> None:
    (tmp_path / "plain.txt").write_text(PLAIN)
    enciphered = sudoless(tmp_path, "encipher", str(tmp_path / "plain.txt"), "--key", KEY)
    assert enciphered.returncode == 0, enciphered.stderr
    assert enciphered.stdout.startswith("Odrc xidxni")
    result = sudoless(
        tmp_path,
        "decipher",
        "-",
        "--model",
        str(english_file),
        "--json",
        "--seed",
        "1",
        "--time-limit",
        "120",
        "--plot",
        str(tmp_path / "conv.png"),
        stdin=enciphered.stdout,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["plaintext"] == PLAIN
    assert {"plaintext", "key", "score", "confidence", "kind", "key_map", "seconds"} <= set(data)
    assert data["kind"] == "cryptogram" and data["solved"] is True
    assert all(data["key"][ord(p) - 97] == KEY[ord(p) - 97] for p in set(PLAIN.lower()) if p.isalpha())
    assert (tmp_path / "conv.png").read_bytes()[:4] == b"\x89PNG"


def test_encipher_json_and_kinds(tmp_path: Path) -> None:
    result = sudoless(tmp_path, "encipher", "-", "--seed", "3", "--json", stdin=PLAIN)
    data = json.loads(result.stdout)
    assert result.returncode == 0 and set(data) == {"ciphertext", "key", "kind"} and len(data["key"]) == 26
    again = sudoless(tmp_path, "encipher", "-", "--seed", "3", "--json", stdin=PLAIN)
    assert json.loads(again.stdout) == data
    patristocrat = sudoless(tmp_path, "encipher", "-", "--key", KEY, "--no-spaces", stdin=PLAIN)
    assert patristocrat.stdout.split()[0] == "ODRCX"
    homophonic = sudoless(tmp_path, "encipher", "-", "--homophonic", "--seed", "1", "--json", stdin=PLAIN)
    assert json.loads(homophonic.stdout)["kind"] == "homophonic"


def test_plain_output_and_low_confidence_exit_code(tmp_path: Path, english_file: Path) -> None:
    result = sudoless(
        tmp_path, "decipher", "-", "--model", str(english_file), "--time-limit", "2", stdin="Xq zvvk jjq.\n"
    )
    assert result.returncode == 1
    assert result.stdout.strip() and "low confidence" in result.stderr


@pytest.mark.parametrize(
    "args, stdin, fragment",
    [
        (["encipher", "missing.txt"], None, "missing.txt: no such file"),
        (["encipher", "-", "--key", "ABC"], "hello", "not a cipher alphabet"),
        (["decipher", "-", "--time-limit", "0"], "abc", "--time-limit must be positive"),
        (["decipher", "-"], "123 456", "no letters"),
        (["decipher", "-"], "3141592 6535 8979 +-*/\n", "stdin: the ciphertext has no letters a-z"),
        (["encipher", "-"], "", "stdin: the plaintext is empty"),
        (["encipher", "-", "--homophonic"], "\n\n", "stdin: the plaintext is empty"),
        (["encipher", "-", "--key", KEY], "42 + 7 = 49\n", "stdin: the plaintext has no letters a-z"),
        (["decipher", "-", "--model", "nope.npz"], "abc def", "no such language model"),
        (["mcmc", "lm", "build", "-o", "m.npz"], None, "--symspell"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], stdin: str | None, fragment: str) -> None:
    assert_one_line_error(sudoless(tmp_path / "home", *args, stdin=stdin), fragment)


def test_bad_input_fails_at_once(tmp_path: Path) -> None:
    """Letterless input is refused before the language model is built (seconds) or a search starts (10 s)."""
    started = time.monotonic()
    assert_one_line_error(sudoless(tmp_path / "home", "decipher", "-", stdin="12345 !!\n"), "no letters")
    assert time.monotonic() - started < 5
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.npz"))


def test_a_search_cut_short_exits_1_with_its_best_plaintext(tmp_path: Path, english_file: Path) -> None:
    """Given 1 ms, a homophonic search stops at its first time check, after 20 sweeps on any machine, where its
    chains disagree: exit 1 with the best plaintext and a confidence no higher than the chains' agreement."""
    rng = np.random.default_rng(13)
    ciphertext = cipher.encipher_homophonic(LIGHTHOUSE, cipher.homophonic_key(rng, 54), rng)
    result = sudoless(
        tmp_path,
        "decipher",
        "-",
        "--model",
        str(english_file),
        "--seed",
        "0",
        "--time-limit",
        "0.001",
        "--json",
        stdin=ciphertext,
    )
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["solved"] is False and data["converged"] is False and data["kind"] == "homophonic"
    assert data["consensus"] < 0.95 and data["confidence"] <= data["consensus"]
    letters = "".join(c for c in LIGHTHOUSE.lower() if c.isalpha())
    assert len(data["plaintext"]) == len(letters)
    assert np.mean([a == b for a, b in zip(data["plaintext"], letters, strict=True)]) < 0.5  # a wrong key
    plain = sudoless(
        tmp_path,
        "decipher",
        "-",
        "--model",
        str(english_file),
        "--seed",
        "0",
        "--time-limit",
        "0.001",
        stdin=ciphertext,
    )
    assert plain.returncode == 1 and plain.stdout.strip().isalpha()
    assert plain.stderr.startswith("sudoless: low confidence") and "before it converged" in plain.stderr
    assert len(plain.stderr.splitlines()) == 1


def test_lm_build_from_a_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. the dog sat on the log. a cat and a dog sat together.\n" * 30)
    result = sudoless(
        tmp_path, "mcmc", "lm", "build", str(corpus), "-o", str(tmp_path / "m.npz"), "--order", "3", "--json"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["words"] == 10 and data["order"] == 3 and (tmp_path / "m.npz").exists()
    deciphered = sudoless(
        tmp_path,
        "decipher",
        "-",
        "--model",
        str(tmp_path / "m.npz"),
        "--json",
        "--time-limit",
        "20",
        stdin="xli gex wex sr xli qex.\n",
    )
    assert json.loads(deciphered.stdout)["plaintext"] == "the cat sat on the mat.\n"


def test_startup_does_not_import_numpy() -> None:
    """The commands and the job type register without NumPy, so ``sudoless --help`` and flows stay fast."""
    code = (
        "import sys; from sudoless.cli import register_commands; register_commands(); "
        "import sudoless.flows.jobtypes.decipher; print('numpy' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
