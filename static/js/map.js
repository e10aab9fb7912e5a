// Venue map: venues and cameras at their coordinates, coloured by their most severe open alert; web-mercator
// tiles from CC_MAP_TILE_URL when set and reachable, else a plain SVG plot (works offline).
(function () {
  "use strict";
  const CC = window.CC;
  const cfg = CC.config();
  const L = cfg.labels;
  const box = document.getElementById("map");
  const SVG = "http://www.w3.org/2000/svg";
  const TILE = 256;
  let venues = [];
  let cameras = [];
  let tilesFailed = !cfg.tileUrl;
  let timer = null;

  function venueHref(v) { return cfg.feedUrl + "?venue=" + encodeURIComponent(v.id) + "&status=open"; }
  function cameraHref(c) { return cfg.wallUrl + "?live=" + encodeURIComponent(c.id); }
  function placed() { return cameras.filter((c) => c.placed); }
  function points() { return venues.concat(placed()); }
  function severityText(p) {
    return Object.entries(p.bySeverity).map(([level, n]) => cfg.severities[level] + " " + n).join(", ");
  }
  function title(p, isCamera) {
    const what = isCamera ? L.camera + " " + p.name + " (" + L.watchLive + ")" : p.name;
    return what + ": " + p.open + " " + L.openAlerts + (p.open ? " — " + severityText(p) : "");
  }

  function project(lat, lon, zoom) {
    const scale = TILE * Math.pow(2, zoom);
    const sin = Math.sin((lat * Math.PI) / 180);
    return {x: ((lon + 180) / 360) * scale, y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale};
  }

  function fitZoom(width, height) {
    for (let zoom = 17; zoom > 2; zoom -= 1) {
      const pts = points().map((v) => project(v.lat, v.lon, zoom));
      const w = Math.max(...pts.map((p) => p.x)) - Math.min(...pts.map((p) => p.x));
      const h = Math.max(...pts.map((p) => p.y)) - Math.min(...pts.map((p) => p.y));
      if (w < width * 0.8 && h < height * 0.8) return zoom;
    }
    return 3;
  }

  function marker(v, x, y, isCamera) {
    const link = CC.el("a", {className: "map-marker sev-" + v.top + (isCamera ? " camera" : " venue"),
                             href: isCamera ? cameraHref(v) : venueHref(v), title: title(v, isCamera)}, [
      CC.el("span", {className: "count", text: isCamera ? "" : String(v.open)}),
      CC.el("span", {className: "label", text: v.name})]);
    link.style.left = x + "px";  // CSSOM writes are allowed under a strict style-src
    link.style.top = y + "px";
    return link;
  }

  function drawTiles() {
    const width = box.clientWidth;
    const height = box.clientHeight;
    const zoom = fitZoom(width, height);
    const all = points();
    const pts = all.map((v) => project(v.lat, v.lon, zoom));
    const cx = (Math.min(...pts.map((p) => p.x)) + Math.max(...pts.map((p) => p.x))) / 2;
    const cy = (Math.min(...pts.map((p) => p.y)) + Math.max(...pts.map((p) => p.y))) / 2;
    const left = cx - width / 2;
    const top = cy - height / 2;
    const layer = CC.el("div", {className: "tiles"});
    const max = Math.pow(2, zoom);
    for (let tx = Math.floor(left / TILE); tx <= Math.floor((left + width) / TILE); tx += 1) {
      for (let ty = Math.floor(top / TILE); ty <= Math.floor((top + height) / TILE); ty += 1) {
        if (ty < 0 || ty >= max) continue;
        const src = cfg.tileUrl.replace("{z}", zoom).replace("{x}", ((tx % max) + max) % max).replace("{y}", ty);
        const img = CC.el("img", {src: src, alt: "", width: TILE, height: TILE});
        img.style.left = tx * TILE - left + "px";
        img.style.top = ty * TILE - top + "px";
        img.addEventListener("error", onTileError, {once: true});
        layer.append(img);
      }
    }
    const markers = all.map((v, i) => marker(v, pts[i].x - left, pts[i].y - top, i >= venues.length));
    box.replaceChildren(layer, ...markers);
  }

  function onTileError() {
    if (tilesFailed) return;
    tilesFailed = true;
    const note = document.getElementById("map-note");
    note.textContent = L.tilesFailed;
    note.hidden = false;
    draw();
  }

  function drawPlot() {
    const width = Math.max(box.clientWidth, 300);
    const height = Math.max(box.clientHeight, 300);
    const pad = 70;
    const all = points();
    const lats = all.map((v) => v.lat);
    const lons = all.map((v) => v.lon);
    const k = Math.cos(((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI / 180);
    const spanX = Math.max((Math.max(...lons) - Math.min(...lons)) * k, 1e-6);
    const spanY = Math.max(Math.max(...lats) - Math.min(...lats), 1e-6);
    const scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad) / spanY);
    const single = all.length === 1;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("class", "plot");
    all.forEach((v, index) => {
      const isCamera = index >= venues.length;
      const x = single ? width / 2 : (width - spanX * scale) / 2 + (v.lon - Math.min(...lons)) * k * scale;
      const y = single ? height / 2 : height - (height - spanY * scale) / 2 - (v.lat - Math.min(...lats)) * scale;
      const link = document.createElementNS(SVG, "a");
      link.setAttribute("href", isCamera ? cameraHref(v) : venueHref(v));
      const size = isCamera ? 7 : 9 + Math.min(v.open, 20);
      const mark = document.createElementNS(SVG, isCamera ? "rect" : "circle");
      if (isCamera) {
        mark.setAttribute("x", x - size / 2); mark.setAttribute("y", y - size / 2);
        mark.setAttribute("width", size); mark.setAttribute("height", size);
      } else {
        mark.setAttribute("cx", x); mark.setAttribute("cy", y); mark.setAttribute("r", String(size));
      }
      mark.setAttribute("class", (isCamera ? "camera" : "venue") + " sev-" + v.top);
      const tip = document.createElementNS(SVG, "title");
      tip.textContent = title(v, isCamera);
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", x + size + 4); label.setAttribute("y", y + 4);
      label.setAttribute("class", isCamera ? "camera-label" : "venue-label");
      label.textContent = isCamera ? v.name : v.name + " (" + v.open + ")";
      mark.append(tip);
      link.append(mark, label);
      svg.append(link);
    });
    box.replaceChildren(svg);
  }

  function drawList() {
    document.getElementById("map-list").replaceChildren(...venues.map((v) => CC.el("tr", {}, [
      CC.el("td", {}, [CC.el("a", {href: venueHref(v), text: v.name})]),
      CC.el("td", {text: String(v.open)}),
      CC.el("td", {text: severityText(v)}),
    ])));
  }

  function draw() {
    drawList();
    if (!venues.length) { box.replaceChildren(CC.el("p", {className: "empty", text: L.noVenues})); return; }
    if (tilesFailed) drawPlot(); else drawTiles();
  }

  async function load() {
    try {
      const data = await CC.getJSON(cfg.dataUrl);
      venues = data.venues;
      cameras = data.cameras;
      draw();
    } catch (error) { CC.toast(L.failed, "error"); }
  }

  function loadSoon() { clearTimeout(timer); timer = setTimeout(load, 1000); }

  load();
  new CC.LiveSocket(cfg.ws, {labels: L, onOpen: loadSoon, onMessage: loadSoon});
  setInterval(load, 30000);
  window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(draw, 200); });
})();
