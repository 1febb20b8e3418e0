// The runs x jobs grid: the server sends each job's row as one letter per run (a status, or "." where the
// job was not part of that run); here each letter becomes a cell linking to that attempt's log. Names
// reach the page only through properties (textContent, title, href), never as HTML.
"use strict";

(function () {
  const S = window.Sudoless;
  const data = S.pageData();
  if (!data.runs) return;
  const rows = document.querySelectorAll("#run-grid tbody tr");
  rows.forEach((tr, r) => {
    const job = data.jobs[r];
    const codes = data.cells[r];
    const log = `#log=${encodeURIComponent(job)}&attempt=`;
    const cells = document.createDocumentFragment();
    for (let c = 0; c < codes.length; c++) {
      const td = document.createElement("td");
      const code = codes.charCodeAt(c) - 97;
      if (code >= 0 && code < data.statuses.length) {
        const status = data.statuses[code];
        const run = data.runs[c];
        const attempt = data.attempts[`${r}:${c}`] || 0;
        const cell = document.createElement("a");
        cell.className = `cell ${S.statusClass(status)}`;
        cell.href = `/ui/executions/${run}${log}${attempt}`;
        // named for screen readers (the glyph alone would be its name) and on hover
        cell.title = `${job} in run ${run}: ${status}` + (attempt ? `, attempt ${attempt}` : "");
        cell.setAttribute("aria-label", cell.title);
        td.append(cell);
      }
      cells.append(td);
    }
    tr.append(cells);
  });
})();
