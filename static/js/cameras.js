// Camera wall: previews refreshed every few seconds (visible tiles only), health badges every 10 s.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("cc-config").textContent);
  const tiles = Array.from(document.querySelectorAll("li.tile"));
  const visible = new Set();
  const busy = new WeakSet();

  async function refreshPreview(tile) {
    if (busy.has(tile)) return;
    busy.add(tile);
    const img = tile.querySelector("img");
    const placeholder = tile.querySelector(".no-preview");
    try {
      const response = await fetch(tile.dataset.preview, {credentials: "same-origin", cache: "no-store"});
      if (response.status !== 200) { img.hidden = true; placeholder.hidden = false; return; }
      const url = URL.createObjectURL(await response.blob());
      const old = img.src;
      img.src = url;
      img.hidden = false;
      placeholder.hidden = true;
      if (old && old.startsWith("blob:")) URL.revokeObjectURL(old);
    } catch (error) {
      img.hidden = true;
      placeholder.hidden = false;
    } finally {
      busy.delete(tile);
    }
  }

  function refreshVisible() {
    if (document.hidden) return;
    tiles.filter((t) => visible.has(t)).forEach(refreshPreview);
  }

  async function refreshHealth() {
    if (document.hidden) return;
    let data;
    try {
      const response = await fetch(cfg.statusUrl, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!response.ok) return;
      data = await response.json();
    } catch (error) { return; }
    data.cameras.forEach((camera) => {
      const tile = document.querySelector('li.tile[data-camera="' + camera.id + '"]');
      if (!tile) return;
      const badge = tile.querySelector("[data-health]");
      badge.className = "badge health health-" + camera.health;
      badge.textContent = camera.health_display;
      tile.querySelector("[data-figures]").textContent = camera.summary.join(" · ");
      const notes = tile.querySelector("[data-notes]");
      notes.textContent = camera.notes.join(" ");
      notes.hidden = camera.notes.length === 0;
    });
  }

  const observer = new IntersectionObserver((entries) => {
    entries.forEach((entry) => {
      if (entry.isIntersecting) { visible.add(entry.target); refreshPreview(entry.target); }
      else visible.delete(entry.target);
    });
  });
  tiles.forEach((tile) => observer.observe(tile));
  setInterval(refreshVisible, cfg.refreshMs || 2000);
  setInterval(refreshHealth, 10000);
  refreshHealth();
})();
