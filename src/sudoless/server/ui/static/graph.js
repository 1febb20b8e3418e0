// The flow graph: draws a layout computed by the server (boxes, edges, frames of expanded embedded
// flows) as SVG, recolours nodes by status, and lets the reader pan (drag), zoom (wheel, buttons, + and -)
// and move between jobs with the arrow keys (one tab stop for the whole graph: a roving tabindex).
// On a narrow screen it starts as a list (one button per job, in the layout's order, with its status and
// parents), which a phone can read where a 61-job drawing cannot; the List/Graph button switches.
"use strict";

window.GraphView = (function () {
  const {svg, el, statusClass} = window.Sudoless;
  const MIN_SCALE = 0.08;
  const MAX_SCALE = 2.5;
  const NARROW = "(max-width: 720px)";  // the width where the navigation folds into a menu too

  function truncate(text, max) {
    return text.length <= max ? text : text.slice(0, max - 1) + "\u2026";
  }

  // Shorten a label (with an ellipsis) until it fits ``width`` pixels as rendered; the full text stays in
  // the node's title and accessible name. The width comes from a canvas set to the label's computed font,
  // not from getComputedTextLength: that one lays the page out again after every node appended, which made
  // drawing quadratic (a 1,000-job flow took seconds), and it reads 0 while the drawing is hidden.
  const measurer = document.createElement("canvas").getContext("2d");
  const fonts = new Map();  // a tspan's class -> its CSS font, read once
  function fit(textEl, full, width) {
    const kind = textEl.getAttribute("class");
    if (!fonts.has(kind)) {
      const style = getComputedStyle(textEl);
      fonts.set(kind, `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`);
    }
    if (measurer.font !== fonts.get(kind)) measurer.font = fonts.get(kind);
    const fits = (text) => measurer.measureText(text).width <= width;
    let low = full.length;
    if (!fits(full)) {
      let high = full.length;
      low = 1;
      while (low < high) {
        const middle = Math.ceil((low + high) / 2);
        if (fits(truncate(full, middle))) low = middle; else high = middle - 1;
      }
    }
    textEl.textContent = truncate(full, low);
  }

  function curve(points) {
    let d = `M ${points[0][0]} ${points[0][1]}`;
    for (let i = 1; i < points.length; i++) {
      const [x0, y0] = points[i - 1];
      const [x1, y1] = points[i];
      const dx = (x1 - x0) / 2;
      d += ` C ${x0 + dx} ${y0}, ${x1 - dx} ${y1}, ${x1} ${y1}`;
    }
    return d;
  }

  class GraphView {
    // options: {label, onActivate(id), onExpand(id), expanded: Set, activateHint}
    constructor(container, options) {
      this.container = container;
      this.options = options || {};
      this.scale = 1; this.tx = 0; this.ty = 0;
      this.statuses = {}; this.disabled = new Set(); this.selected = null;
      this.nodes = new Map(); this.layout = null; this.focusId = null; this.fitted = false;
      const button = (label, text, action) => el("button", {type: "button", "aria-label": label, title: label,
        text, onclick: action});
      this.toolbar = el("div", {class: "graph-tools", role: "toolbar", "aria-label": "Graph view"},
        button("Zoom in", "+", () => this.zoomBy(1.25)),
        button("Zoom out", "\u2212", () => this.zoomBy(0.8)),
        button("Fit the whole graph", "Fit", () => this.fit()),
        button("1:1, actual size", "1:1", () => this.actualSize()));
      this.listMode = window.matchMedia(NARROW).matches;
      this.modeButton = el("button", {type: "button", class: "graph-mode", "aria-pressed": String(this.listMode),
        text: "List", title: "Show the jobs as a list", onclick: () => this.setListMode(!this.listMode)});
      this.listEl = el("ol", {class: "graph-list", "aria-label": (this.options.label || "Flow graph") + ", as a list"});
      this.legend = el("p", {class: "graph-status small muted", "aria-live": "polite"});
      this.svgEl = svg("svg", {class: "graph-svg", role: "application",
        "aria-label": (this.options.label || "Flow graph") + ". Arrow keys move between jobs, Enter activates, + and - zoom, 0 fits."});
      const defs = svg("defs", {},
        svg("marker", {id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7",
          orient: "auto-start-reverse"}, svg("path", {d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead"})));
      this.viewport = svg("g", {class: "viewport"});
      this.svgEl.append(defs, this.viewport);
      container.replaceChildren(el("div", {class: "graph-modes"}, this.modeButton), this.toolbar, this.svgEl,
        this.listEl, this.legend);
      this.showMode();
      this.bindPointer();
      this.bindKeys();
    }

    async load(url) {
      this.legend.textContent = "Loading the graph\u2026";
      const layout = await window.Sudoless.get(url);
      if (layout.error) { this.legend.textContent = layout.error; return; }
      this.render(layout);
    }

    render(layout) {
      this.layout = layout;
      this.nodes.clear();
      this.viewport.replaceChildren();
      const expanded = this.options.expanded || new Set();
      for (const frame of layout.frames) {
        const label = svg("text", {class: "frame-label", x: frame.x + 8, y: frame.y + 14},
          `\u25BE ${frame.id.split(":").pop()} (${frame.flow})`);
        const g = svg("g", {class: "frame", dataset: {id: frame.id}},
          svg("rect", {x: frame.x, y: frame.y, width: frame.width, height: frame.height, rx: 8}), label,
          svg("title", {}, `Embedded flow ${frame.id}: click its name to collapse`));
        label.addEventListener("click", () => this.options.onExpand && this.options.onExpand(frame.id));
        this.viewport.append(g);
      }
      for (const edge of layout.edges) {
        this.viewport.append(svg("path", {class: "edge", d: curve(edge.points), "marker-end": "url(#arrow)",
          dataset: {from: edge.from, to: edge.to}}));
      }
      const w = layout.nodeWidth, h = layout.nodeHeight;
      for (const node of layout.nodes) {
        const g = svg("g", {class: "node", transform: `translate(${node.x},${node.y})`, tabindex: "-1",
          role: "button", dataset: {id: node.id}});
        g.append(svg("rect", {class: "body", width: w, height: h, rx: 6}),
          svg("rect", {class: "stripe", width: 6, height: h, rx: 3}),
          // one text of two lines, a space between them: read as "name type", as a voice user would say it
          svg("text", {class: "names"},
            svg("tspan", {class: "label", x: 12, y: 15}, truncate(node.name, node.subflow ? 18 : 21)), " ",
            svg("tspan", {class: "kind", x: 12, y: 28}, truncate(node.type + (node.condition ? " \u00B7 if " + node.condition : ""), 28))),
          svg("title", {}, `${node.id} (${node.type})`));
        if (node.subflow) {
          const toggle = svg("g", {class: "toggle", transform: `translate(${w - 16},${h / 2})`},
            svg("circle", {r: 9}), svg("text", {y: 4, "text-anchor": "middle", "aria-hidden": "true"}, expanded.has(node.id) ? "\u2212" : "+"),
            svg("title", {}, `Expand embedded flow ${node.subflow}`));
          toggle.addEventListener("click", (event) => {
            event.stopPropagation();
            if (this.options.onExpand) this.options.onExpand(node.id);
          });
          g.append(toggle);
        }
        g.addEventListener("click", () => { this.focusNode(node.id, false); this.activate(node.id); });
        g.addEventListener("focus", () => { this.focusId = node.id; });
        this.nodes.set(node.id, {data: node, g});
        this.viewport.append(g);
        const room = w - 18 - (node.subflow ? 22 : 0);
        fit(g.querySelector(".label"), node.name, room);
        fit(g.querySelector(".kind"), node.type + (node.condition ? " \u00B7 if " + node.condition : ""), room);
      }
      this.renderList(layout);
      const first = this.nodes.get(this.focusId) || this.nodes.values().next().value;
      if (first) { first.g.setAttribute("tabindex", "0"); this.focusId = first.data.id; }
      this.refresh();
      // A small graph gets a short canvas instead of a big empty one; a large one keeps the CSS height.
      this.svgEl.style.height = "";
      this.svgEl.style.minHeight = "";
      const natural = this.svgEl.getBoundingClientRect().height;
      if (layout.height + 40 < natural) {
        this.svgEl.style.minHeight = "140px";
        this.svgEl.style.height = `${Math.max(140, layout.height + 40)}px`;
      }
      if (!this.fitted) { this.fit(); this.fitted = true; } else { this.apply(); }
      this.legend.textContent = `${layout.nodes.length} jobs` + (layout.frames.length ? `, ${layout.frames.length} embedded flow(s) expanded` : "");
    }

    setListMode(on) {
      this.listMode = on;
      this.showMode();
      // labels are fitted to their boxes by measuring them, which a hidden drawing cannot: draw it anew
      if (!on && this.layout) { this.render(this.layout); this.fit(); }
    }

    showMode() {
      this.modeButton.setAttribute("aria-pressed", String(this.listMode));
      this.svgEl.style.display = this.listMode ? "none" : "";  // an SVG element has no hidden property
      this.toolbar.hidden = this.listMode;
      this.listEl.hidden = !this.listMode;
    }

    // One entry per job: a button doing what a click on its node does, its status and the jobs it waits for.
    renderList(layout) {
      const parents = new Map();
      for (const edge of layout.edges) {
        if (!parents.has(edge.to)) parents.set(edge.to, []);
        parents.get(edge.to).push(edge.from);
      }
      const byName = (id) => (this.nodes.get(id) ? this.nodes.get(id).data.name : id);
      this.listEl.replaceChildren();
      for (const [id, entry] of this.nodes) {
        const data = entry.data;
        const after = (parents.get(id) || []).map(byName);
        const status = el("span", {class: "status", hidden: true});
        const item = el("li", {class: "graph-item", dataset: {id}},
          el("button", {type: "button", class: "link", text: data.name,
            onclick: () => { this.focusId = id; this.activate(id); }}),
          " ", el("span", {class: "small muted", text: data.type + (data.condition ? " \u00B7 if " + data.condition : "")}),
          " ", status,
          after.length ? el("span", {class: "small muted graph-after", text: " after " + after.join(", ")}) : "");
        entry.item = item;
        entry.status = status;
        this.listEl.append(item);
      }
    }

    activate(id) {
      const entry = this.nodes.get(id);
      if (!entry) return;
      if (this.options.onActivate) this.options.onActivate(id, entry.data);
    }

    // statuses: {nestedId: STATUS}; a collapsed embedded flow shows its own row's status.
    setStatuses(statuses) { this.statuses = statuses; this.refresh(); }
    setDisabled(set) { this.disabled = set; this.refresh(); }
    setSelected(id) { this.selected = id; this.refresh(); }

    refresh() {
      for (const [id, {data, g}] of this.nodes) {
        const status = this.statuses[id] || (this.disabled.has(id) ? "DISABLED" : "");
        const classes = ["node"];
        if (status) classes.push(statusClass(status));
        if (this.disabled.has(id)) classes.push("is-disabled");
        if (this.selected === id) classes.push("is-selected");
        if (data.subflow) classes.push("is-subflow");
        g.setAttribute("class", classes.join(" "));
        // The name starts with the text the node shows (its name and type, as drawn, maybe shortened), so
        // that what a voice-control user reads out names it; the full nested id follows when it differs.
        const shown = [...g.querySelectorAll(".label, .kind")].map((t) => t.textContent).join(" ");
        const parts = [shown];
        if (data.id !== data.name || shown.includes("\u2026")) parts.push(data.id);  // nested or shortened
        if (status) parts.push(status.toLowerCase().replace(/_/g, " "));
        if (this.disabled.has(id)) parts.push("disabled for the next run");
        if (data.subflow) parts.push("embedded flow, press E to expand");
        g.setAttribute("aria-label", parts.join(", "));
        const entry = this.nodes.get(id);
        if (entry.item) {
          const shownStatus = status || "";
          entry.status.hidden = !shownStatus;
          entry.status.className = "status " + (shownStatus ? statusClass(shownStatus) : "");
          entry.status.textContent = shownStatus;
          entry.item.classList.toggle("is-selected", this.selected === id);
          entry.item.classList.toggle("is-disabled", this.disabled.has(id));
        }
      }
    }

    apply() {
      this.viewport.setAttribute("transform", `translate(${this.tx},${this.ty}) scale(${this.scale})`);
    }

    size() {
      const box = this.svgEl.getBoundingClientRect();
      return [box.width || 800, box.height || 400];
    }

    fit() {
      if (!this.layout) return;
      const [cw, ch] = this.size();
      const scale = Math.max(MIN_SCALE, Math.min(1, (cw - 20) / this.layout.width, (ch - 20) / this.layout.height));
      this.scale = scale;
      this.tx = Math.max(10, (cw - this.layout.width * scale) / 2);
      this.ty = Math.max(10, (ch - this.layout.height * scale) / 2);
      this.apply();
    }

    actualSize() { this.scale = 1; this.tx = 10; this.ty = 10; this.apply(); }

    zoomBy(factor, cx, cy) {
      const [cw, ch] = this.size();
      const x = cx === undefined ? cw / 2 : cx;
      const y = cy === undefined ? ch / 2 : cy;
      const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
      this.tx = x - (x - this.tx) * (scale / this.scale);
      this.ty = y - (y - this.ty) * (scale / this.scale);
      this.scale = scale;
      this.apply();
    }

    bindPointer() {
      let drag = null;
      this.svgEl.addEventListener("pointerdown", (event) => {
        if (event.button !== 0 || event.target.closest(".node, .toggle, .frame-label")) return;
        drag = {x: event.clientX, y: event.clientY, tx: this.tx, ty: this.ty};
        this.svgEl.setPointerCapture(event.pointerId);
        this.svgEl.classList.add("dragging");
      });
      this.svgEl.addEventListener("pointermove", (event) => {
        if (!drag) return;
        this.tx = drag.tx + event.clientX - drag.x;
        this.ty = drag.ty + event.clientY - drag.y;
        this.apply();
      });
      const stop = () => { drag = null; this.svgEl.classList.remove("dragging"); };
      this.svgEl.addEventListener("pointerup", stop);
      this.svgEl.addEventListener("pointercancel", stop);
      this.svgEl.addEventListener("wheel", (event) => {
        event.preventDefault();
        const box = this.svgEl.getBoundingClientRect();
        this.zoomBy(event.deltaY < 0 ? 1.15 : 1 / 1.15, event.clientX - box.left, event.clientY - box.top);
      }, {passive: false});
    }

    neighbour(id, key) {
      const here = this.nodes.get(id);
      if (!here) return null;
      const {layer, y} = here.data;
      const all = [...this.nodes.values()].map((n) => n.data);
      if (key === "ArrowUp" || key === "ArrowDown") {
        const column = all.filter((n) => n.layer === layer).sort((a, b) => a.y - b.y);
        const index = column.findIndex((n) => n.id === id) + (key === "ArrowUp" ? -1 : 1);
        return column[index] ? column[index].id : null;
      }
      const wanted = layer + (key === "ArrowLeft" ? -1 : 1);
      const column = all.filter((n) => n.layer === wanted);
      if (!column.length) return null;
      column.sort((a, b) => Math.abs(a.y - y) - Math.abs(b.y - y));
      return column[0].id;
    }

    focusNode(id, move) {
      const entry = this.nodes.get(id);
      if (!entry) return;
      for (const {g} of this.nodes.values()) g.setAttribute("tabindex", "-1");
      entry.g.setAttribute("tabindex", "0");
      this.focusId = id;
      if (move !== false) entry.g.focus();
      // Keep the focused job on screen.
      const [cw, ch] = this.size();
      const {x, y} = entry.data;
      const sx = this.tx + x * this.scale, sy = this.ty + y * this.scale;
      const w = this.layout.nodeWidth * this.scale, h = this.layout.nodeHeight * this.scale;
      if (sx < 0 || sx + w > cw) this.tx += sx < 0 ? -sx + 20 : cw - (sx + w) - 20;
      if (sy < 0 || sy + h > ch) this.ty += sy < 0 ? -sy + 20 : ch - (sy + h) - 20;
      this.apply();
    }

    bindKeys() {
      this.svgEl.addEventListener("keydown", (event) => {
        const id = this.focusId;
        if (event.key.startsWith("Arrow")) {
          const next = this.neighbour(id, event.key);
          if (next) this.focusNode(next);
          event.preventDefault();
        } else if ((event.key === "Enter" || event.key === " ") && id) {
          this.activate(id);
          event.preventDefault();
        } else if (event.key === "+" || event.key === "=") {
          this.zoomBy(1.25); event.preventDefault();
        } else if (event.key === "-") {
          this.zoomBy(0.8); event.preventDefault();
        } else if (event.key === "0") {
          this.fit(); event.preventDefault();
        } else if ((event.key === "e" || event.key === "E") && id && this.options.onExpand) {
          const entry = this.nodes.get(id);
          const group = entry && entry.data.group;
          if (entry && entry.data.subflow) this.options.onExpand(id);
          else if (group) this.options.onExpand(group);
          event.preventDefault();
        }
      });
    }
  }
  return GraphView;
})();
