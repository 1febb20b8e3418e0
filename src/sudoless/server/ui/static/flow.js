// The flow page: the graph coloured by the last run, jobs disabled by clicking them (or unticking them in
// the job list), and the run form, which calls the AJAX API's executeFlow.
"use strict";

(function () {
  const S = window.Sudoless;
  const data = S.pageData();
  const container = document.getElementById("graph");
  const selecting = container.dataset.mode === "select";
  const disabled = new Set();
  const expanded = new Set();
  const checkboxes = [...document.querySelectorAll(".job-enabled")];
  // A prepared run (Azkaban's "Prepare Execution") arrives with the jobs that succeeded unticked.
  for (const box of checkboxes) if (!box.checked) disabled.add(box.value);

  const graph = new window.GraphView(container, {
    label: `Graph of flow ${data.flow}`,
    expanded,
    // Clicking a job disables it for the next run; for a reader who cannot run the flow, it opens its details.
    onActivate: (id) => { if (selecting) toggle(id); else panel.open(id); },
    onExpand: (id) => {
      if (expanded.has(id)) {
        for (const e of [...expanded]) if (e === id || e.startsWith(id + ":")) expanded.delete(e);
      } else {
        expanded.add(id);
      }
      load();
    },
  });
  graph.setStatuses(data.statuses || {});

  function load() {
    const url = data.layoutUrl + (expanded.size ? "?expand=" + encodeURIComponent([...expanded].join(",")) : "");
    return graph.load(url).then(() => { graph.setStatuses(data.statuses || {}); graph.setDisabled(disabled); });
  }

  function toggle(id) {
    if (disabled.has(id)) disabled.delete(id); else disabled.add(id);
    sync();
  }

  function sync() {
    graph.setDisabled(disabled);
    for (const box of checkboxes) box.checked = !disabled.has(box.value);
    const count = document.getElementById("disabled-count");
    const clear = document.getElementById("clear-disabled");
    if (count) {
      count.textContent = disabled.size ? `${disabled.size} job(s) disabled: ${[...disabled].join(", ")}.` : "No job disabled.";
      clear.hidden = !disabled.size;
    }
  }

  for (const box of checkboxes) {
    box.addEventListener("change", () => {
      if (box.checked) disabled.delete(box.value); else disabled.add(box.value);
      sync();
    });
  }

  const form = document.getElementById("run-form");
  if (form) {
    const params = document.getElementById("params");
    let rows = 0;
    function addParam(key, value, quiet) {
      rows += 1;
      const keyId = `param-key-${rows}`, valueId = `param-value-${rows}`;
      const row = S.el("div", {class: "param-row"},
        S.el("label", {for: keyId, class: "visually-hidden", text: "Parameter name"}),
        S.el("input", {id: keyId, class: "param-key", placeholder: "name", value: key || ""}),
        S.el("label", {for: valueId, class: "visually-hidden", text: "Parameter value"}),
        S.el("input", {id: valueId, class: "param-value", placeholder: "value", value: value || ""}),
        S.el("button", {type: "button", class: "link", "aria-label": "Remove this parameter", text: "Remove",
          onclick: () => row.remove()}));
      params.append(row);
      if (!quiet) row.querySelector("input").focus();
    }
    document.getElementById("add-param").addEventListener("click", () => addParam());

    // Job parameters: runtimeProperty[job][name], for one job of the flow.
    const jobParams = document.getElementById("job-params");
    function addJobParam(job, key, value, quiet) {
      rows += 1;
      const jobId = `job-param-job-${rows}`, keyId = `job-param-key-${rows}`, valueId = `job-param-value-${rows}`;
      const choice = S.el("select", {id: jobId, class: "job-param-job"},
        ...(data.jobs || []).map((id) => S.el("option", {value: id, text: id, selected: id === job})));
      const row = S.el("div", {class: "param-row job-param-row"},
        S.el("label", {for: jobId, class: "visually-hidden", text: "Job"}), choice,
        S.el("label", {for: keyId, class: "visually-hidden", text: "Parameter name"}),
        S.el("input", {id: keyId, class: "param-key", placeholder: "name", value: key || ""}),
        S.el("label", {for: valueId, class: "visually-hidden", text: "Parameter value"}),
        S.el("input", {id: valueId, class: "param-value", placeholder: "value", value: value || ""}),
        S.el("button", {type: "button", class: "link", "aria-label": "Remove this job parameter", text: "Remove",
          onclick: () => row.remove()}));
      jobParams.append(row);
      if (!quiet) choice.focus();
    }
    document.getElementById("add-job-param").addEventListener("click", () => addJobParam());
    const prepared = data.prepared;
    if (prepared) {
      for (const [key, value] of Object.entries(prepared.params || {})) addParam(key, value, true);
      for (const [job, props] of Object.entries(prepared.jobParams || {})) {
        for (const [key, value] of Object.entries(props)) addJobParam(job, key, value, true);
      }
      const choice = document.getElementById("concurrent");
      if ([...choice.options].some((o) => o.value === prepared.concurrent)) choice.value = prepared.concurrent;
      document.getElementById("pipeline-box").hidden = choice.value !== "pipeline";
    }
    document.getElementById("clear-disabled").addEventListener("click", () => { disabled.clear(); sync(); });
    const concurrent = document.getElementById("concurrent");
    concurrent.addEventListener("change", () => {
      document.getElementById("pipeline-box").hidden = concurrent.value !== "pipeline";
    });

    // A run refused because the flow is already running (concurrent option "skip"): link the runs in the way.
    async function linkRunning(error) {
      let running;
      try {
        running = await S.get("/executor", {ajax: "getRunning", project: data.project, flow: data.flow});
      } catch (e) {
        return;
      }
      const ids = running.execIds || [];
      if (!ids.length) return;
      error.append(" ", S.el("span", {id: "running-links"}, "Running now: ",
        ...ids.flatMap((id, i) => [i ? ", " : "", S.el("a", {href: `/ui/executions/${id}`, text: `execution #${id}`})])));
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("run-error");
      const button = document.getElementById("run-button");
      S.showError(error, "");
      const body = {ajax: "executeFlow", project: data.project, flow: data.flow,
        failureAction: form.failureAction.value, concurrentOption: concurrent.value,
        "csrf.token": S.csrf};
      if (concurrent.value === "pipeline") body.pipelineLevel = form.pipelineLevel.value;
      if (form.failureActionOverride && form.failureActionOverride.checked) body.failureActionOverride = "true";
      if (disabled.size) body.disabled = JSON.stringify([...disabled]);
      // Flow parameters travel as flowOverride[...], or as runtimeProperty[ROOT][...] beside job parameters
      // (executeFlow takes one form or the other, not both).
      const perJob = [...jobParams.querySelectorAll(".job-param-row")]
        .map((row) => [row.querySelector(".job-param-job").value, row.querySelector(".param-key").value.trim(),
          row.querySelector(".param-value").value])
        .filter(([job, key]) => job && key);
      for (const row of params.querySelectorAll(".param-row")) {
        const key = row.querySelector(".param-key").value.trim();
        if (!key) continue;
        body[perJob.length ? `runtimeProperty[ROOT][${key}]` : `flowOverride[${key}]`] = row.querySelector(".param-value").value;
      }
      for (const [job, key, value] of perJob) body[`runtimeProperty[${job}][${key}]`] = value;
      for (const [kind, field] of [["success", "success-emails"], ["failure", "failure-emails"]]) {
        const input = document.getElementById(field);
        if (input.value.trim() !== input.dataset.default.trim()) {
          body[`${kind}Emails`] = input.value;
          body[`${kind}EmailsOverride`] = "true";
        }
      }
      if (document.getElementById("notify-first").checked) body.notifyFailureFirst = "true";
      button.disabled = true;
      try {
        const answer = await S.post("/executor", body);
        if (answer.error || !(answer.execid > 0)) {
          S.showError(error, answer.error || "The flow could not be started.");
          if (concurrent.value === "skip" && /already running/.test(answer.error || "")) await linkRunning(error);
        } else {
          window.location.assign(`/ui/executions/${answer.execid}`);
        }
      } catch (e) {
        S.showError(error, e.message);
      } finally {
        button.disabled = false;
      }
    });
  }

  const panel = new window.JobPanel(document.getElementById("job-panel"), (id) => `${data.jobUrl}/${encodeURIComponent(id)}`);
  for (const button of document.querySelectorAll(".job-details")) {
    button.addEventListener("click", () => panel.open(button.dataset.job));
  }

  sync();
  load();
})();
