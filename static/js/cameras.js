// Camera wall: 1/4/9/16 cameras per screen; 1/s previews of visible tiles; the selected camera live (MJPEG read
// with fetch, so the page knows each frame's capture time); enlarge and full screen; health badges every 10 s.
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("cc-config").textContent);
  const L = cfg.labels;
  const wall = document.getElementById("wall");
  if (!wall) return;
  const tiles = Array.from(wall.querySelectorAll("li.tile"));
  const visible = new Set();
  const busy = new WeakSet();
  const params = new URLSearchParams(window.location.search);
  let layout = Number(localStorage.getItem("cc.wall.layout")) || 4;
  let page = 0;
  let live = null;  // {tile, controller}

  function fmt(text, values) { return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key])); }

  // --- layout and pages ------------------------------------------------------------------------
  function applyLayout() {
    if (!cfg.layouts.includes(layout)) layout = 4;
    const pages = Math.max(1, Math.ceil(tiles.length / layout));
    page = Math.min(page, pages - 1);
    wall.className = "wall layout-" + layout;
    tiles.forEach((tile, index) => { tile.hidden = Math.floor(index / layout) !== page; });
    if (live && live.tile.hidden) stopLive();
    document.querySelectorAll("[data-layout]").forEach((button) => {
      button.setAttribute("aria-checked", String(Number(button.dataset.layout) === layout));
    });
    const pager = document.querySelector("[data-pager]");
    pager.hidden = pages < 2;
    pager.querySelector("[data-page-label]").textContent = fmt(L.page, {page: page + 1, pages: pages});
    if (layout === 1) { const shown = tiles.find((t) => !t.hidden); if (shown && (!live || live.tile !== shown)) watch(shown); }
  }

  function showTile(tile) {
    page = Math.floor(tiles.indexOf(tile) / layout);
    applyLayout();
  }

  // --- previews (1/s, tiles on screen that are not live) ------------------------------------------
  async function refreshPreview(tile) {
    if (busy.has(tile) || (live && live.tile === tile) || tile.hidden) return;
    busy.add(tile);
    const img = tile.querySelector("img");
    try {
      const response = await fetch(tile.dataset.preview, {credentials: "same-origin", cache: "no-store"});
      if (response.status !== 200) { if (!img.src) showPlaceholder(tile, L.noPreview); return; }
      setImage(tile, await response.blob());
    } catch (error) {
      if (!img.src) showPlaceholder(tile, L.noPreview);
    } finally {
      busy.delete(tile);
    }
  }

  function setImage(tile, blob) {
    const img = tile.querySelector("img");
    const old = img.src;
    img.src = URL.createObjectURL(blob);
    img.hidden = false;
    tile.querySelector(".no-preview").hidden = true;
    if (old && old.startsWith("blob:")) URL.revokeObjectURL(old);
  }

  function showPlaceholder(tile, text) {
    const placeholder = tile.querySelector(".no-preview");
    placeholder.textContent = text;
    placeholder.hidden = false;
    tile.querySelector("img").hidden = true;
  }

  // --- live video ------------------------------------------------------------------------------
  function watch(tile) {
    if (live && live.tile === tile) return;
    stopLive();
    const controller = new AbortController();
    live = {tile: tile, controller: controller};
    tile.classList.add("live");
    tile.dataset.frames = "0";
    const button = tile.querySelector("[data-watch]");
    button.setAttribute("aria-pressed", "true");
    button.textContent = L.stopLive;
    badge(tile, L.connecting);
    runStream(tile, controller);
  }

  function stopLive() {
    if (!live) return;
    const tile = live.tile;
    live.controller.abort();
    live = null;
    tile.classList.remove("live");
    const button = tile.querySelector("[data-watch]");
    button.setAttribute("aria-pressed", "false");
    button.textContent = L.watchLive;
    tile.querySelector("[data-live-badge]").hidden = true;
    refreshPreview(tile);
  }

  function badge(tile, text) {
    const element = tile.querySelector("[data-live-badge]");
    element.textContent = text;
    element.hidden = false;
  }

  async function runStream(tile, controller) {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(tile.dataset.live, {credentials: "same-origin", cache: "no-store",
                                                          signal: controller.signal});
        if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
        await readParts(response.body.getReader(), (jpeg, capturedAt) => {
          setImage(tile, new Blob([jpeg], {type: "image/jpeg"}));
          tile.dataset.frames = String(Number(tile.dataset.frames) + 1);
          const behind = Math.max(0, Date.now() / 1000 - capturedAt);
          tile.dataset.latency = behind.toFixed(3);
          badge(tile, L.live + " · " + fmt(L.seconds, {seconds: behind.toFixed(1)}));
        });
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      if (controller.signal.aborted) return;
      badge(tile, L.noLive);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }

  const CRLF2 = [13, 10, 13, 10];

  function indexOf(buffer, pattern, from) {
    outer: for (let i = from; i <= buffer.length - pattern.length; i += 1) {
      for (let j = 0; j < pattern.length; j += 1) if (buffer[i + j] !== pattern[j]) continue outer;
      return i;
    }
    return -1;
  }

  async function readParts(reader, onFrame) {
    const decoder = new TextDecoder();
    let buffer = new Uint8Array(0);
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      buffer = joined;
      for (;;) {
        const end = indexOf(buffer, CRLF2, 0);
        if (end < 0) break;
        const head = decoder.decode(buffer.subarray(0, end));
        const length = Number((/content-length:\s*(\d+)/i.exec(head) || [])[1]);
        const captured = Number((/x-captured-at:\s*([\d.]+)/i.exec(head) || [])[1]);
        if (!length) { buffer = buffer.slice(end + 4); continue; }
        if (buffer.length < end + 4 + length) break;
        onFrame(buffer.slice(end + 4, end + 4 + length), captured);
        buffer = buffer.slice(end + 4 + length);
      }
    }
  }

  // --- enlarge and full screen -------------------------------------------------------------------
  function enlarge(tile, on) {
    tiles.forEach((other) => {
      const state = other === tile && on;
      other.classList.toggle("enlarged", state);
      other.querySelector("[data-enlarge]").setAttribute("aria-pressed", String(state));
    });
    if (on) { watch(tile); tile.scrollIntoView({block: "nearest"}); }
  }

  tiles.forEach((tile) => {
    tile.querySelector("[data-watch]").addEventListener("click", () => {
      if (live && live.tile === tile) stopLive(); else watch(tile);
    });
    tile.querySelector("[data-enlarge]").addEventListener("click", () => enlarge(tile, !tile.classList.contains("enlarged")));
    tile.querySelector("[data-fullscreen]").addEventListener("click", () => {
      watch(tile);
      const screen = tile.querySelector("[data-screen]");
      if (screen.requestFullscreen) screen.requestFullscreen().catch(() => enlarge(tile, true));
    });
    tile.querySelector("[data-screen]").addEventListener("click", () => watch(tile));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") tiles.forEach((tile) => { if (tile.classList.contains("enlarged")) enlarge(tile, false); });
  });
  document.querySelectorAll("[data-layout]").forEach((button) => button.addEventListener("click", () => {
    layout = Number(button.dataset.layout);
    localStorage.setItem("cc.wall.layout", String(layout));
    applyLayout();
  }));
  document.querySelectorAll("[data-page]").forEach((button) => button.addEventListener("click", () => {
    page = Math.max(0, page + Number(button.dataset.page));
    applyLayout();
  }));
  const details = document.getElementById("show-details");
  details.checked = localStorage.getItem("cc.wall.details") === "1";
  function applyDetails() {
    tiles.forEach((tile) => { tile.querySelector("[data-details]").hidden = !details.checked; });
    localStorage.setItem("cc.wall.details", details.checked ? "1" : "0");
  }
  details.addEventListener("change", applyDetails);

  // --- health --------------------------------------------------------------------------------------
  async function refreshHealth() {
    if (document.hidden) return;
    let data;
    try {
      const response = await fetch(cfg.statusUrl, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!response.ok) return;
      data = await response.json();
    } catch (error) { return; }
    data.cameras.forEach((camera) => {
      const tile = wall.querySelector('li.tile[data-camera="' + camera.id + '"]');
      if (!tile) return;
      const health = tile.querySelector("[data-health]");
      health.className = "badge health health-" + camera.health;
      health.textContent = camera.health_display;
      tile.querySelector("[data-figures]").textContent = camera.summary.join(" · ");
      tile.querySelector("[data-details]").textContent = camera.details.join(" · ");
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
  setInterval(() => { if (!document.hidden) tiles.filter((t) => visible.has(t)).forEach(refreshPreview); },
              cfg.refreshMs || 2000);
  setInterval(refreshHealth, 10000);
  window.addEventListener("pagehide", stopLive);
  applyDetails();
  applyLayout();
  refreshHealth();
  const wanted = tiles.find((tile) => tile.dataset.camera === params.get("live"));
  if (wanted) { showTile(wanted); enlarge(wanted, true); }
})();
