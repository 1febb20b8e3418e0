"""Big flows (issue 22): load, validate, upload and run one Flow 1.0 flow of 1,000 / 10,000 / 30,000 jobs,
and upload a ``massive-flows``-sized project of about 200 flows and 7,000 jobs.

Three shapes of ``noop`` jobs: a **chain**, a **fan-out** (one root, every other job on it, one end job on
all of them) and a **layered** DAG (layers of 100 jobs, each job on three of the layer before, as
tests/flows/test_big_flow.py). For each, ``load_project_dir`` (parse every ``.job`` file, build the flow,
validate it) and ``upload_project`` (the same plus zipping the folder, storing the project and its flows in
a fresh SQLite database) are timed, best of ``--repeat``. With ``--run`` (the default) the flow is then
submitted and run to its end by an ``Executor`` in a child process of its own (``parallel`` 10): the run's
wall time per job, and the child's peak resident memory (``VmHWM``) next to what it held before the
run. The per-job columns are what show an O(n²) step: they must stay flat as the flow grows; the plot
(``results/big_flow.png``, per-job cost against jobs, log x) shows it at a glance.

With ``--ui`` (the default, needs ``--run``) the finished run is then shown through a live server over its
home: the server time (its ``Server-Timing`` header) of the flow page, the flow's layout (the first request,
which lays it out, and a cached one), the execution page, its job rows and its layout; and in Debian's
headless Chromium (``--chromium``) the time from opening the execution page to every job drawn in the graph
and listed in the jobs table, with the page's script errors counted. Those columns go on the same plot.

``--massive`` (the default too) generates a project shaped like Azkaban's own ``massive-flows`` test project:
``--massive-flows`` flows of about 38 jobs each (7,030 jobs for 185), in one folder per flow with a shared
``.properties`` file each, every flow a small layered DAG; ``load_project_dir`` and ``upload_project`` are
timed (target: under 3 s).

    .venv/bin/python benchmarks/big_flow.py                  # 1,000 / 10,000 / 30,000 jobs, run, massive
    .venv/bin/python benchmarks/big_flow.py --sizes 1000,10000 --repeat 3 --no-run --no-massive
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "big_flow.json"
PLOT = HERE / "results" / "big_flow.png"

LAYER_WIDTH = 100


def shape_edges(shape: str, jobs: int) -> dict[str, list[str]]:
    """Job name -> parents, ``jobs`` jobs in all."""
    if shape == "chain":
        return {f"j{i:05d}": [f"j{i - 1:05d}"] if i else [] for i in range(jobs)}
    if shape == "fan-out":
        middle = [f"m{i:05d}" for i in range(jobs - 2)]
        return {"root": [], **{name: ["root"] for name in middle}, "end": middle}
    if shape == "layered":
        edges: dict[str, list[str]] = {}
        layers = (jobs - 1) // LAYER_WIDTH
        for layer in range(layers):
            for i in range(LAYER_WIDTH):
                parents = sorted({(i * 7) % LAYER_WIDTH, (i + 1) % LAYER_WIDTH, (i * 13 + layer) % LAYER_WIDTH})
                edges[f"l{layer:03d}_{i:03d}"] = [f"l{layer - 1:03d}_{p:03d}" for p in parents] if layer else []
        edges["end"] = [f"l{layers - 1:03d}_{i:03d}" for i in range(LAYER_WIDTH)]
        return edges
    raise ValueError(shape)


def write_project(root: Path, edges: dict[str, list[str]]) -> Path:
    root.mkdir(parents=True)
    for name, parents in edges.items():
        text = "type=noop\n" + (f"dependencies={','.join(parents)}\n" if parents else "")
        (root / f"{name}.job").write_text(text)
    return root


def write_massive(root: Path, flows: int, jobs_per_flow: int = 38) -> int:
    """A project of ``flows`` folders (20 to an area folder), each one flow ending in ``flowNNN``: a layered
    DAG of ``jobs_per_flow - 1`` ``command`` jobs (layers of 6, each job on two of the layer before) and the
    end job on those nothing depends on, with a ``.properties`` file per folder; returns the jobs written."""
    for flow in range(flows):
        folder = root / f"area{flow // 20:02d}" / f"flow{flow:03d}"
        folder.mkdir(parents=True)
        (folder / "common.properties").write_text(f"owner=team{flow % 7}\nretries=1\nretry.backoff=1000\n")
        names = [f"f{flow:03d}_j{i:02d}" for i in range(jobs_per_flow - 1)]
        used: set[str] = set()
        for i, name in enumerate(names):
            text = f"type=command\ncommand=echo {name} ${{owner}}\n"
            if i >= 6:
                base = (i // 6 - 1) * 6
                parents = sorted({names[base + i % 6], names[base + (i + 1) % 6]})
                used.update(parents)
                text += f"dependencies={','.join(parents)}\n"
            (folder / f"{name}.job").write_text(text)
        ends = [name for name in names if name not in used]
        (folder / f"flow{flow:03d}.job").write_text(f"type=noop\ndependencies={','.join(ends)}\n")
    return flows * jobs_per_flow


RUN_CHILD = """
import json, sys, time
from pathlib import Path
from sudoless.config import Settings
from sudoless.flows.executions import submit_flow
from sudoless.flows.executor import Executor
from sudoless.flows.options import ExecutionOptions
from sudoless.flows.upload import upload_project
from sudoless.store import Store
from sudoless.store.status import Status

project, home, flow = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
settings = Settings(home=home, timezone="UTC", project_max_files=100_000)
store = Store(f"sqlite:///{home / 'sudoless.db'}")
upload_project(store, settings, project, "bench", name="big")
exec_id = submit_flow(store, settings, "big", flow, ExecutionOptions(parallel=10), "bench")
def status_kb(field):
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
before_kb = status_kb("VmRSS")
executor = Executor(store, settings)
began = time.perf_counter()
status = executor.claim_and_run(exec_id)
run_s = time.perf_counter() - began
executor.stop(wait=False)
runs = store.job_runs.of(exec_id)
once = len({r.nested_id for r in runs}) == len(runs) and all(r.status == Status.SUCCEEDED for r in runs)
peak_kb = status_kb("VmHWM")
print(json.dumps({"run_s": run_s, "status": str(status), "jobs_run": len(runs), "every_job_once": once,
                  "rss_before_mb": before_kb / 1024, "rss_peak_mb": peak_kb / 1024}))
"""


def run_in_child(project: Path, home: Path, flow: str) -> dict[str, Any]:
    """Upload, submit and run ``flow`` in a fresh process, so that its peak memory is the run's own."""
    home.mkdir(parents=True, mode=0o700)
    done = subprocess.run(
        [sys.executable, "-c", RUN_CHILD, str(project), str(home), flow], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the run of {project.name} failed: {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


UI_SERVER = {  # column -> path; {flow} is the end job's name, execution 1 the run of run_in_child
    "ui_flow_page_ms": "/ui/projects/big/flows/{flow}",
    "ui_layout_first_ms": "/ui/data/projects/big/flows/{flow}/layout",
    "ui_layout_ms": "/ui/data/projects/big/flows/{flow}/layout",
    "ui_execution_page_ms": "/ui/executions/1",
    "ui_job_rows_ms": "/ui/data/executions/1/runs?since=0",
    "ui_execution_layout_ms": "/ui/data/executions/1/layout",
}
UI_HEADS = ("flow page ms", "layout 1st ms", "layout ms", "exec page ms", "job rows ms", "exec layout ms")
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def server_ms(client: Any, path: str, tries: int) -> float:
    """Best server time of ``tries`` requests (a first request that fills a cache is its own column)."""
    best = float("inf")
    for _ in range(tries):
        response = client.get(path, follow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
        best = min(best, float(re.search(r"dur=([0-9.]+)", response.headers["server-timing"]).group(1)))
    return best


def ui_times(home: Path, flow: str, jobs: int, chromium: str | None) -> dict[str, Any]:
    """Serve the finished run's home and time its pages: on the server, then in a real browser."""
    import httpx

    sys.path.insert(0, str(HERE.parent / "tests"))  # the live server the API and browser tests use
    from server.live import server_settings, start_live
    from sudoless.store import Store

    url = f"sqlite:///{home / 'sudoless.db'}"
    store = Store(url)
    live = start_live(server_settings(home, url), store)
    out: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=live.url, timeout=600) as client:
            login = {"username": live.admin, "password": live.password}
            answer = client.post("/ui/login", data=login, headers={"Origin": live.url}, follow_redirects=False)
            if answer.status_code != 303:
                raise RuntimeError(f"UI login: HTTP {answer.status_code}")
            for column, path in UI_SERVER.items():
                out[column] = server_ms(client, path.format(flow=flow), 1 if column == "ui_layout_first_ms" else 3)
        if chromium:
            out.update(browser_times(live.url, live.admin, live.password, jobs, chromium))
    finally:
        live.stop()
        store.close()
    return out


def browser_times(base: str, user: str, password: str, jobs: int, chromium: str) -> dict[str, Any]:
    """Seconds from opening the execution page until all ``jobs`` nodes are drawn and all rows listed."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.set_default_timeout(600_000)
            page.goto(base + "/")
            page.fill("#username", user)
            page.fill("#password", password)
            page.click("button[type=submit]")
            page.wait_for_url("**/ui/projects")
            began = time.perf_counter()
            page.goto(base + "/ui/executions/1")
            page.wait_for_function(
                "n => document.querySelectorAll('#graph g.node').length >= n"
                " && document.querySelectorAll('#job-table tbody tr').length >= n",
                arg=jobs,
                polling=100,
            )
            drawn = time.perf_counter() - began
        finally:
            browser.close()
    return {"ui_browser_s": drawn, "ui_browser_errors": len(errors)}


def plot(rows: list[dict[str, Any]]) -> None:
    """Per-job cost against the flow's size, log x: one line per shape and phase."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a colour per phase, a line style and marker per shape; log y, as the phases differ by 100x
    phases = {
        "load_us_per_job": ("load + validate", "tab:blue"),
        "upload_us_per_job": ("upload", "tab:orange"),
        "run_us_per_job": ("run", "tab:green"),
        "ui_layout_first_us_per_job": ("UI layout (first)", "tab:red"),
        "ui_browser_us_per_job": ("UI in the browser", "tab:purple"),
    }
    shapes = {"chain": ("-", "o"), "fan-out": ("--", "s"), "layered": (":", "^")}
    figure, axis = plt.subplots(figsize=(9, 5.5))
    for shape in sorted({r["shape"] for r in rows}):
        mine = sorted((r for r in rows if r["shape"] == shape), key=lambda r: r["jobs"])
        style, marker = shapes.get(shape, ("-.", "x"))
        for key, (phase, colour) in phases.items():
            points = [(r["jobs"], r[key]) for r in mine if r.get(key) is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, linestyle=style, marker=marker, color=colour, label=f"{phase}, {shape}")
    axis.set_yscale("log")
    axis.set_xscale("log")
    axis.set_xlabel("jobs in the flow")
    axis.set_ylabel("µs per job")
    axis.set_title("sudoless big flows: cost per job against size (flat = no O(n²) step)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    PLOT.parent.mkdir(exist_ok=True)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)
    print(f"plot: {PLOT.relative_to(HERE.parent)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,30000", help="jobs per flow, comma-separated")
    parser.add_argument("--shapes", default="chain,fan-out,layered")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each case; the best is reported")
    parser.add_argument("--run", action=argparse.BooleanOptionalAction, default=True, help="also run each flow")
    parser.add_argument(
        "--ui", action=argparse.BooleanOptionalAction, default=True, help="also time the finished run's pages"
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="browser for --ui; 'none' skips it")
    parser.add_argument("--massive", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--massive-flows", type=int, default=185)
    parser.add_argument("--label", default="", help="name of this run in the JSON file")
    args = parser.parse_args(argv)

    from sudoless.config import Settings
    from sudoless.flows.formats import load_project_dir
    from sudoless.flows.upload import upload_project
    from sudoless.store import Store

    scratch = Path(tempfile.mkdtemp(prefix="big-flow-"))
    rows: list[dict[str, Any]] = []
    massive: dict[str, Any] | None = None
    print(f"load average {os.getloadavg()[0]:.1f} at the start ({os.cpu_count()} CPUs)")
    print(
        f"{'shape':<8} {'jobs':>6} {'load+validate s':>15} {'µs/job':>7} {'upload s':>9} {'µs/job':>7}"
        f" {'run s':>8} {'µs/job':>7} {'RSS before MB':>13} {'peak MB':>8} {'once':>5}"
        + ("".join(f" {h}" for h in UI_HEADS) + " browser s errors" if args.run and args.ui else "")
    )
    try:
        for shape in args.shapes.split(","):
            for jobs in (int(n) for n in args.sizes.split(",")):
                edges = shape_edges(shape, jobs)
                project = write_project(scratch / f"{shape}-{jobs}", edges)
                load = upload = float("inf")
                for rep in range(args.repeat):
                    start = time.perf_counter()
                    model = load_project_dir(project)
                    load = min(load, time.perf_counter() - start)
                    assert sum(len(flow.nodes) for flow in model.flows.values()) == len(edges)
                    home = scratch / f"home-{shape}-{jobs}-{rep}"
                    store = Store(f"sqlite:///{home / 'sudoless.db'}")
                    start = time.perf_counter()
                    settings = Settings(home=home, timezone="UTC", project_max_files=100_000)  # 30,000 .job files
                    upload_project(store, settings, project, "bench")
                    upload = min(upload, time.perf_counter() - start)
                    store.close()
                    shutil.rmtree(home, ignore_errors=True)
                n = len(edges)
                row: dict[str, Any] = {
                    "shape": shape,
                    "jobs": n,
                    "load_s": load,
                    "load_us_per_job": load / n * 1e6,
                    "upload_s": upload,
                    "upload_us_per_job": upload / n * 1e6,
                    "load_average": os.getloadavg()[0],
                }
                line = f"{shape:<8} {n:>6} {load:>15.3f} {load / n * 1e6:>7.0f} {upload:>9.3f} {upload / n * 1e6:>7.0f}"
                if args.run:
                    end = model.top_flows[0]
                    ran = run_in_child(project, scratch / f"run-{shape}-{jobs}", end)
                    row.update(ran, run_us_per_job=ran["run_s"] / n * 1e6)
                    once = "yes" if ran["every_job_once"] and ran["jobs_run"] == n else "NO"
                    line += (
                        f" {ran['run_s']:>8.2f} {ran['run_s'] / n * 1e6:>7.0f} {ran['rss_before_mb']:>13.0f}"
                        f" {ran['rss_peak_mb']:>8.0f} {once:>5}"
                    )
                    if args.ui:
                        browser = None if args.chromium == "none" else args.chromium
                        shown = ui_times(scratch / f"run-{shape}-{jobs}", end, n, browser)
                        row.update(shown, ui_layout_first_us_per_job=shown["ui_layout_first_ms"] / n * 1e3)
                        line += "".join(f" {shown[c]:>{len(h)}.1f}" for c, h in zip(UI_SERVER, UI_HEADS, strict=True))
                        if "ui_browser_s" in shown:
                            row["ui_browser_us_per_job"] = shown["ui_browser_s"] / n * 1e6
                            line += f" {shown['ui_browser_s']:>10.2f} {shown['ui_browser_errors']:>6}"
                rows.append(row)
                print(line, flush=True)
                shutil.rmtree(project, ignore_errors=True)
        if args.massive:
            root = scratch / "massive"
            jobs = write_massive(root, args.massive_flows)
            load = upload = float("inf")
            for rep in range(args.repeat):
                start = time.perf_counter()
                model = load_project_dir(root)
                load = min(load, time.perf_counter() - start)
                home = scratch / f"home-massive-{rep}"
                store = Store(f"sqlite:///{home / 'sudoless.db'}")
                start = time.perf_counter()
                upload_project(store, Settings(home=home, timezone="UTC"), root, "bench", name="massive")
                upload = min(upload, time.perf_counter() - start)
                store.close()
            massive = {
                "flows": len(model.top_flows),
                "jobs": jobs,
                "load_s": load,
                "upload_s": upload,
                "load_average": os.getloadavg()[0],
            }
            print(
                f"massive-flows-sized project: {len(model.top_flows)} flows, {jobs:,} jobs: load + validate "
                f"{load:.3f} s, upload {upload:.3f} s (target < 3 s: {'met' if upload < 3 else 'missed'})"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if rows:
        plot(rows)
    RESULTS.parent.mkdir(exist_ok=True)
    previous: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    label = args.label or datetime.now(UTC).isoformat(timespec="seconds")
    previous[label] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows, "massive": massive}
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    print(f"load average {os.getloadavg()[0]:.1f} at the end; written {RESULTS.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
