"""The ``decipher`` job type: break a substitution cipher as one step of a flow.

Properties (all optional except one of ``input`` and ``ciphertext``):

=================  ==========================================================================
``input``          ciphertext file, relative to the job's working directory
``ciphertext``     the ciphertext itself, inline
``output``         where to write the plaintext (relative to the working directory)
``time.limit``     seconds of search (default 10; the job's own timeout also stops it)
``seed``           seed of the search (default 0)
``kind``           auto, cryptogram, patristocrat or homophonic (default auto)
``model``          language model file from ``sudoless mcmc lm build`` (default: English)
``min.confidence`` below this the job fails (default 0.5); it fails too when the time limit ends a
                   search whose chains do not agree on the plaintext (see ``Solution.solved``)
=================  ==========================================================================

Output properties for dependants: ``plaintext``, ``key``, ``score``, ``confidence``, ``kind``.
"""

from __future__ import annotations

import time

from sudoless.config import load_settings
from sudoless.errors import InputError, SudolessError
from sudoless.flows.jobtypes import JobContext, JobResult, register


def _number(ctx: JobContext, name: str, default: float) -> float:
    raw = ctx.props.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise InputError(f"property {name}={raw!r} is not a number") from None


@register("decipher")
class DecipherJob:
    """Runs :func:`sudoless.mcmc.cipher.solve` in-process and reports the plaintext and confidence."""

    def run(self, ctx: JobContext) -> JobResult:
        from sudoless.mcmc.cipher.model import LanguageModel, cached_default
        from sudoless.mcmc.cipher.solver import solve

        ctx.started(None)
        try:
            if ctx.props.get("input"):
                path = ctx.path(ctx.props["input"])
                ciphertext = path.read_text(encoding="utf-8")
            elif ctx.props.get("ciphertext"):
                ciphertext = ctx.props["ciphertext"]
            else:
                ctx.log.line("decipher job needs an 'input' file or a 'ciphertext' property", "ERROR")
                return JobResult(False, message="no ciphertext")
            limit = _number(ctx, "time.limit", 10.0)
            if ctx.timeout:
                limit = min(limit, ctx.timeout)
            seed = int(_number(ctx, "seed", 0))
            threshold = _number(ctx, "min.confidence", 0.5)
            model_path = ctx.props.get("model", "").strip()
            model = (
                LanguageModel.load(ctx.path(model_path)) if model_path else cached_default(load_settings(ctx.env).home)
            )
            started = time.monotonic()
            solution = solve(
                ciphertext,
                model,
                kind=ctx.props.get("kind", "auto") or "auto",
                time_limit=limit,
                seed=seed,
                stop=ctx.cancel.is_set,
            )
        except (OSError, ValueError, SudolessError) as exc:  # ValueError: an unknown kind name
            ctx.log.line(f"decipher: {exc}", "ERROR")
            return JobResult(False, message=str(exc))
        if ctx.cancel.is_set():
            return JobResult(False, killed=True, message="killed")
        ctx.log.line(
            f"deciphered a {solution.kind} in {time.monotonic() - started:.1f} s, {solution.rounds} rounds: "
            f"score {solution.score:.1f}, confidence {solution.confidence:.2f}"
        )
        if ctx.props.get("output"):
            try:
                target = ctx.path(ctx.props["output"])
            except SudolessError as exc:
                ctx.log.line(f"decipher: {exc}", "ERROR")
                return JobResult(False, message=str(exc))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(solution.plaintext, encoding="utf-8")
        key = (
            solution.cipher_alphabet
            if solution.kind != "homophonic"
            else " ".join(f"{c}={p}" for c, p in solution.key.items())
        )
        outputs = {
            "plaintext": solution.plaintext,
            "key": key,
            "score": f"{solution.score:.3f}",
            "confidence": f"{solution.confidence:.3f}",
            "kind": str(solution.kind),
        }
        if not solution.solved(threshold):
            stopped = "converged" if solution.converged else "was ended by its time limit"
            ctx.log.line(
                f"not solved: confidence {solution.confidence:.2f} (min.confidence {threshold:g}); the "
                f"search {stopped}, its chains agree on {solution.consensus:.0%} of the letters",
                "ERROR",
            )
            return JobResult(False, outputs=outputs, message="low confidence")
        return JobResult(True, outputs=outputs)
