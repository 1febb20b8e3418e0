"""A copy of this working tree as it is on disk, committed or not, with its git history: what a test that
plays a new user starts from (the README's commands, the suite as an unprivileged user)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {REPO}: {done.stderr.strip()}")
    return done.stdout


def copy_worktree(dest: Path) -> Path:
    """Clone the repository into ``dest`` (which must not exist), then bring over what is not committed yet
    (changed, new and deleted files; ignored ones such as .venv stay behind), so a developer's run tests what
    is on disk and CI, on a clean clone, tests exactly the commit."""
    _git("clone", "--quiet", "--no-hardlinks", str(REPO), str(dest))
    for name in filter(None, _git("ls-files", "-z", "--modified", "--others", "--exclude-standard").split("\0")):
        source, target = REPO / name, dest / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif not source.exists():
            target.unlink(missing_ok=True)
    return dest
