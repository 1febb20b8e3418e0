// The job details panel of the flow and execution pages: what a job runs, its resolved properties (secrets
// masked by the server), its condition, parents and children (links that open theirs), its last durations
// as a small chart and links to its last logs. The page gives the panel's section and the URL of a job's data.
"use strict";

window.JobPanel = (function () {
  const S = window.Sudoless;

  function chart(spec, name) {
    const box = S.svg("svg", {class: "chart job-chart", viewBox: `0 0 ${spec.width} ${spec.height}`, role: "img",
      "aria-labelledby": "job-chart-desc"},
    S.svg("desc", {id: "job-chart-desc",
      text: `Duration of the last ${spec.bars.length} attempts of ${name}, oldest on the left; the colour shows the outcome.`}));
    for (const [y, label] of spec.ticks) {
      box.append(S.svg("line", {class: "tick", x1: spec.axis, x2: spec.width, y1: y, y2: y}),
        S.svg("text", {class: "axis", x: spec.axis - 4, y: y + 4, "text-anchor": "end", text: label}));
    }
    for (const bar of spec.bars) {
      box.append(S.svg("rect", {class: `bar ${S.statusClass(bar.status)}`, x: bar.x, y: bar.y, width: bar.width,
        height: bar.height}, S.svg("title", {text: bar.title})));
    }
    return box;
  }

  function links(ids, open) {
    if (!ids.length) return S.el("span", {class: "muted", text: "none"});
    const list = S.el("span", {class: "job-links"});
    for (const id of ids) {
      list.append(S.el("a", {href: `#job-${encodeURIComponent(id)}`, class: "job-name", text: id,
        onclick: (event) => { event.preventDefault(); open(id); }}), " ");
    }
    return list;
  }

  function row(term, ...value) {
    return [S.el("dt", {text: term}), S.el("dd", {}, ...value)];
  }

  // section: the panel's <section>; urlOf(id): the URL of a job's details.
  function JobPanel(section, urlOf) {
    this.section = section;
    this.urlOf = urlOf;
    this.body = section.querySelector(".job-panel-body");
    this.title = section.querySelector(".job-panel-name");
    section.querySelector(".job-panel-close").addEventListener("click", () => { section.hidden = true; });
  }

  JobPanel.prototype.open = async function (id) {
    const open = (next) => this.open(next);
    this.section.hidden = false;
    this.title.textContent = id;
    this.body.replaceChildren(S.el("p", {class: "muted small", text: "Loading\u2026"}));
    this.section.scrollIntoView({block: "start"});
    let job;
    try {
      job = await S.get(this.urlOf(id));
    } catch (e) {
      job = {error: e.message};
    }
    if (job.error) {
      this.body.replaceChildren(S.el("p", {class: "note note-error", role: "alert", text: job.error}));
      return;
    }
    const facts = S.el("dl", {class: "job-facts"},
      ...row("Type", S.el("code", {id: "job-type", text: job.type})),
      ...row("Command", job.command ? S.el("code", {id: "job-command", class: "wrap", text: job.command})
        : S.el("span", {class: "muted", id: "job-command", text: "none (not a command job)"})),
      ...row("Condition", job.condition ? S.el("code", {id: "job-condition", text: job.condition})
        : S.el("span", {class: "muted", id: "job-condition", text: "all parents succeeded (the default)"})),
      ...row("Parents", S.el("span", {id: "job-parents"}, links(job.parents, open))),
      ...row("Children", S.el("span", {id: "job-children"}, links(job.children, open))),
      ...row("Defined in", S.el("code", {text: job.source || "-"})));
    const props = S.el("table", {class: "list compact job-props", id: "job-props"},
      S.el("caption", {class: "small muted", text: "As a run resolves them; values of keys that look secret are masked."}),
      S.el("thead", {}, S.el("tr", {}, S.el("th", {scope: "col", text: "Property"}), S.el("th", {scope: "col", text: "Value"}))),
      S.el("tbody", {}, ...job.properties.map(([key, value]) => S.el("tr", {dataset: {key}},
        S.el("th", {scope: "row", text: key}),
        S.el("td", {title: job.unresolved[key] || null},
          S.el("code", {class: "wrap", text: value}),
          job.unresolved[key] ? S.el("span", {class: "small muted", text: " (filled in when it runs)"}) : null)))));
    const history = S.el("div", {class: "job-history"});
    if (job.recent.length) {
      history.append(chart(job.chart, job.id));
      const logs = S.el("ul", {class: "job-logs", id: "job-logs"});
      for (const run of job.recent.slice(0, 5)) {
        logs.append(S.el("li", {},
          S.el("a", {href: run.log, text: `#${run.execid} attempt ${run.attempt}`}), " ",
          S.el("span", {class: `status ${S.statusClass(run.status)}`, text: run.status}), " ",
          S.el("span", {class: "small muted", text: `${S.fmtTime(run.start)}, ${S.fmtDuration(run.end >= 0 ? run.end - run.start : -1)}`})));
      }
      history.append(S.el("h3", {text: "Last logs"}), logs);
    } else {
      history.append(S.el("p", {class: "muted small", id: "job-logs", text: "This job has not run yet."}));
    }
    this.body.replaceChildren(
      S.el("div", {class: "job-panel-grid"},
        S.el("div", {}, facts, S.el("h3", {text: "Recent attempts of this job"}), history),
        S.el("div", {class: "table-wrap"}, props)));
  };

  return JobPanel;
})();
