"""What a user's home pays to install sudoless's core, next to Apache Airflow and Luigi, and how fast ``--help`` is.

Each package goes into a venv of its own, made by the user's Python with ``--without-pip`` so that its
site-packages holds exactly what the install brought; pip (this interpreter's) installs into it with
``--python``. Reported: disk usage of site-packages (``du``'s measure: allocated blocks), the number of
distributions, the install's wall time (from the local package cache, so mostly unpacking and compiling), and
the wall time of ``<command> --help`` (median and minimum of 10 runs after one warm-up).

    .venv/bin/python benchmarks/install_size.py                       # sudoless (this checkout), airflow, luigi
    .venv/bin/python benchmarks/install_size.py --only sudoless --python /usr/bin/python3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: name -> (what pip installs, the command whose --help is timed)
TARGETS = {
    "sudoless": (None, "sudoless"),  # None: the wheel built from this checkout
    "apache-airflow": ("apache-airflow", "airflow"),
    "luigi": ("luigi", "luigi"),
}


def disk_usage(folder: Path) -> int:
    return sum(
        os.lstat(os.path.join(root, name)).st_blocks * 512 for root, _dirs, files in os.walk(folder) for name in files
    )


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)], check=True
    )
    (wheel,) = out.glob("sudoless-*.whl")
    return wheel


def help_times(command: Path, env: dict[str, str], runs: int = 10) -> list[float]:
    subprocess.run([str(command), "--help"], capture_output=True, env=env, check=True, timeout=120)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(command), "--help"], capture_output=True, env=env, check=True, timeout=120)
        times.append(time.perf_counter() - start)
    return times


def measure(name: str, python: str, work: Path) -> dict[str, object]:
    requirement, command = TARGETS[name]
    venv = work / name
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    requirement = requirement or str(build_wheel(work / "dist"))
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ],
        check=True,
    )
    install_s = time.perf_counter() - start
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    env = dict(
        os.environ, HOME=str(work / "home"), AIRFLOW_HOME=str(work / "airflow"), SUDOLESS_HOME=str(work / "sudoless")
    )
    env.pop("VIRTUAL_ENV", None)
    times = help_times(venv / "bin" / command, env)
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        "name": name,
        "version": version,
        "site_packages_mb": round(disk_usage(site) / 1e6, 1),
        "distributions": len(list(site.glob("*.dist-info"))),
        "install_s": round(install_s, 1),
        "help_median_s": round(statistics.median(times), 3),
        "help_min_s": round(min(times), 3),
        "python": subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="/usr/bin/python3", help="the interpreter the venvs are made with")
    parser.add_argument("--only", action="append", choices=sorted(TARGETS), help="measure only these")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="install-size-") as tmp:
        for name in args.only or list(TARGETS):
            rows.append(measure(name, args.python, Path(tmp)))
            row = rows[-1]
            print(
                f"{row['name']:<15} {row['version']:<10} {row['site_packages_mb']:>8.1f} MB "
                f"{row['distributions']:>4} distributions   install {row['install_s']:>6.1f} s   "
                f"--help median {row['help_median_s']:.3f} s (min {row['help_min_s']:.3f})",
                flush=True,
            )
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "install_size.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
