// Polls a bulk-enrolment job and shows its progress.
(function () {
  const box = document.getElementById("import-progress");
  if (!box) return;
  const bar = document.getElementById("import-bar");
  const text = document.getElementById("import-text");
  const summary = document.getElementById("import-summary");
  async function poll() {
    const response = await fetch(box.dataset.statusUrl, { credentials: "same-origin" });
    const state = await response.json();
    if (state.total) { bar.max = state.total; bar.value = state.done; }
    text.textContent = `${state.state}: ${state.done || 0} / ${state.total || "?"}` + (state.error ? ` — ${state.error}` : "");
    if (state.summary) summary.textContent = JSON.stringify(state.summary, null, 2);
    if (state.state !== "done" && state.state !== "failed") setTimeout(poll, 1000);
  }
  poll();
})();
