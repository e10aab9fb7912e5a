// Polls a calibration job (a recording scored as the camera) and shows its progress and outcome.
(function () {
  const box = document.getElementById("calibration-progress");
  if (!box) return;
  const bar = document.getElementById("calibration-bar");
  const text = document.getElementById("calibration-text");
  async function poll() {
    const response = await fetch(box.dataset.statusUrl, { credentials: "same-origin" });
    const state = await response.json();
    bar.value = state.progress || 0;
    if (state.state === "done") {
      const r = state.result;
      text.textContent = `${box.dataset.done} ${r.fight_threshold.toFixed(2)} / ${r.aggression_threshold.toFixed(2)}`;
      return;
    }
    if (state.state === "failed" || state.state === "unknown") {
      text.textContent = `${box.dataset.failed} ${state.error || state.state}`;
      return;
    }
    text.textContent = `${state.state}: ${Math.round((state.progress || 0) * 100)}%`;
    setTimeout(poll, 1000);
  }
  poll();
})();
