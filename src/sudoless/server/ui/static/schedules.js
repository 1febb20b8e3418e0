// Schedules: a cron form with a live preview of the next five fire times in the chosen zone (computed by
// the server's own Quartz parser), and removal and SLA settings through the AJAX API.
"use strict";

(function () {
  const S = window.Sudoless;
  const form = document.getElementById("schedule-form");
  const project = document.getElementById("s-project");
  const flow = document.getElementById("s-flow");
  const cron = document.getElementById("s-cron");
  const zone = document.getElementById("s-zone");
  const preview = document.getElementById("preview");
  const previewError = document.getElementById("preview-error");

  // -- the new-schedule form ---------------------------------------------------------------------------------
  // (not there for a user who may schedule no project)
  if (form) {
    async function loadFlows() {
      const wanted = flow.dataset.chosen;
      flow.replaceChildren(S.el("option", {value: "", text: project.value ? "Loading\u2026" : "Choose a project first"}));
      if (!project.value) return;
      const answer = await S.get("/manager", {ajax: "fetchprojectflows", project: project.value});
      const flows = (answer.flows || []).map((f) => f.flowId);
      flow.replaceChildren(...flows.map((id) => S.el("option", {value: id, text: id, selected: id === wanted})));
      if (!flows.length) flow.replaceChildren(S.el("option", {value: "", text: "This project has no flows"}));
    }
    project.addEventListener("change", () => { flow.dataset.chosen = ""; loadFlows(); });

    const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (browserZone && [...zone.options].some((o) => o.value === browserZone)) zone.value = browserZone;

    let pending = null;
    let asked = 0;
    async function refreshPreview() {
      const ticket = ++asked;
      try {
        const answer = await S.get("/ui/data/cron-preview", {cron: cron.value, tz: zone.value});
        if (ticket !== asked) return;  // a newer request is on its way
        if (answer.error) {
          preview.replaceChildren();
          S.showError(previewError, answer.error);
          cron.setAttribute("aria-invalid", "true");
          return;
        }
        S.showError(previewError, "");
        cron.removeAttribute("aria-invalid");
        const here = zone.value === browserZone;
        preview.replaceChildren(...answer.times.map((t) => S.el("li", {},
          S.el("time", {datetime: t.iso, text: t.local}),
          here ? null : S.el("span", {class: "muted small", text: ` (${S.fmtTime(Date.parse(t.iso))} your time)`}))));
      } catch (e) {
        S.showError(previewError, e.message);
      }
    }
    const later = () => { clearTimeout(pending); pending = setTimeout(refreshPreview, 200); };
    cron.addEventListener("input", later);
    zone.addEventListener("change", refreshPreview);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("schedule-error");
      S.showError(error, "");
      try {
        const answer = await S.post("/schedule", {ajax: "scheduleCronFlow", projectName: project.value, flow: flow.value,
          cronExpression: cron.value, timezone: zone.value, failureAction: form.failureAction.value,
          concurrentOption: form.concurrentOption.value, "csrf.token": S.csrf});
        if (answer.status === "success") window.location.assign("/ui/schedules");
        else S.showError(error, answer.message || answer.error || "The schedule could not be created.");
      } catch (e) {
        S.showError(error, e.message);
      }
    });
    loadFlows();
    refreshPreview();
  }

  // -- removing -----------------------------------------------------------------------------------------------
  const listError = document.getElementById("list-error");
  for (const button of document.querySelectorAll(".remove-schedule")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(`Remove the schedule of ${button.dataset.flow}?`)) return;
      try {
        const answer = await S.post("/schedule", {action: "removeSched", scheduleId: button.dataset.schedule,
          "csrf.token": S.csrf});
        if (answer.status === "success") window.location.reload();
        else S.showError(listError, answer.message || answer.error);
      } catch (e) {
        S.showError(listError, e.message);
      }
    });
  }

  // -- SLA ------------------------------------------------------------------------------------------------------
  const slaForm = document.getElementById("sla-form");
  const slaRows = slaForm.querySelector("#sla-rules tbody");
  let jobNames = [];
  let ruleCount = 0;

  function minutesText(duration) {  // "90m" -> "1:30"
    const minutes = parseInt(duration, 10) || 0;
    return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
  }

  function addRule(rule) {
    ruleCount += 1;
    const n = ruleCount;
    const job = S.el("select", {id: `sla-job-${n}`, class: "sla-job"},
      S.el("option", {value: "", text: "(the whole flow)"}),
      ...jobNames.map((name) => S.el("option", {value: name, text: name, selected: rule && rule.id === name})));
    const kind = S.el("select", {id: `sla-kind-${n}`, class: "sla-kind"},
      S.el("option", {value: "SUCCESS", text: "succeed", selected: rule && rule.rule === "SUCCESS"}),
      S.el("option", {value: "FINISH", text: "finish", selected: rule && rule.rule === "FINISH"}));
    const row = S.el("tr", {},
      S.el("td", {}, S.el("label", {for: `sla-job-${n}`, class: "visually-hidden", text: "Job"}), job),
      S.el("td", {}, S.el("label", {for: `sla-kind-${n}`, class: "visually-hidden", text: "Must"}), kind),
      S.el("td", {}, S.el("label", {for: `sla-time-${n}`, class: "visually-hidden", text: "Within, hours:minutes"}),
        S.el("input", {id: `sla-time-${n}`, class: "sla-time", size: 6, value: rule ? minutesText(rule.duration) : "1:00"})),
      S.el("td", {}, S.el("input", {type: "checkbox", class: "sla-email", "aria-label": "Send e-mail",
        checked: !rule || rule.actions.includes("EMAIL")})),
      S.el("td", {}, S.el("input", {type: "checkbox", class: "sla-kill", "aria-label": "Kill the run",
        checked: Boolean(rule && rule.actions.includes("KILL"))})),
      S.el("td", {}, S.el("button", {type: "button", class: "link", text: "Remove", onclick: () => row.remove()})));
    slaRows.append(row);
  }

  for (const button of document.querySelectorAll(".sla-edit")) {
    button.addEventListener("click", async () => {
      const error = document.getElementById("sla-error");
      S.showError(error, "");
      const info = await S.get("/schedule", {ajax: "slaInfo", scheduleId: button.dataset.schedule});
      if (info.error) { S.showError(listError, info.error); return; }
      jobNames = info.allJobNames || [];
      slaRows.replaceChildren();
      (info.settings || []).forEach(addRule);
      if (!(info.settings || []).length) addRule(null);
      document.getElementById("sla-flow").textContent = button.dataset.flow;
      document.getElementById("sla-schedule").value = button.dataset.schedule;
      document.getElementById("sla-emails").value = (info.slaEmails || []).join(", ");
      slaForm.hidden = false;
      slaForm.querySelector("select, input").focus();
    });
  }
  document.getElementById("sla-add").addEventListener("click", () => addRule(null));
  document.getElementById("sla-cancel").addEventListener("click", () => { slaForm.hidden = true; });
  slaForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("sla-error");
    S.showError(error, "");
    const body = {ajax: "setSla", scheduleId: document.getElementById("sla-schedule").value,
      slaEmails: document.getElementById("sla-emails").value, "csrf.token": S.csrf};
    [...slaRows.children].forEach((row, index) => {
      const value = (cls) => row.querySelector(cls);
      body[`settings[${index}]`] = [value(".sla-job").value, value(".sla-kind").value, value(".sla-time").value.trim(),
        String(value(".sla-email").checked), String(value(".sla-kill").checked)].join(",");
    });
    try {
      const answer = await S.post("/schedule", body);
      if (answer.error) S.showError(error, answer.error);
      else window.location.reload();
    } catch (e) {
      S.showError(error, e.message);
    }
  });
})();
