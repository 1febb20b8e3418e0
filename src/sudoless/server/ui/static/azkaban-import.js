// The Azkaban import page: while an import runs, its progress bar follows the server's answer (polled twice a
// second); when it ends, the page reloads to show the report.
"use strict";

(function () {
  const S = window.Sudoless;
  const job = document.getElementById("import-job");
  if (!job || job.dataset.state !== "running") return;
  const bar = document.getElementById("import-progress");
  const step = document.getElementById("import-step");

  async function poll() {
    let answer;
    try {
      answer = await S.get("/ui/data/azkaban-import", {});
    } catch (error) {
      setTimeout(poll, 2000);  // the server is busy or restarting: try again, slower
      return;
    }
    if (answer.state !== "running") {
      window.location.reload();
      return;
    }
    bar.max = Math.max(answer.total, 1);
    bar.value = answer.done;
    step.textContent = `${answer.step}: ${answer.done} of ${answer.total}`;
    setTimeout(poll, 500);
  }
  setTimeout(poll, 500);
})();
