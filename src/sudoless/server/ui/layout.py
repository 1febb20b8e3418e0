"""A flow's DAG laid out left to right in layers, for the graph views of the web UI.

Why on the server: a layout is a pure function of a stored flow version (immutable once uploaded) and of
which embedded flows are expanded, so it is computed once, cached, and tested here with pytest; the
browser only draws rectangles and paths and recolours them as statuses change.

The method is the classic layered (Sugiyama) one, kept small:

1. **Flatten**: embedded flows the user expanded are replaced by their inner nodes (nested ids
   ``outer:inner``); an edge into an expanded flow goes to its first nodes, an edge out leaves from its
   last ones. Collapsed embedded flows stay one node.
2. **Layers**: each node's column is the length of its longest path from a root, so every edge points
   right. An edge that spans several columns gets invisible waypoints, one per column it crosses, so
   that ordering can route it between nodes instead of through them.
3. **Order**: within each column, nodes are sorted by the mean position of their neighbours (barycentre),
   sweeping right then left a few times; the nodes of one expanded flow are kept next to each other so
   its frame encloses them.
4. **Place**: each node moves towards the median height of its neighbours while keeping the order and a
   minimum gap, again sweeping both ways.

The result is plain JSON: nodes with boxes, edges as point lists, frames for expanded flows, and the
total size. A flow of 200 jobs lays out in a few tens of milliseconds.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NODE_HEIGHT", "NODE_WIDTH", "Layout", "layout_flow"]

NODE_WIDTH = 168
NODE_HEIGHT = 34
COLUMN_GAP = 64
ROW_GAP = 14
WAYPOINT_GAP = 8
FRAME_PAD = 10
FRAME_LABEL = 18
SWEEPS = 6


@dataclass
class _Item:
    """A node or a waypoint while the layout is computed."""

    key: str
    layer: int = 0
    order: float = 0.0
    y: float = 0.0
    height: float = NODE_HEIGHT
    groups: tuple[str, ...] = ()
    waypoint: bool = False
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Layout:
    """A laid-out graph as the browser draws it (see :meth:`to_json`)."""

    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    frames: list[dict[str, Any]]
    width: int
    height: int

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "edges": self.edges,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "nodeWidth": NODE_WIDTH,
            "nodeHeight": NODE_HEIGHT,
        }


class _Flattener:
    """Turns nested flow graphs into visible nodes and edges between them (step 1)."""

    def __init__(self, flows: Mapping[str, Mapping[str, Any]], expanded: Iterable[str]) -> None:
        self.flows = flows
        self.expanded = set(expanded)
        self.nodes: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, tuple[str, ...]] = {}
        self.frames: dict[str, str] = {}  # expanded nested id -> the flow it runs
        self.entries: dict[str, list[str]] = {}
        self.exits: dict[str, list[str]] = {}
        self.edges: list[tuple[str, str]] = []

    def run(self, flow_id: str) -> None:
        self._flow(flow_id, "", ())

    def _flow(self, flow_id: str, prefix: str, groups: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """Flatten one flow; returns the nested ids of its root and leaf nodes (before expansion)."""
        graph = self.flows.get(flow_id) or {}
        nodes = list(graph.get("nodes") or ())
        names = {node["name"] for node in nodes}
        depended_on = {dep for node in nodes for dep in (node.get("in") or ()) if dep in names}
        for node in nodes:
            nested = prefix + node["name"]
            subflow = node.get("subflow")
            expandable = bool(subflow) and subflow in self.flows
            if expandable and nested in self.expanded:
                self.frames[nested] = subflow
                roots, leaves = self._flow(subflow, nested + ":", (*groups, nested))
                self.entries[nested], self.exits[nested] = roots, leaves
            else:
                self.nodes[nested] = {
                    "id": nested,
                    "name": node["name"],
                    "type": node.get("type") or "",
                    "subflow": subflow if expandable else None,
                    "condition": node.get("condition") or None,
                }
                self.groups[nested] = groups
        for node in nodes:
            for dep in node.get("in") or ():
                if dep in names:
                    self.edges.append((prefix + dep, prefix + node["name"]))
        roots = [prefix + n["name"] for n in nodes if not any(d in names for d in (n.get("in") or ()))]
        leaves = [prefix + n["name"] for n in nodes if n["name"] not in depended_on]
        return roots, leaves

    def _ends(self, nested: str, table: dict[str, list[str]], seen: frozenset[str] = frozenset()) -> list[str]:
        if nested in self.nodes:
            return [nested]
        if nested in seen:
            return []
        out: list[str] = []
        for inner in table.get(nested, ()):
            out.extend(self._ends(inner, table, seen | {nested}))
        return out

    def visible_edges(self) -> list[tuple[str, str]]:
        found: dict[tuple[str, str], None] = {}
        for source, target in self.edges:
            for a in self._ends(source, self.exits):
                for b in self._ends(target, self.entries):
                    if a != b:
                        found[(a, b)] = None
        return list(found)


def _layers(keys: list[str], parents: Mapping[str, list[str]]) -> dict[str, int]:
    """Longest path from a root, iteratively (flows may be deep); a cycle cannot occur in a stored flow but
    would only stop deepening here, never loop."""
    layer: dict[str, int] = {}
    for start in keys:
        if start in layer:
            continue
        stack: list[tuple[str, bool]] = [(start, False)]
        on_path: set[str] = set()
        while stack:
            key, done = stack.pop()
            if done:
                on_path.discard(key)
                layer[key] = 1 + max((layer.get(p, 0) for p in parents.get(key, ()) if p not in on_path), default=-1)
                continue
            if key in layer or key in on_path:
                continue
            on_path.add(key)
            stack.append((key, True))
            stack.extend((p, False) for p in parents.get(key, ()) if p not in layer and p not in on_path)
    return layer


def layout_flow(flows: Mapping[str, Mapping[str, Any]], flow_id: str, expanded: Iterable[str] = ()) -> Layout:
    """Lay out ``flows[flow_id]`` (stored flow graphs by flow id) with the embedded flows ``expanded``
    (nested ids) shown inside frames."""
    flat = _Flattener(flows, expanded)
    flat.run(flow_id)
    edges = flat.visible_edges()
    keys = list(flat.nodes)
    parents: dict[str, list[str]] = {k: [] for k in keys}
    for a, b in edges:
        parents[b].append(a)
    layer_of = _layers(keys, parents)

    items: dict[str, _Item] = {k: _Item(k, layer_of[k], groups=flat.groups[k]) for k in keys}
    routes: list[tuple[str, str, list[str]]] = []
    for a, b in edges:
        chain = [a]
        for step in range(layer_of[a] + 1, layer_of[b]):
            waypoint = f"\x00{a}\x00{b}\x00{step}"
            items[waypoint] = _Item(waypoint, step, height=0.0, waypoint=True)
            chain.append(waypoint)
        chain.append(b)
        for upper, lower in zip(chain, chain[1:], strict=False):
            items[upper].down.append(lower)
            items[lower].up.append(upper)
        routes.append((a, b, chain[1:-1]))

    columns: list[list[_Item]] = [[] for _ in range(max((i.layer for i in items.values()), default=-1) + 1)]
    for item in items.values():  # insertion order: flow file order, a stable and familiar start
        columns[item.layer].append(item)
    for column in columns:
        for index, item in enumerate(column):
            item.order = index
    _order(columns, items)
    _place(columns, items)
    return _result(flat, columns, items, routes)


def _crossings(upper: list[_Item], items: Mapping[str, _Item]) -> int:
    """Edge crossings between a column and the next (inversions of the lower ends, by upper order)."""
    ends = sorted((item.order, items[low].order) for item in upper for low in item.down)
    seen: list[float] = []
    count = 0
    for _, low in ends:
        count += len(seen) - bisect_right(seen, low)
        insort(seen, low)
    return count


def _total_crossings(columns: list[list[_Item]], items: Mapping[str, _Item]) -> int:
    return sum(_crossings(column, items) for column in columns[:-1])


def _order(columns: list[list[_Item]], items: Mapping[str, _Item]) -> None:
    """Step 3: median sweeps, keeping each expanded flow's nodes together and the order with the fewest
    crossings seen."""
    best = _total_crossings(columns, items)
    best_orders = [[item.key for item in column] for column in columns]
    stale = 0
    for sweep in range(SWEEPS * 2):
        if best == 0 or stale >= 4:
            break
        downward = sweep % 2 == 0
        sequence = columns[1:] if downward else list(reversed(columns[:-1]))
        for column in sequence:
            rank: dict[str, float] = {}
            for item in column:
                positions = sorted(items[n].order for n in (item.up if downward else item.down))
                if not positions:
                    rank[item.key] = item.order
                elif len(positions) % 2:
                    rank[item.key] = positions[len(positions) // 2]
                else:  # the mean of the two middle ones, nudged by the node's place to keep ties stable
                    middle = len(positions) // 2
                    rank[item.key] = (positions[middle - 1] + positions[middle]) / 2
            members: dict[str, list[float]] = {}
            for item in column:
                for group in item.groups:
                    members.setdefault(group, []).append(rank[item.key])
            group_rank = {group: sum(values) / len(values) for group, values in members.items()}

            def key(
                item: _Item, rank: dict[str, float] = rank, group_rank: dict[str, float] = group_rank
            ) -> tuple[float, ...]:
                return (*(group_rank[g] for g in item.groups), rank[item.key], item.order)

            column.sort(key=key)
            for index, item in enumerate(column):
                item.order = index
        crossings = _total_crossings(columns, items)
        stale += 1
        if crossings < best:
            best, best_orders, stale = crossings, [[item.key for item in column] for column in columns], 0
    for column, keys in zip(columns, best_orders, strict=True):
        by_key = {item.key: item for item in column}
        column[:] = [by_key[key] for key in keys]
        for index, item in enumerate(column):
            item.order = index


def _gap(upper: _Item, lower: _Item) -> float:
    return WAYPOINT_GAP if upper.waypoint or lower.waypoint else ROW_GAP


def _fit_in_order(column: list[_Item], wanted: list[float]) -> list[float]:
    """Positions as close as possible (least squares) to ``wanted`` that keep the column's order and gaps:
    with the gaps subtracted this is isotonic regression, solved exactly by pooling adjacent violators."""
    offsets = [0.0]
    for upper, lower in zip(column, column[1:], strict=False):
        offsets.append(offsets[-1] + (upper.height + lower.height) / 2 + _gap(upper, lower))
    blocks: list[list[float]] = []  # [sum, count] of pooled targets
    for target in (w - o for w, o in zip(wanted, offsets, strict=True)):
        blocks.append([target, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted: list[float] = []
    for total, count in blocks:
        fitted.extend([total / count] * int(count))
    return [z + o for z, o in zip(fitted, offsets, strict=True)]


def _place(columns: list[list[_Item]], items: Mapping[str, _Item]) -> None:
    """Step 4: vertical positions (centres): each column packed and centred, then moved towards its
    neighbours (the ones before it, then after it, then both) as far as its order and gaps allow."""
    for column in columns:
        packed = _fit_in_order(column, [0.0] * len(column))
        middle = (packed[0] + packed[-1]) / 2 if packed else 0.0
        for item, y in zip(column, packed, strict=True):
            item.y = y - middle
    for sweep in range(SWEEPS + 2):
        mode = ("up", "down", "both")[sweep % 3] if sweep >= 2 else ("up", "down")[sweep]
        sequence = columns[1:] if mode == "up" else list(reversed(columns[:-1])) if mode == "down" else columns
        for column in sequence:
            wanted = []
            for item in column:
                neighbours = item.up if mode == "up" else item.down if mode == "down" else item.up + item.down
                wanted.append(sum(items[n].y for n in neighbours) / len(neighbours) if neighbours else item.y)
            for item, y in zip(column, _fit_in_order(column, wanted), strict=True):
                item.y = y


def _result(
    flat: _Flattener, columns: list[list[_Item]], items: Mapping[str, _Item], routes: list[tuple[str, str, list[str]]]
) -> Layout:
    top = min((item.y - item.height / 2 for item in items.values()), default=0.0)
    depth = max((len(item.groups) for item in items.values()), default=0)
    margin = FRAME_PAD + depth * (FRAME_PAD + FRAME_LABEL) + 4
    offset_y = margin - top

    def x_of(layer: int) -> float:
        return margin + layer * (NODE_WIDTH + COLUMN_GAP)

    nodes = []
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for column in columns:
        for item in column:
            if item.waypoint:
                continue
            x, y = x_of(item.layer), item.y - item.height / 2 + offset_y
            boxes[item.key] = (x, y, x + NODE_WIDTH, y + NODE_HEIGHT)
            node = dict(flat.nodes[item.key])
            node.update(x=round(x), y=round(y), layer=item.layer, group=item.groups[-1] if item.groups else None)
            nodes.append(node)
    edges = []
    for a, b, waypoints in routes:
        ax, ay, aright, abottom = boxes[a]
        bx, by, _, bbottom = boxes[b]
        points = [[round(aright), round((ay + abottom) / 2)]]
        points += [[round(x_of(items[w].layer) + NODE_WIDTH / 2), round(items[w].y + offset_y)] for w in waypoints]
        points.append([round(bx), round((by + bbottom) / 2)])
        edges.append({"from": a, "to": b, "points": points})
    frames: list[dict[str, Any]] = []
    for nested, subflow in flat.frames.items():
        inside = [boxes[k] for k in boxes if k.startswith(nested + ":")]
        if not inside:
            continue
        level = nested.count(":")
        inner = depth - level  # outer frames get more padding than the ones they contain
        pad = FRAME_PAD + (inner - 1) * (FRAME_PAD + FRAME_LABEL) / 2
        x0 = min(b[0] for b in inside) - pad
        y0 = min(b[1] for b in inside) - pad - FRAME_LABEL
        x1 = max(b[2] for b in inside) + pad
        y1 = max(b[3] for b in inside) + pad
        frames.append(
            {
                "id": nested,
                "flow": subflow,
                "x": round(x0),
                "y": round(y0),
                "width": round(x1 - x0),
                "height": round(y1 - y0),
                "level": level,
            }
        )
    frames.sort(key=lambda f: f["level"])
    width = max((b[2] for b in boxes.values()), default=0.0) + margin
    height = max((b[3] for b in boxes.values()), default=0.0) + margin
    for frame in frames:
        width = max(width, frame["x"] + frame["width"] + 4)
        height = max(height, frame["y"] + frame["height"] + 4)
    return Layout(nodes, edges, frames, round(width), round(height))
