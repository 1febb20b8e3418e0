"""Project zips the browser tests upload (Flow 1.0 ``.job`` files)."""

from __future__ import annotations

from pathlib import Path

from server.live import make_zip

#: report <- load <- {clean <- extract, enrich <- extract, sub (embedded flow: i1 -> inner) <- clean}
DEMO = {
    "extract.job": 'type=command\ncommand=sh -c "echo extracting; sleep 1; echo extracted 3 rows"\n',
    "clean.job": "type=command\ndependencies=extract\ncommand=echo cleaning\n",
    "enrich.job": "type=command\ndependencies=extract\ncommand=echo enriching ${region}\nregion=eu\n",
    "i1.job": "type=command\ncommand=echo inside the embedded flow\n",
    "inner.job": "type=noop\ndependencies=i1\n",
    "sub.job": "type=flow\nflow.name=inner\ndependencies=clean\n",
    "load.job": "type=noop\ndependencies=clean,enrich,sub\n",
    "report.job": (
        'type=command\ndependencies=load\ncommand=sh -c "for i in 1 2 3 4 5 6; do echo report line $i; '
        'sleep 0.4; done"\n'
    ),
}

#: A long job, to pause, resume and cancel.
SLEEPY = {"nap.job": "type=command\ncommand=sleep 60\n", "after.job": "type=noop\ndependencies=nap\n"}

#: A job depending on a job that does not exist: the upload must be refused with the validator's words.
BROKEN = {"a.job": "type=command\ncommand=echo a\n", "b.job": "type=noop\ndependencies=a,missing\n"}

#: Names that are HTML: they must show as text everywhere.
HOSTILE = {
    "<script>.job": "type=command\ncommand=echo pwned\n",
    "<img src=x onerror=alert(1)>.job": "type=noop\ndependencies=<script>\n",
}


def flaky(marker: Path) -> dict[str, str]:
    """``flaky`` fails until ``marker`` exists; ``slow`` keeps the flow in FAILED_FINISHING meanwhile."""
    return {
        "flaky.job": f"type=command\ncommand=test -e {marker}\n",
        "slow.job": "type=test\nseconds=5\n",
        "end.job": "type=noop\ndependencies=flaky,slow\n",
    }


def wide(layers: int = 10, width: int = 20) -> dict[str, str]:
    """``layers`` x ``width`` noop jobs, each depending on one or two of the layer before, all ending in
    ``done``: one flow of layers*width+1 nodes."""
    files: dict[str, str] = {}
    for layer in range(layers):
        for column in range(width):
            name = f"L{layer:02d}_{column:02d}"
            deps = (
                []
                if layer == 0
                else sorted({f"L{layer - 1:02d}_{column:02d}", f"L{layer - 1:02d}_{(column * 7 + 3) % width:02d}"})
            )
            files[f"{name}.job"] = "type=noop\n" + (f"dependencies={','.join(deps)}\n" if deps else "")
    last = [f"L{layers - 1:02d}_{c:02d}" for c in range(width)]
    files["done.job"] = f"type=noop\ndependencies={','.join(last)}\n"
    return files


def zipped(files: dict[str, str]) -> bytes:
    return make_zip(files)


#: The job that fails in :func:`broken_in_the_middle`'s flow (with its default size).
MIDDLE = "L03_05"


def broken_in_the_middle(layers: int = 6, width: int = 10) -> dict[str, str]:
    """:func:`wide`'s shape (``layers*width+1`` jobs) with one job in the middle layer failing with an error
    on stderr: everything downstream of it does not run. ``L00_00``, no ancestor of the failure, sleeps 2 s,
    so its children are still waiting when the failure stops new jobs."""
    files = wide(layers, width)
    files["L00_00.job"] = "type=command\ncommand=sleep 2\n"
    middle = f"L{layers // 2:02d}_{width // 2:02d}"
    deps = files[f"{middle}.job"].split("\n", 1)[1]
    files[f"{middle}.job"] = (
        'type=command\ncommand=sh -c "echo loading partition 7; '
        'echo ERROR: partition 7 is corrupt >&2; exit 3"\n' + deps
    )
    return files
