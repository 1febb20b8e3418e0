// The runs x jobs grid: the server sends each job's row as one letter per run (a status, or "." where the
// job was not part of that run); here each letter becomes a cell linking to that attempt's log. Names
// reach the page only through properties (textContent, title, href), never as HTML.
//
// Keyboard: the grid is one tab stop (WAI-ARIA's grid pattern, with a roving tabindex): the arrow keys move
// between cells, Home/End to the row's ends, Ctrl+Home/End to the grid's corners, Page Up/Down by ten rows;
// Enter follows a cell's link (its log). Thousands of tab stops would otherwise stand between the user and
// the rest of the page.
"use strict";

(function () {
  const S = window.Sudoless;
  const data = S.pageData();
  const table = document.getElementById("run-grid");
  if (!data.runs || !table) return;  // a flow that never ran has no grid
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
      } else {
        const none = document.createElement("span");
        none.className = "visually-hidden";
        none.textContent = "not in this run";
        td.append(none);
      }
      cells.append(td);
    }
    tr.append(cells);
  });
  roving(table);

  // One tab stop for the whole table: every cell's focus target (its link, else the cell) out of the tab
  // order but the current one, which moves with the arrow keys and with a click.
  function roving(table) {
    const target = (cell) => cell.querySelector("a") || cell;
    const matrix = Array.from(table.rows, (tr) => Array.from(tr.cells));
    matrix.flat().forEach((cell) => { target(cell).tabIndex = -1; });
    let current = target((matrix[1] || matrix[0])[1] || matrix[0][0]);
    current.tabIndex = 0;
    table.setAttribute("role", "grid");
    table.setAttribute("aria-describedby", "grid-help");
    // the frame was a tab stop so that keyboards could scroll it; the grid's own stop does that now
    table.closest(".grid-wrap").removeAttribute("tabindex");

    function place(cell) {
      const next = target(cell);
      if (next === current) return;
      current.tabIndex = -1;
      next.tabIndex = 0;
      current = next;
    }

    table.addEventListener("focusin", (event) => {
      const cell = event.target.closest("th, td");
      if (cell && table.contains(cell)) place(cell);
    });

    const PAGE = 10;
    table.addEventListener("keydown", (event) => {
      const cell = event.target.closest("th, td");
      if (!cell || event.altKey || event.metaKey) return;
      let row = cell.parentElement.rowIndex;
      let col = cell.cellIndex;
      const last = matrix.length - 1;
      switch (event.key) {
        case "ArrowRight": col += 1; break;
        case "ArrowLeft": col -= 1; break;
        case "ArrowDown": row += 1; break;
        case "ArrowUp": row -= 1; break;
        case "PageDown": row += PAGE; break;
        case "PageUp": row -= PAGE; break;
        case "Home": col = 0; if (event.ctrlKey) row = 0; break;
        case "End": col = Infinity; if (event.ctrlKey) row = last; break;
        default: return;
      }
      event.preventDefault();
      row = Math.max(0, Math.min(last, row));
      col = Math.max(0, Math.min(matrix[row].length - 1, col));
      place(matrix[row][col]);
      current.focus();
    });
  }
})();
