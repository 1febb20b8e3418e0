// The execution page, live: polls /ui/data/executions/N/runs?since=T (only rows changed since the last
// poll) once a second while the run goes on and the tab is visible, every 10 s when it is hidden, and
// not at all once it is over. Each answer updates the graph colours, the job table, the timeline and the
// header in place. The log viewer reads byte ranges and follows a running log from its last byte.
"use strict";

(function () {
  const S = window.Sudoless;
  const data = S.pageData();
  const TERMINAL = new Set(["SUCCEEDED", "FAILED", "KILLED", "EXECUTION_STOPPED"]);
  const JOB_OVER = new Set(["SUCCEEDED", "FAILED", "KILLED", "SKIPPED", "CANCELLED", "FAILED_SUCCEEDED", "DISABLED",
    "EXECUTION_STOPPED"]);
  const PAGE = 65536;
  const KEEP = 512 * 1024;  // bytes of log kept on screen while following

  let execution = data.state.execution;
  const attempts = new Map();  // "id#attempt" -> run
  const latest = new Map();    // id -> latest attempt
  let since = -1;
  let clockSkew = Date.now() - data.state.now;
  let timer = null;
  const expanded = new Set();

  // -- state -------------------------------------------------------------------------------------------
  function merge(state) {
    execution = state.execution;
    clockSkew = Date.now() - state.now;
    for (const run of state.runs) {
      attempts.set(`${run.id}#${run.attempt}`, run);
      const current = latest.get(run.id);
      if (!current || run.attempt >= current.attempt) latest.set(run.id, run);
      since = Math.max(since, run.update);
    }
    since = Math.max(since, execution.updateTime);
  }
  const serverNow = () => Date.now() - clockSkew;
  const statuses = () => Object.fromEntries([...latest].map(([id, run]) => [id, run.status]));
  const elapsed = (start, end) => (start < 0 ? -1 : (end >= 0 ? end : serverNow()) - start);

  // -- header and controls ---------------------------------------------------------------------------
  function renderHeader() {
    const badge = S.el("span", {class: `status ${S.statusClass(execution.status)}`, text: execution.status});
    document.getElementById("flow-status").replaceChildren(badge);
    document.getElementById("flow-duration").textContent = S.fmtDuration(elapsed(execution.startTime, execution.endTime));
    const show = (id, visible) => { const b = document.getElementById(id); if (b) b.hidden = !visible; };
    const status = execution.status;
    show("retry-button", status === "FAILED_FINISHING");
    show("pause-button", status === "RUNNING");
    show("resume-button", status === "PAUSED");
    show("cancel-button", !TERMINAL.has(status));
    show("prepare-button", TERMINAL.has(status) && status !== "SUCCEEDED");
    show("restart-button", TERMINAL.has(status) && status !== "SUCCEEDED");
  }

  // Restart failed: a new execution that continues in this one's folder; the page then follows it.
  const restart = document.getElementById("restart-button");
  if (restart) {
    restart.addEventListener("click", async () => {
      if (!window.confirm(restart.dataset.confirm)) return;
      const error = document.getElementById("control-error");
      S.showError(error, "");
      restart.disabled = true;
      try {
        const answer = await S.post(restart.dataset.url, {"csrf.token": S.csrf});
        if (answer.error || !(answer.execid > 0)) S.showError(error, answer.error || "The restart was refused.");
        else window.location.assign(`/ui/executions/${answer.execid}`);
      } catch (e) {
        S.showError(error, e.message);
      } finally {
        restart.disabled = false;
      }
    });
  }

  for (const button of document.querySelectorAll("#controls button[data-action]")) {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      const error = document.getElementById("control-error");
      S.showError(error, "");
      button.disabled = true;
      try {
        const answer = await S.post("/executor", {ajax: button.dataset.action, execid: data.execid, "csrf.token": S.csrf});
        const problem = answer.error || answer.resume;
        if (problem) S.showError(error, problem);
        else S.note("success", `${button.textContent.trim()}: requested.`);
      } catch (e) {
        S.showError(error, e.message);
      } finally {
        button.disabled = false;
        poll(true);
      }
    });
  }

  const panel = new window.JobPanel(document.getElementById("job-panel"), (id) => `${data.jobUrl}/${encodeURIComponent(id)}`);

  // -- graph -------------------------------------------------------------------------------------------
  const graph = new window.GraphView(document.getElementById("graph"), {
    label: `Graph of execution ${data.execid}`,
    expanded,
    onActivate: (id) => showLogOf(id),
    onExpand: (id) => {
      if (expanded.has(id)) {
        for (const e of [...expanded]) if (e === id || e.startsWith(id + ":")) expanded.delete(e);
      } else expanded.add(id);
      loadGraph();
    },
  });
  function loadGraph() {
    const url = data.layoutUrl + (expanded.size ? "?expand=" + encodeURIComponent([...expanded].join(",")) : "");
    return graph.load(url).then(() => { graph.setStatuses(statuses()); focusFirstFailure(); });
  }

  // -- job table ---------------------------------------------------------------------------------------
  const tbody = document.querySelector("#job-table tbody");
  const rows = new Map();
  // Failed jobs first (the earliest failure on top), then jobs by first start (not started yet last), then name.
  const FAILED = new Set(["FAILED"]);
  const ACTIVE = new Set(["RUNNING", "QUEUED", "DISPATCHING", "PREPARING", "KILLING", "PAUSED"]);
  function order() {
    const first = new Map();
    for (const run of attempts.values()) {
      if (run.start >= 0) first.set(run.id, Math.min(first.get(run.id) ?? Infinity, run.start));
    }
    const at = (id) => first.get(id) ?? Infinity;
    const failedAt = (run) => (FAILED.has(run.status) ? (run.end >= 0 ? run.end : Infinity) : null);
    return [...latest.values()].sort((a, b) => {
      const fa = failedAt(a), fb = failedAt(b);
      if ((fa === null) !== (fb === null)) return fa === null ? 1 : -1;
      if (fa !== null && fa !== fb) return fa - fb;
      return at(a.id) - at(b.id) || a.id.localeCompare(b.id);
    });
  }
  const filterInputs = [...document.querySelectorAll("#job-filter input")];
  const wantedFilter = () => (filterInputs.find((i) => i.checked) || {value: "all"}).value;
  const matches = (run, filter) => filter === "all" || (filter === "failed" ? FAILED.has(run.status) : ACTIVE.has(run.status));
  function applyFilter(runs) {
    const filter = wantedFilter();
    let shown = 0;
    for (const run of runs) {
      const visible = matches(run, filter);
      rows.get(run.id).hidden = !visible;
      if (visible) shown++;
    }
    document.getElementById("job-filter-empty").hidden = shown > 0;
    for (const name of ["failed", "running", "all"]) {
      document.getElementById(`count-${name}`).textContent = `(${runs.filter((r) => matches(r, name)).length})`;
    }
  }
  for (const input of filterInputs) input.addEventListener("change", () => applyFilter(order()));

  let shownOrder = "";
  function renderTable() {
    const runs = order();
    for (const run of runs) {
      let row = rows.get(run.id);
      if (!row) {
        const logButton = S.el("button", {type: "button", class: "link", text: "Log",
          "aria-label": `Log of ${run.id}`, onclick: () => showLogOf(run.id)});
        const detailsButton = S.el("button", {type: "button", class: "link job-details", text: "Details",
          "aria-label": `Details of ${run.id}`, onclick: () => panel.open(run.id)});
        row = S.el("tr", {dataset: {job: run.id}},
          S.el("th", {scope: "row", class: "job-name", text: run.id}), S.el("td", {text: run.type}), S.el("td"), S.el("td"),
          S.el("td"), S.el("td"), S.el("td"), S.el("td", {class: "row-actions"}, logButton, " ", detailsButton));
        rows.set(run.id, row);
        tbody.append(row);
      }
      const cells = row.children;
      cells[2].replaceChildren(S.el("span", {class: `status ${S.statusClass(run.status)}`, text: run.status}));
      cells[3].textContent = String(run.attempt);  // numbered as the log numbers it: 0 is the first run
      cells[4].textContent = S.fmtTime(run.start);
      cells[5].textContent = S.fmtTime(run.end);
      cells[6].textContent = S.fmtDuration(elapsed(run.start, run.end));
    }
    // Rows follow the order jobs started in; moving rows only when that changes keeps keyboard focus put.
    const now = runs.map((run) => run.id).join("\n");
    if (now !== shownOrder) {
      shownOrder = now;
      const focused = document.activeElement;
      tbody.append(...runs.map((run) => rows.get(run.id)));
      if (focused && tbody.contains(focused)) focused.focus();
    }
    applyFilter(runs);
  }

  // -- failure banner: the first job that failed, named with the first error lines of its log -----------------
  const ERROR_LINE = /\b(ERROR|FATAL|CRITICAL|Exception|Traceback|stderr)\b|Error:/;
  const banner = document.getElementById("failure-banner");
  let bannerJob = null;
  const showLogOf = (id) => { openLog(id); document.getElementById("log-section").scrollIntoView({block: "start"}); };
  document.getElementById("failure-open").addEventListener("click", () => { if (bannerJob) showLogOf(bannerJob); });
  function firstFailure() {
    return order().find((run) => FAILED.has(run.status)) || null;
  }
  async function renderBanner() {
    const failure = firstFailure();
    const count = [...latest.values()].filter((run) => FAILED.has(run.status)).length;
    banner.hidden = !failure;
    if (!failure) return;
    document.getElementById("failure-more").textContent = count > 1 ? `and ${count - 1} more failed job(s)` : "";
    if (failure.id === bannerJob) return;
    bannerJob = failure.id;
    document.getElementById("failure-job").textContent = failure.id;
    document.getElementById("failure-open").setAttribute("aria-label", `open log of ${failure.id}`);
    const excerpt = document.getElementById("failure-excerpt");
    excerpt.textContent = "";
    try {
      const page = await S.get(data.logUrl, {job: failure.id, attempt: failure.attempt, offset: -1, length: 16384});
      const lines = (page.data || "").split("\n").filter((line) => line.trim());
      // Error lines, but not the log's echo of the command (which may quote the word ERROR itself).
      const errors = lines.filter((line) => ERROR_LINE.test(line) && !/ INFO - Command: /.test(line));
      excerpt.textContent = (errors.length ? errors.slice(0, 5) : lines.slice(-5)).join("\n");
    } catch (e) {
      excerpt.textContent = "";
    }
  }
  let graphFocused = false;
  function focusFirstFailure() {
    const failure = firstFailure();
    if (!failure || graphFocused || !graph.nodes) return;
    const parts = failure.id.split(":");  // an inner job of a collapsed embedded flow: its outermost node
    const id = [...parts.keys()].map((i) => parts.slice(0, parts.length - i).join(":")).find((n) => graph.nodes.has(n));
    if (id) { graph.focusNode(id, false); graphFocused = true; }
  }

  // -- timeline (Gantt) ----------------------------------------------------------------------------------
  const timeline = document.getElementById("timeline");
  function renderTimeline() {
    const began = new Set([...attempts.values()].filter((r) => r.start >= 0).map((r) => r.id));
    const started = order().filter((run) => began.has(run.id));
    if (!started.length) {
      timeline.replaceChildren(S.el("p", {class: "muted", text: "No job has started yet."}));
      return;
    }
    // Each job's started attempts, gathered in one pass: looking them up per row was quadratic (a 10,000-job
    // run took seconds of script per redraw). Folds, not Math.min(...spread): a spread is limited in length.
    const triesOf = new Map();
    let t0 = Infinity, t1 = -Infinity;
    for (const r of attempts.values()) {
      if (r.start < 0) continue;
      if (!triesOf.has(r.id)) triesOf.set(r.id, []);
      triesOf.get(r.id).push(r);
      t0 = Math.min(t0, r.start);
      t1 = Math.max(t1, r.end >= 0 ? r.end : serverNow());
    }
    t1 = Math.max(t1, t0 + 1000);
    const labelWidth = 190, width = Math.max(timeline.clientWidth || 900, 500), rowHeight = 22, top = 24;
    const plot = width - labelWidth - 16;
    const x = (t) => labelWidth + ((t - t0) / (t1 - t0)) * plot;
    const height = top + started.length * rowHeight + 6;
    const chart = S.svg("svg", {class: "gantt", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Timeline of ${started.length} jobs over ${S.fmtDuration(t1 - t0)}`});
    for (let i = 0; i <= 4; i++) {
      const t = t0 + ((t1 - t0) * i) / 4;
      chart.append(S.svg("line", {class: "tick", x1: x(t), x2: x(t), y1: top - 6, y2: height}),
        S.svg("text", {class: "axis", x: x(t), y: 12, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle"},
          `+${S.fmtDuration(t - t0)}`));
    }
    started.forEach((run, index) => {
      const y = top + index * rowHeight;
      chart.append(S.svg("text", {class: "gantt-label", x: 4, y: y + 15},
        run.id.length > 26 ? run.id.slice(0, 25) + "\u2026" : run.id, S.svg("title", {}, run.id)));
      const tries = (triesOf.get(run.id) || []).sort((a, b) => a.attempt - b.attempt);
      for (const attempt of tries) {
        const end = attempt.end >= 0 ? attempt.end : serverNow();
        const bar = S.svg("rect", {class: `bar ${S.statusClass(attempt.status)}`, x: x(attempt.start), y: y + 4,
          width: Math.max(2, x(end) - x(attempt.start)), height: rowHeight - 8, rx: 2},
          S.svg("title", {}, `${run.id} attempt ${attempt.attempt}: ${attempt.status}, ${S.fmtDuration(end - attempt.start)}`));
        chart.append(bar);
      }
    });
    timeline.replaceChildren(chart);
    S.keyboardScroll();
  }

  function renderAll() {
    renderHeader();
    renderTable();
    renderTimeline();
    graph.setStatuses(statuses());
    refreshLogChoices();
    renderBanner();
    focusFirstFailure();
  }

  // -- polling -------------------------------------------------------------------------------------------
  async function poll(now) {
    if (timer) { clearTimeout(timer); timer = null; }
    try {
      const state = await S.get(data.runsUrl, {since});
      if (!state.error) { merge(state); renderAll(); }
    } catch (e) {
      S.note("error", `Live updates paused: ${e.message}`);
    }
    if (!execution.over || now) schedule();
  }
  function schedule() {
    if (timer) clearTimeout(timer);
    if (execution.over) return;
    timer = setTimeout(() => poll(false), document.hidden ? 10000 : 1000);
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden && !execution.over) poll(false); });
  // Durations of running jobs tick locally between polls.
  setInterval(() => { if (!execution.over) { renderHeader(); renderTable(); } }, 1000);

  // -- log viewer ------------------------------------------------------------------------------------------
  const logText = document.getElementById("log-text");
  const logJob = document.getElementById("log-job");
  const logAttempt = document.getElementById("log-attempt");
  const follow = document.getElementById("log-follow");
  // generation: bumped by every read that replaces the text shown (a page turn, another job), so that a read
  // still in flight for the text before it (a follow step) is dropped instead of appending to the wrong page.
  const log = {job: "", attempt: null, start: 0, end: 0, size: 0, timer: null, busy: false, reason: null, generation: 0};

  // Log text as one span per line, error lines marked (the pre's text stays the log's bytes, decoded).
  function logLines(text) {
    const fragment = document.createDocumentFragment();
    for (const line of text.split(/(?<=\n)/)) {
      fragment.append(S.el("span", {class: ERROR_LINE.test(line) ? "is-error" : null, text: line}));
    }
    return fragment;
  }
  function setLogText(text) {
    logText.replaceChildren(logLines(text));
  }

  function refreshLogChoices() {
    const known = new Set([...logJob.options].map((o) => o.value));
    for (const id of [...latest.keys()].sort()) {
      if (!known.has(id)) logJob.append(S.el("option", {value: id, text: id}));
    }
  }

  function jobOver() {
    if (!log.job) return execution.over;
    const run = latest.get(log.job);
    return execution.over || Boolean(run && JOB_OVER.has(run.status));
  }

  function showRange() {
    document.getElementById("log-name").textContent = log.job || "flow";
    document.getElementById("log-range").textContent = log.size
      ? `Bytes ${log.start.toLocaleString()}\u2013${log.end.toLocaleString()} of ${log.size.toLocaleString()}` +
        (follow.checked && !jobOver() ? " (following)" : "")
      : (log.reason || (jobOver() ? "This log is empty." : "Nothing logged yet; waiting\u2026"));
    document.getElementById("log-prev").disabled = log.start <= 0;
    document.getElementById("log-first").disabled = log.start <= 0;
    document.getElementById("log-next").disabled = log.end >= log.size;
  }

  async function fetchLog(offset, append) {
    const generation = append ? log.generation : ++log.generation;
    const params = {job: log.job, offset, length: PAGE};
    if (log.attempt !== null) params.attempt = log.attempt;
    let page;
    try {
      page = await S.get(data.logUrl, params);
    } catch (e) {  // the network is gone, or the session ended (S.get then goes to the login page)
      if (generation === log.generation) {
        document.getElementById("log-range").textContent = `The log could not be read: ${e.message}`;
      }
      return null;
    }
    if (generation !== log.generation) return null;  // the text it was read for has been replaced since
    if (page.error) { logText.textContent = page.error; return null; }
    log.reason = page.reason || null;
    document.getElementById("log-download").href = `${data.logUrl}?${new URLSearchParams({job: log.job, attempt: page.attempt, download: 1})}`;
    if (log.attempt === null || !append) {
      logAttempt.replaceChildren(...page.attempts.map((a) => S.el("option", {value: a, text: `Attempt ${a}`})));
      logAttempt.value = String(page.attempt);
      logAttempt.hidden = page.attempts.length < 2;
    }
    log.attempt = page.attempt;
    log.size = page.size;
    if (append) {
      if (page.length) {
        logText.append(logLines(page.data));
        log.end = page.offset + page.length;
        if (logText.textContent.length > KEEP) {  // keep the page light: drop the oldest text
          const cut = logText.textContent.length - KEEP;
          setLogText(logText.textContent.slice(cut));
          log.start = log.end - new TextEncoder().encode(logText.textContent).length;
        }
      }
    } else {
      setLogText(page.data);
      log.start = page.offset;
      log.end = page.offset + page.length;
    }
    showRange();
    search(false);
    return page;
  }
  // Paging moves the view to where reading goes on: Start and Next to the top, Previous and End to the bottom.
  async function turnPage(offset, where) {
    const answer = await fetchLog(offset, false);
    if (answer) logText.scrollTop = where === "top" ? 0 : logText.scrollHeight;
    return answer;
  }

  // -- search in the text shown: every match highlighted, the current one scrolled to --------------------------
  const searchBox = document.getElementById("log-search");
  const found = {ranges: [], index: -1};
  const MAX_MATCHES = 10000;
  function search(move, step) {
    const wanted = searchBox.value.toLowerCase();
    const ranges = [];
    if (wanted) {
      for (const span of logText.children) {
        const node = span.firstChild;
        if (!node) continue;
        const text = node.data.toLowerCase();
        for (let at = text.indexOf(wanted); at >= 0 && ranges.length < MAX_MATCHES; at = text.indexOf(wanted, at + wanted.length)) {
          const range = document.createRange();
          range.setStart(node, at);
          range.setEnd(node, at + wanted.length);
          ranges.push(range);
        }
      }
    }
    found.ranges = ranges;
    if (!ranges.length) found.index = -1;
    else if (step) found.index = (Math.max(found.index, step > 0 ? -1 : 0) + step + ranges.length) % ranges.length;
    else found.index = Math.min(Math.max(found.index, 0), ranges.length - 1);
    if (window.CSS && CSS.highlights) {
      CSS.highlights.set("log-match", new Highlight(...ranges));
      CSS.highlights.set("log-current", new Highlight(...(found.index >= 0 ? [ranges[found.index]] : [])));
    }
    document.getElementById("log-search-count").textContent = !wanted ? "" : ranges.length
      ? `${found.index + 1} of ${ranges.length}` : "No match in the part shown";
    if (move && found.index >= 0) {
      const box = ranges[found.index].getBoundingClientRect(), frame = logText.getBoundingClientRect();
      logText.scrollTop += box.top - frame.top - logText.clientHeight / 2;
    }
  }
  searchBox.addEventListener("input", () => { found.index = -1; search(true, 1); });
  document.getElementById("log-search-form").addEventListener("submit", (event) => { event.preventDefault(); search(true, 1); });
  document.getElementById("log-search-prev").addEventListener("click", () => search(true, -1));

  async function followStep() {
    if (log.timer) { clearTimeout(log.timer); log.timer = null; }
    if (!follow.checked || log.busy) return;
    log.busy = true;
    try {
      let page;
      do {  // catch up in 64 KB steps, then wait
        page = await fetchLog(log.end, true);
      } while (page && page.length === PAGE && follow.checked);
      if (page && follow.checked) logText.scrollTop = logText.scrollHeight;
    } finally {
      log.busy = false;
    }
    if (follow.checked && !(jobOver() && log.end >= log.size)) {
      log.timer = setTimeout(followStep, document.hidden ? 10000 : 1000);
    } else {
      showRange();
    }
  }

  async function openLog(job, attempt) {
    log.job = job || "";
    log.attempt = attempt === undefined ? null : attempt;
    logJob.value = log.job;
    graph.setSelected(log.job || null);
    if (follow.checked) {
      await fetchLog(-1, false);
      logText.scrollTop = logText.scrollHeight;
      followStep();
    } else {
      await fetchLog(0, false);
    }
  }

  logJob.addEventListener("change", () => openLog(logJob.value));
  logAttempt.addEventListener("change", () => openLog(log.job, Number(logAttempt.value)));
  follow.addEventListener("change", () => { if (follow.checked) fetchLog(-1, false).then(followStep); });
  const stopFollowing = () => { follow.checked = false; if (log.timer) clearTimeout(log.timer); };
  document.getElementById("log-first").addEventListener("click", () => { stopFollowing(); turnPage(0, "top"); });
  document.getElementById("log-prev").addEventListener("click", () => { stopFollowing(); turnPage(Math.max(0, log.start - PAGE), "bottom"); });
  document.getElementById("log-next").addEventListener("click", () => { stopFollowing(); turnPage(log.end, "top"); });
  document.getElementById("log-last").addEventListener("click", () => { turnPage(-1, "bottom"); });

  // -- start ---------------------------------------------------------------------------------------------
  merge(data.state);
  renderAll();
  loadGraph();
  // A link to one attempt's log (#log=JOB&attempt=N, as the job details panel makes them) opens it.
  const wanted = new URLSearchParams(window.location.hash.slice(1));
  if (wanted.has("log")) {
    const attempt = wanted.has("attempt") ? Number(wanted.get("attempt")) : undefined;
    openLog(wanted.get("log"), attempt).then(() => document.getElementById("log-section").scrollIntoView({block: "start"}));
  } else {
    const failed = firstFailure();
    openLog(failed ? failed.id : "");
  }
  schedule();
})();
