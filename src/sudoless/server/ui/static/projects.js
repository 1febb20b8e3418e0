// Projects list and project page: create a project, upload a zip (drag and drop, or choose a file) with the
// validation errors shown inline, change permissions. All of it goes through the AJAX API.
"use strict";

(function () {
  const S = window.Sudoless;

  // -- create ---------------------------------------------------------------------------------------------
  const create = document.getElementById("create-project");
  if (create) {
    create.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("create-error");
      S.showError(error, "");
      const name = create.name.value.trim();
      try {
        const answer = await S.post("/manager", {action: "create", name, description: create.description.value,
          "csrf.token": S.csrf});
        if (answer.status === "success") window.location.assign(`/ui/projects/${encodeURIComponent(name)}`);
        else S.showError(error, answer.message || answer.error || "The project could not be created.");
      } catch (e) {
        S.showError(error, e.message);
      }
    });
  }

  // -- upload -------------------------------------------------------------------------------------------------
  const upload = document.getElementById("upload-form");
  if (upload) {
    const zone = document.getElementById("dropzone");
    const input = document.getElementById("upload-file");
    const chosen = document.getElementById("upload-chosen");
    const errors = document.getElementById("upload-errors");
    const ok = document.getElementById("upload-ok");
    let file = null;

    function choose(candidate) {
      file = candidate || null;
      chosen.textContent = file ? `Chosen: ${file.name} (${Math.ceil(file.size / 1024)} KB)` : "";
    }

    async function send() {
      S.showError(errors, "");
      ok.hidden = true;
      if (!file) { S.showError(errors, "Choose or drop a .zip file first."); return; }
      if (!/\.zip$/i.test(file.name)) { S.showError(errors, `${file.name} is not a .zip file.`); return; }
      const body = new FormData();
      body.append("ajax", "upload");
      body.append("project", upload.dataset.project);
      body.append("csrf.token", S.csrf);
      // Browsers label zips differently (or not at all); the API wants a zip content type.
      body.append("file", new File([file], file.name, {type: "application/zip"}));
      const button = document.getElementById("upload-button");
      button.disabled = true;
      zone.classList.add("busy");
      chosen.textContent = `Uploading ${file.name}\u2026`;
      try {
        const answer = await S.post("/manager", body);
        if (answer.error) {
          S.showError(errors, answer.error);
          chosen.textContent = `${file.name} was not installed.`;
        } else {
          ok.textContent = `Uploaded ${file.name} as version ${answer.version}.`;
          ok.hidden = false;
          chosen.textContent = "";
          setTimeout(() => window.location.reload(), 700);
        }
      } catch (e) {
        S.showError(errors, e.message);
      } finally {
        button.disabled = false;
        zone.classList.remove("busy");
      }
    }

    input.addEventListener("change", () => choose(input.files[0]));
    for (const name of ["dragenter", "dragover"]) {
      zone.addEventListener(name, (event) => { event.preventDefault(); zone.classList.add("over"); });
    }
    for (const name of ["dragleave", "drop"]) {
      zone.addEventListener(name, () => zone.classList.remove("over"));
    }
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      choose(event.dataTransfer.files[0]);
      send();
    });
    upload.addEventListener("submit", (event) => { event.preventDefault(); send(); });
  }

  // -- permissions ------------------------------------------------------------------------------------------
  const table = document.getElementById("permission-table");
  if (table) {
    const error = document.getElementById("permission-error");
    const flags = (scope) => Object.fromEntries(["admin", "read", "write", "execute", "schedule"].map(
      (name) => [`permissions[${name}]`, String(Boolean(scope.querySelector(`input[name="${name}"]`).checked))]));
    for (const button of table.querySelectorAll(".save-permission")) {
      button.addEventListener("click", async () => {
        const row = button.closest("tr");
        S.showError(error, "");
        try {
          const answer = await S.post("/manager", {ajax: "changePermission", project: table.dataset.project,
            name: row.dataset.name, group: row.dataset.group, ...flags(row), "csrf.token": S.csrf});
          if (answer.error) S.showError(error, answer.error);
          else S.note("success", `Permissions of ${row.dataset.name} saved.`);
        } catch (e) {
          S.showError(error, e.message);
        }
      });
    }
    // Remove: the grant with every permission off, which changePermission deletes (as Azkaban does).
    for (const button of table.querySelectorAll(".remove-permission")) {
      button.addEventListener("click", async () => {
        if (!window.confirm(button.dataset.confirm)) return;
        const row = button.closest("tr");
        S.showError(error, "");
        const none = Object.fromEntries(["admin", "read", "write", "execute", "schedule"].map((n) => [`permissions[${n}]`, "false"]));
        try {
          const answer = await S.post("/manager", {ajax: "changePermission", project: table.dataset.project,
            name: row.dataset.name, group: row.dataset.group, ...none, "csrf.token": S.csrf});
          if (answer.error) S.showError(error, answer.error);
          else { row.remove(); S.note("success", `Permissions of ${row.dataset.name} removed.`); }
        } catch (e) {
          S.showError(error, e.message);
        }
      });
    }
    const add = document.getElementById("add-permission");
    if (add) {
      add.addEventListener("submit", async (event) => {
        event.preventDefault();
        S.showError(error, "");
        try {
          const answer = await S.post("/manager", {ajax: "addPermission", project: table.dataset.project,
            name: add.name.value.trim(), group: add.querySelector('input[name="group"]:checked').value, ...flags(add),
            "csrf.token": S.csrf});
          if (answer.error) S.showError(error, answer.error);
          else window.location.reload();
        } catch (e) {
          S.showError(error, e.message);
        }
      });
    }
  }
})();
