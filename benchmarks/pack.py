"""Packing a venv for Spark: ``sudoless pack`` next to venv-pack on the same venv, in one run.

The venv is made in a temporary folder from this interpreter's base Python with ``pip install numpy`` (a typical
Spark job's environment; ``--quick``: only pip and setuptools; ``--venv DIR``: yours). Each tool runs
as its own process, as a user would run it, ``--repeat`` times (best wall time counts; CPU time is the
child's user + system):

* ``venv-pack -p VENV -o out.tar.gz`` (its defaults: gzip level 4, every file);
* ``sudoless pack VENV -o out.tar.gz`` (gzip level 4 as venv-pack, caches left out), each run with an empty
  SUDOLESS_HOME so the archive cache cannot answer;
* ``sudoless pack --with-python`` (the interpreter, libpython and the standard library added);
* an extra row: ``sudoless pack`` again on the same SUDOLESS_HOME, answered from the cache.

Targets (issue 6): sudoless faster than venv-pack and no larger; with ``--with-python`` at most 40% larger
than venv-pack's archive.

    .venv/bin/python benchmarks/pack.py [--quick] [--repeat 3] [--venv DIR]

Results: a table on stdout and ``benchmarks/results/pack.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "pack.json"
BIN = Path(sys.executable).parent


def make_venv(root: Path, quick: bool) -> Path:
    venv = root / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    if not quick:
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "numpy"],
            check=True,
        )
    return venv


def timed(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    before = os.times()
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall_s": wall, "cpu_s": cpu}


def measure(name: str, argv_for: Any, output: Path, repeat: int, scratch: Path, fresh_home: bool) -> dict[str, Any]:
    runs = []
    home = scratch / f"home-{name}"
    for attempt in range(repeat):
        if fresh_home:
            shutil.rmtree(home, ignore_errors=True)
        output.unlink(missing_ok=True)
        env = {**os.environ, "SUDOLESS_HOME": str(home)}
        runs.append(timed(argv_for(output), env))
        del attempt
    best = min(runs, key=lambda r: r["wall_s"])
    return {
        "tool": name,
        "bytes": output.stat().st_size,
        "wall_s": best["wall_s"],
        "cpu_s": best["cpu_s"],
        "runs": runs,
    }


def venv_bytes(venv: Path) -> int:
    return sum(p.stat().st_size for p in venv.rglob("*") if p.is_file() and not p.is_symlink())


def render(rows: list[dict[str, Any]], checks: list[dict[str, Any]], info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    reference = next(r for r in rows if r["tool"] == "venv-pack")
    table = Table(title=f"Packing a {info['venv_mb']:.1f} MB venv ({info['packages']}), best of {info['repeat']}")
    for column in ("tool", "archive MB", "× venv-pack size", "wall s", "× venv-pack wall", "CPU s", "× venv-pack CPU"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    for row in rows:
        table.add_row(
            row["tool"],
            f"{row['bytes'] / 1e6:.2f}",
            f"{row['bytes'] / reference['bytes']:.3f}",
            f"{row['wall_s']:.2f}",
            f"{row['wall_s'] / reference['wall_s']:.2f}",
            f"{row['cpu_s']:.2f}",
            f"{row['cpu_s'] / reference['cpu_s']:.2f}" if reference["cpu_s"] else "-",
        )
    console = Console(width=150)
    console.print(table)
    for check in checks:
        mark = "[green]met[/]" if check["met"] else "[red]missed[/]"
        console.print(f"{check['target']}: {check['value']} -> {mark}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a venv with only pip and setuptools")
    parser.add_argument("--venv", type=Path, help="pack this venv instead of making one")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    venv_pack = shutil.which("venv-pack", path=str(BIN)) or shutil.which("venv-pack")
    if venv_pack is None:
        raise SystemExit("venv-pack is not installed: .venv/bin/pip install -e '.[bench]'")
    scratch = Path(tempfile.mkdtemp(prefix="sudoless-bench-pack-"))
    try:
        venv = args.venv.resolve() if args.venv else make_venv(scratch, args.quick)
        packages = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        sudoless = [sys.executable, "-c", "from sudoless.cli import main; main()", "pack", str(venv)]
        load_start = list(os.getloadavg())
        rows = [
            measure(
                "venv-pack",
                lambda out: [venv_pack, "-q", "-p", str(venv), "-o", str(out)],
                scratch / "vp.tar.gz",
                args.repeat,
                scratch,
                True,
            ),
            measure(
                "sudoless pack",
                lambda out: [*sudoless, "-o", str(out)],
                scratch / "sl.tar.gz",
                args.repeat,
                scratch,
                True,
            ),
            measure(
                "sudoless pack --with-python",
                lambda out: [*sudoless, "-o", str(out), "--with-python"],
                scratch / "slp.tar.gz",
                args.repeat,
                scratch,
                True,
            ),
            measure(
                "sudoless pack (cache hit)",
                lambda out: [*sudoless, "-o", str(out)],
                scratch / "slc.tar.gz",
                args.repeat,
                scratch,
                False,
            ),
        ]
        reference, ours, portable = rows[0], rows[1], rows[2]
        checks = [
            {
                "target": "sudoless pack faster than venv-pack (wall)",
                "met": ours["wall_s"] < reference["wall_s"],
                "value": f"{ours['wall_s']:.2f} s vs {reference['wall_s']:.2f} s",
            },
            {
                "target": "sudoless pack no larger than venv-pack",
                "met": ours["bytes"] <= reference["bytes"],
                "value": f"{ours['bytes']:,} vs {reference['bytes']:,} bytes",
            },
            {
                "target": "--with-python at most 40% larger than venv-pack",
                "met": portable["bytes"] <= 1.4 * reference["bytes"],
                "value": f"{portable['bytes'] / reference['bytes']:.3f}×",
            },
        ]
        info = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "venv": str(venv),
            "venv_mb": venv_bytes(venv) / 1e6,
            "packages": ", ".join(p for p in packages if not p.startswith(("pip==", "setuptools==")))
            or "pip and setuptools only",
            "repeat": args.repeat,
            "load_average_start": load_start,
            "load_average_end": list(os.getloadavg()),
        }
        render(rows, checks, info)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(
            json.dumps({"benchmark": "pack", "machine": info, "rows": rows, "checks": checks}, indent=2)
        )
        print(f"results: {args.output}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
