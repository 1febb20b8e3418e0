"""The ``decipher`` job type, run the way the flow runner runs a job."""

from __future__ import annotations

import threading
from pathlib import Path

import sudoless.flows.jobtypes.decipher  # noqa: F401  (registers the job type)
from sudoless.flows.jobtypes import JobContext, job_type
from sudoless.mcmc.cipher import encipher

PLAIN = (
    "The committee met on Thursday afternoon to discuss the budget for next year. After a long debate about "
    "the cost of the new library building, the members agreed to delay the final vote."
)


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def line(self, message: str, level: str = "INFO") -> None:
        self.lines.append((level, message))


def context(tmp_path: Path, props: dict[str, str], cancel: threading.Event | None = None) -> JobContext:
    return JobContext(
        job_id="break",
        attempt=1,
        props=props,
        workdir=tmp_path,
        env={},
        log=Log(),  # type: ignore[arg-type]
        cancel=cancel or threading.Event(),
        output_file=tmp_path / "out.json",
    )


def test_decipher_job_writes_plaintext_and_outputs(tmp_path: Path, english_file: Path) -> None:
    (tmp_path / "secret.txt").write_text(encipher(PLAIN, "MNBVCXZLKJHGFDSAPOIUYTREWQ"))
    result = job_type("decipher").run(
        context(
            tmp_path,
            {"input": "secret.txt", "output": "out/plain.txt", "model": str(english_file), "time.limit": "120"},
        )
    )
    assert result.succeeded, result.message
    assert (tmp_path / "out" / "plain.txt").read_text() == PLAIN
    assert result.outputs["plaintext"] == PLAIN and float(result.outputs["confidence"]) > 0.5


def test_decipher_job_failures(tmp_path: Path, english_file: Path) -> None:
    missing = job_type("decipher").run(context(tmp_path, {}))
    assert not missing.succeeded and missing.message == "no ciphertext"
    bad = job_type("decipher").run(context(tmp_path, {"ciphertext": "abc", "time.limit": "soon"}))
    assert not bad.succeeded and "not a number" in bad.message
    unsure = job_type("decipher").run(
        context(
            tmp_path,
            {"ciphertext": "Xq zvvk jjq", "time.limit": "1", "model": str(english_file), "min.confidence": "0.99"},
        )
    )
    assert not unsure.succeeded and unsure.message == "low confidence"
    cancel = threading.Event()
    cancel.set()
    killed = job_type("decipher").run(context(tmp_path, {"ciphertext": PLAIN, "model": str(english_file)}, cancel))
    assert killed.killed
