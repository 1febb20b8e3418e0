"""``--report plan.pdf``: the HTML report's content as a PDF, drawn with matplotlib (no browser): a first page
with the summary, the map of every driver's route and the day per driver (driving, waiting, service, breaks,
and the windows behind them), then one page per driver with its stop list, breaks between the stops.

It reads the same plan document as :mod:`sudoless.routing.report` and shares its map projection and texts; the
stop lists are :func:`~sudoless.routing.sheets.driver_lines`, the tables the command prints. The file is
written beside its target and renamed, so a failure leaves no half-written PDF. :func:`write_report` writes
the report a name asks for: ``.pdf`` this one, else the HTML page.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sudoless.errors import InputError
from sudoless.routing.dispatch import Dispatch, distance_text, money_text
from sudoless.routing.report import BREAK_COLOUR, COLOURS, html_report, map_points, status_text, time_text
from sudoless.routing.sheets import driver_lines

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def write_report(dispatch: Dispatch, document: dict[str, Any], path: Path) -> None:
    """The report at ``path``: an HTML page, or with ``.pdf`` the same content as a PDF."""
    if path.suffix.lower() == ".pdf":
        pdf_report(dispatch, document, path)
    else:
        path.write_text(html_report(dispatch, document), encoding="utf-8")


def check_report_name(name: str, where: str) -> None:
    """Refuse a report name that is neither .html nor .pdf before anything is solved or written."""
    if not name.lower().endswith((".html", ".htm", ".pdf")):
        raise InputError(f"{where}: a report is a .html or a .pdf file")


A4 = (8.27, 11.69)  # inches, portrait
LINES_PER_PAGE = 70  # stop rows on a driver's page before it goes on to another


def pdf_report(dispatch: Dispatch, document: dict[str, Any], path: Path) -> None:
    """Write the report to ``path``: the overview page, then a page per driver (longer lists go on)."""
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    partial = path.with_name(f".{path.name}.partial")
    try:
        with PdfPages(partial, metadata={"Title": f"{dispatch.name}: dispatch plan", "Creator": "sudoless"}) as pdf:
            figure = Figure(figsize=A4)
            _overview(dispatch, document, figure)
            pdf.savefig(figure)
            for k, driver in enumerate(document["drivers"]):
                lines = driver_lines(dispatch, document, driver)
                for start in range(0, len(lines), LINES_PER_PAGE):
                    figure = Figure(figsize=A4)
                    figure.text(0.06, 0.96, driver["vehicle"], fontsize=15, weight="bold", color=_colour(k), va="top")
                    figure.text(
                        0.06,
                        0.92,
                        "\n".join(lines[start : start + LINES_PER_PAGE]),
                        family="monospace",
                        fontsize=7.5,
                        va="top",
                        linespacing=1.35,
                    )
                    pdf.savefig(figure)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _colour(k: int) -> str:
    return COLOURS[k % len(COLOURS)]


def _overview(dispatch: Dispatch, document: dict[str, Any], figure: Any) -> None:
    summary = [
        f"Cost {money_text(document['cost'])} (distance {distance_text(dispatch, document['total_distance'])}, "
        f"penalties {document['penalties']:g}). Solver {document['solver']}.",
        status_text(document)[:150],
        *(
            f"{d['vehicle']}: {len(d['stops'])} stops, distance {distance_text(dispatch, d['distance'])}, "
            f"cost {money_text(d['cost'])}"
            for d in document["drivers"]
        ),
        *(f"unserved {u['reason']}" for u in document["unserved"]),
    ]
    figure.text(0.06, 0.97, f"{dispatch.name}: dispatch plan", fontsize=15, weight="bold", va="top")
    figure.text(0.06, 0.935, "\n".join(summary[:14]), fontsize=8, va="top", linespacing=1.4)
    _map(dispatch, document, figure.add_axes((0.08, 0.36, 0.84, 0.4)))
    _gantt(dispatch, document, figure.add_axes((0.14, 0.05, 0.8, 0.25)))


def _map(dispatch: Dispatch, document: dict[str, Any], axes: Axes) -> None:
    axes.set_title("Map", loc="left", fontsize=10)
    if dispatch.coords is None:
        axes.set_axis_off()
        axes.text(0, 0.5, "No coordinates were given (a matrix only), so there is no map.", fontsize=8)
        return
    pts = map_points(dispatch)
    index = {x: i for i, x in enumerate(dispatch.ids)}
    served: dict[str, int] = {}
    for k, driver in enumerate(document["drivers"]):
        if not driver["stops"]:
            continue
        path = [index[driver["start_depot"]], *(index[s["id"]] for s in driver["stops"]), index[driver["end_depot"]]]
        axes.plot([pts[i][0] for i in path], [pts[i][1] for i in path], "-", color=_colour(k), lw=1.4)
        served.update({s["id"]: k for s in driver["stops"]})
    for i, name in enumerate(dispatch.ids):
        x, y = pts[i]
        if i < dispatch.depots:
            axes.plot([x], [y], "s", color="#222", ms=7, zorder=3)
        else:
            fill = _colour(served[name]) if name in served else "#fff"
            axes.plot([x], [y], "o", color=fill, mec="#222", ms=5, zorder=3)
        axes.annotate(name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=5.5)
    axes.set_aspect("equal", adjustable="datalim")
    axes.set_xticks([])
    axes.set_yticks([])


def _gantt(dispatch: Dispatch, document: dict[str, Any], axes: Axes) -> None:
    from matplotlib.patches import Rectangle

    axes.set_title("The day", loc="left", fontsize=10)
    working = [(k, d) for k, d in enumerate(document["drivers"]) if d["stops"]]
    if not working:
        axes.set_axis_off()
        axes.text(0, 0.5, "No driver has stops.", fontsize=8)
        return
    first = min(d["departure"] for _, d in working)
    last = max(d["return"] for _, d in working)
    index = {x: i for i, x in enumerate(dispatch.ids)}
    for row, (k, d) in enumerate(working):
        y = len(working) - 1 - row
        colour = _colour(k)
        axes.add_patch(
            Rectangle((d["departure"], y - 0.05), d["return"] - d["departure"], 0.1, color=colour, alpha=0.5)
        )
        for s in d["stops"]:
            opens, closes = (float(t) for t in dispatch.windows[index[s["id"]]])
            if opens > 0 or math.isfinite(closes):
                end = closes if math.isfinite(closes) else last
                axes.add_patch(Rectangle((opens, y - 0.35), end - opens, 0.7, fill=False, ec="#999", ls="--", lw=0.6))
                first, last = min(first, opens), max(last, end)
            begin = s["arrival"] + s["wait"]
            if s["wait"] > 0:
                axes.add_patch(Rectangle((s["arrival"], y - 0.18), s["wait"], 0.36, color="#f4d35e"))
            axes.add_patch(Rectangle((begin, y - 0.25), s["departure"] - begin, 0.5, color=colour))
        vehicle = dispatch.vehicles[dispatch.vehicle(d["vehicle"])]
        for b in d.get("breaks", []):
            window = vehicle.breaks[b["break"] - 1]
            end = window.latest if math.isfinite(window.latest) else last
            axes.add_patch(
                Rectangle((window.earliest, y - 0.4), end - window.earliest, 0.8, fill=False, ec=BREAK_COLOUR, ls=":")
            )
            if b["wait"] > 0:
                axes.add_patch(Rectangle((b["start"] - b["wait"], y - 0.18), b["wait"], 0.36, color="#f4d35e"))
            axes.add_patch(Rectangle((b["start"], y - 0.25), b["end"] - b["start"], 0.5, color=BREAK_COLOUR))
    axes.set_xlim(first - 5, last + 5)
    axes.set_ylim(-0.6, len(working) - 0.4)
    axes.set_yticks(range(len(working)), [d["vehicle"] for _, d in reversed(working)], fontsize=7)
    step = 60 if last - first > 180 else 15
    ticks = [t for t in range(int(math.ceil(first / step) * step), int(last) + 1, step)]
    axes.set_xticks(ticks, [time_text(dispatch, t) for t in ticks], fontsize=7)
    axes.grid(axis="x", color="#eee")
    axes.set_axisbelow(True)
    axes.text(
        0,
        -0.14,
        "service (colour), waiting (yellow), breaks (grey), on the road (thin); dashed: windows (dotted: a break's)",
        transform=axes.transAxes,
        fontsize=6.5,
    )
