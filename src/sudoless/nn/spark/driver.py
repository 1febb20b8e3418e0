"""The driver program ``sudoless nn train ... --deploy-mode`` hands to spark-submit.

spark-submit runs a Python file as the driver, here (client mode) or in the cluster (cluster mode, in the
shipped environment); this is that file. It trains as a plain ``--master`` run does
(:func:`sudoless.nn.spark.submission.train_in_driver`), joining the application spark-submit started, and
reports the run as JSON: into the file ``--report`` names (client mode; the submitting command prints it),
else on stdout, which is the driver's log. An error is one line and exit code 2, as on the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from sudoless.config import load_settings
    from sudoless.errors import SudolessError
    from sudoless.nn.spark.submission import FORWARDED, NUMBERS, train_in_driver

    parser = argparse.ArgumentParser(prog="sudoless-nn-driver")
    parser.add_argument("config", type=Path)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--resume", action="store_true", default=None)
    parser.add_argument("--report", type=Path)
    for key in FORWARDED:
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, type=int if key in NUMBERS else str)
    args = parser.parse_args(argv)
    overrides = {key: getattr(args, key) for key in (*FORWARDED, "resume")}
    try:
        result = train_in_driver(
            args.config,
            overrides,
            load_settings().home / "nn" / "runs",
            output=args.output,
            epochs=args.epochs,
            threads=args.threads,
            verbose=0 if args.quiet else 1,
        )
    except SudolessError as exc:
        print(f"sudoless: {exc}", file=sys.stderr)
        return exc.exit_code
    document = json.dumps(result.as_dict(), indent=2)
    if args.report is not None:
        args.report.write_text(document)
    else:
        print(document)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
