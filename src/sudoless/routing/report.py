"""``--report plan.html``: one self-contained page (no script, no file or server beside it) that a dispatcher
opens in a browser and prints: a map of every driver's route (inline SVG, from the coordinates), a Gantt of the
day per driver (driving, waiting, service, breaks, and each stop's and break's window behind it), then one page
per driver with the stop list (a break as a row between the stops), which the print style sheet puts on a sheet
of its own. :mod:`sudoless.routing.pdf` draws the same content as a PDF, and writes either.

It reads the plan document of :mod:`sudoless.routing.sheets` (the figures shown are the checked ones) and the
dispatch for coordinates and windows. Every text from the input files is escaped.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from sudoless.routing.dispatch import Dispatch, clock_text, distance_text, money_text

BREAK_COLOUR = "#8d99ae"
COLOURS = ("#1b6ca8", "#d1495b", "#2a9d8f", "#e9a03b", "#6d597a", "#577590", "#8f5d46", "#43aa8b", "#b5179e")
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; } th, td { padding: 2px 8px; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: .9em; height: .9em; border-radius: 2px; vertical-align: -1px; }
svg text { font: 11px system-ui, sans-serif; }
.driver { break-before: page; }
.unserved { color: #a4161a; }
tr.rest td { color: #555; font-style: italic; }
@media print { body { margin: 0; } .screen { display: none; } }
"""


def time_text(dispatch: Dispatch, minutes: float) -> str:
    return clock_text(minutes) if dispatch.clock else f"{minutes:g}"


def map_points(dispatch: Dispatch) -> list[tuple[float, float]]:
    """Every location as x east, y north: longitude across for lat/lon, with latitude's shrinking degrees."""
    assert dispatch.coords is not None
    pts = [(float(b), float(a)) if dispatch.geo else (float(a), float(b)) for a, b in dispatch.coords]
    if dispatch.geo:
        squeeze = math.cos(math.radians(sum(p[1] for p in pts) / len(pts)))
        pts = [(x * squeeze, y) for x, y in pts]
    return pts


def window_text(dispatch: Dispatch, opens: float, closes: float) -> str:
    """A window for people: ``09:00-10:30``, ``from 09:00`` when it never closes."""
    if not math.isfinite(closes):
        return f"from {time_text(dispatch, opens)}"
    return f"{time_text(dispatch, opens)}-{time_text(dispatch, closes)}"


def status_text(document: dict[str, Any]) -> str:
    """The summary line's verdict: checked, or what is wrong."""
    if document.get("feasible", True):
        return "checked: every rule holds"
    return "INFEASIBLE: " + "; ".join(document.get("violations", []))


def _map(dispatch: Dispatch, document: dict[str, Any]) -> str:
    if dispatch.coords is None:
        return "<p>No coordinates were given (a matrix only), so there is no map.</p>"
    pts = map_points(dispatch)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    size, pad = 640, 30

    def at(i: int) -> tuple[float, float]:
        x, y = pts[i]
        return pad + (x - min(xs)) / span * (size - 2 * pad), size - pad - (y - min(ys)) / span * (size - 2 * pad)

    index = {x: i for i, x in enumerate(dispatch.ids)}
    wide = size + 80  # room for the labels of the points on the right edge
    parts = [f'<svg viewBox="0 0 {wide} {size}" width="{wide}" height="{size}" role="img" aria-label="route map">']
    for k, driver in enumerate(document["drivers"]):
        if not driver["stops"]:
            continue
        path = [index[driver["start_depot"]], *(index[s["id"]] for s in driver["stops"]), index[driver["end_depot"]]]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(at, path))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{COLOURS[k % len(COLOURS)]}" stroke-width="2"/>')
    served = {s["id"]: k for k, d in enumerate(document["drivers"]) for s in d["stops"]}
    for i, name in enumerate(dispatch.ids):
        x, y = at(i)
        label = escape(name)
        if i < dispatch.depots:
            parts.append(f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="#222"/>')
        else:
            colour = COLOURS[served[name] % len(COLOURS)] if name in served else "#fff"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" stroke="#222"/>')
        parts.append(f'<text x="{x + 7:.1f}" y="{y - 6:.1f}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _gantt(dispatch: Dispatch, document: dict[str, Any]) -> str:
    working = [d for d in document["drivers"] if d["stops"]]
    if not working:
        return "<p>No driver has stops.</p>"
    first = min(d["departure"] for d in working)
    last = max(d["return"] for d in working)
    index = {x: i for i, x in enumerate(dispatch.ids)}
    for d in working:
        for s in d["stops"]:
            opens, closes = dispatch.windows[index[s["id"]]]
            first = min(first, float(opens)) if opens > 0 else first
            last = max(last, float(closes)) if math.isfinite(closes) else last
    width, left, row = 900, 90, 34
    scale = (width - left - 30) / max(last - first, 1.0)  # room for the last tick's label

    def x(t: float) -> float:
        return left + (min(max(t, first), last) - first) * scale

    height = row * len(working) + 30
    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="day">']
    step = 60 if last - first > 180 else 15
    tick = math.ceil(first / step) * step
    while tick <= last:
        parts.append(f'<line x1="{x(tick):.1f}" y1="0" x2="{x(tick):.1f}" y2="{height - 20}" stroke="#eee"/>')
        parts.append(f'<text x="{x(tick) - 14:.1f}" y="{height - 6}">{escape(time_text(dispatch, tick))}</text>')
        tick += step
    for r, d in enumerate(working):
        k = document["drivers"].index(d)
        colour, y = COLOURS[k % len(COLOURS)], 8 + r * row
        parts.append(f'<text x="4" y="{y + 15}">{escape(d["vehicle"])}</text>')
        parts.append(
            f'<rect x="{x(d["departure"]):.1f}" y="{y + 9}" width="{x(d["return"]) - x(d["departure"]):.1f}" '
            f'height="4" fill="{colour}" opacity=".5"><title>driving</title></rect>'
        )
        for s in d["stops"]:
            opens, closes = dispatch.windows[index[s["id"]]]
            if opens > 0 or math.isfinite(closes):
                end = float(closes) if math.isfinite(closes) else last
                parts.append(
                    f'<rect x="{x(float(opens)):.1f}" y="{y + 2}" width="{max(1.0, x(end) - x(float(opens))):.1f}" '
                    f'height="18" fill="none" stroke="#999" stroke-dasharray="3 2"><title>window of '
                    f"{escape(s['id'])}</title></rect>"
                )
            begin = s["arrival"] + s["wait"]
            if s["wait"] > 0:
                parts.append(
                    f'<rect x="{x(s["arrival"]):.1f}" y="{y + 6}" width="{x(begin) - x(s["arrival"]):.1f}" '
                    f'height="10" fill="#f4d35e"><title>{escape(s["id"])}: waits {s["wait"]:g} min</title></rect>'
                )
            parts.append(
                f'<rect x="{x(begin):.1f}" y="{y + 4}" width="{max(2.0, x(s["departure"]) - x(begin)):.1f}" '
                f'height="14" fill="{colour}"><title>{escape(s["id"])}: {escape(time_text(dispatch, begin))}-'
                f"{escape(time_text(dispatch, s['departure']))}</title></rect>"
            )
        vehicle = dispatch.vehicles[dispatch.vehicle(d["vehicle"])]
        for b in d.get("breaks", []):
            window = vehicle.breaks[b["break"] - 1]
            end = window.latest if math.isfinite(window.latest) else last
            parts.append(
                f'<rect x="{x(window.earliest):.1f}" y="{y + 2}" width="{max(1.0, x(end) - x(window.earliest)):.1f}" '
                f'height="18" fill="none" stroke="{BREAK_COLOUR}" stroke-dasharray="1 2"><title>break {b["break"]} '
                f"may start {escape(window_text(dispatch, window.earliest, window.latest))}"
                "</title></rect>"
            )
            if b["wait"] > 0:
                ready = b["start"] - b["wait"]
                parts.append(
                    f'<rect x="{x(ready):.1f}" y="{y + 6}" width="{x(b["start"]) - x(ready):.1f}" '
                    f'height="10" fill="#f4d35e"><title>waits {b["wait"]:g} min for break {b["break"]}</title></rect>'
                )
            parts.append(
                f'<rect x="{x(b["start"]):.1f}" y="{y + 4}" width="{max(2.0, x(b["end"]) - x(b["start"])):.1f}" '
                f'height="14" fill="{BREAK_COLOUR}"><title>break {b["break"]} at {escape(b["at"])}: '
                f"{escape(time_text(dispatch, b['start']))}-{escape(time_text(dispatch, b['end']))}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _break_rows(dispatch: Dispatch, driver: dict[str, Any], after: int, dims: int) -> list[str]:
    """The table rows of the breaks a driver takes after ``after`` stops."""
    vehicle = dispatch.vehicles[dispatch.vehicle(driver["vehicle"])]
    rows = []
    for b in driver.get("breaks", []):
        if b["after"] != after:
            continue
        window = vehicle.breaks[b["break"] - 1]
        rows.append(
            f'<tr class="rest"><td></td><td>break {b["break"]} at {escape(b["at"])}</td><td>'
            f"{escape(window_text(dispatch, window.earliest, window.latest))}</td>"
            f'<td class="n">{escape(time_text(dispatch, b["start"]))}</td><td class="n">{b["wait"]:.0f}</td>'
            f'<td class="n">{escape(time_text(dispatch, b["end"]))}</td>{"<td></td>" * dims}</tr>'
        )
    return rows


def _driver_page(dispatch: Dispatch, document: dict[str, Any], k: int) -> str:
    d = document["drivers"][k]
    dims = document["dimensions"]
    head = (
        f'<section class="driver"><h2><span class="swatch" style="background:{COLOURS[k % len(COLOURS)]}"></span> '
        f"{escape(d['vehicle'])}</h2><p>From {escape(d['start_depot'])} at "
        f"{escape(time_text(dispatch, d['departure']))}, back at {escape(d['end_depot'])} at "
        f"{escape(time_text(dispatch, d['return']))}; distance "
        f"{escape(distance_text(dispatch, d['distance']))}, cost {money_text(d['cost'])}.</p>"
    )
    if not d["stops"]:
        return head + "<p>No stops: stays at the depot.</p></section>"
    index = {x: i for i, x in enumerate(dispatch.ids)}
    rows = _break_rows(dispatch, d, 0, len(dims))
    for n, s in enumerate(d["stops"], start=1):
        opens, closes = dispatch.windows[index[s["id"]]]
        window = (
            f"{time_text(dispatch, float(opens))}-{time_text(dispatch, float(closes))}" if math.isfinite(closes) else ""
        )
        loads = "".join(f'<td class="n">{x:g}</td>' for x in s["load"])
        rows.append(
            f'<tr><td class="n">{n}</td><td>{escape(s["id"])}</td><td>{escape(window)}</td>'
            f'<td class="n">{escape(time_text(dispatch, s["arrival"]))}</td><td class="n">{s["wait"]:.0f}</td>'
            f'<td class="n">{escape(time_text(dispatch, s["departure"]))}</td>{loads}</tr>'
        )
        rows += _break_rows(dispatch, d, n, len(dims))
    header = "".join(f"<th>load {escape(x)}</th>" for x in dims)
    return (
        head + "<table><tr><th>#</th><th>stop</th><th>window</th><th>arrival</th><th>wait (min)</th><th>departure</th>"
        f"{header}</tr>{''.join(rows)}</table></section>"
    )


def html_report(dispatch: Dispatch, document: dict[str, Any]) -> str:
    """The whole page as one string."""
    unserved = "".join(f'<li class="unserved">{escape(u["reason"])}</li>' for u in document["unserved"])
    legend = "".join(
        f'<tr><td><span class="swatch" style="background:{COLOURS[k % len(COLOURS)]}"></span> {escape(d["vehicle"])}'
        f'</td><td class="n">{len(d["stops"])}</td><td class="n">'
        f'{escape(distance_text(dispatch, d["distance"]))}</td><td class="n">{money_text(d["cost"])}</td></tr>'
        for k, d in enumerate(document["drivers"])
    )
    status = status_text(document)
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(dispatch.name)}: dispatch plan</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(dispatch.name)}: dispatch plan</h1>"
        f"<p>Cost {money_text(document['cost'])} (distance "
        f"{escape(distance_text(dispatch, document['total_distance']))}, "
        f"penalties {document['penalties']:g});"
        f" {escape(status)}. Solver {escape(document['solver'])}.</p>"
        f"<table><tr><th>driver</th><th>stops</th><th>distance</th><th>cost</th></tr>{legend}</table>"
        + (f"<h2>Unserved</h2><ul>{unserved}</ul>" if unserved else "")
        + f"<h2>Map</h2>{_map(dispatch, document)}<h2>The day</h2>"
        '<p class="screen">Bars: service (colour), waiting (yellow), breaks (grey), on the road (thin); dashed '
        "boxes: windows (dotted grey: a break's).</p>"
        f"{_gantt(dispatch, document)}"
        + "".join(_driver_page(dispatch, document, k) for k in range(len(document["drivers"])))
        + "</body></html>\n"
    )
