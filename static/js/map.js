// Venue map: web-mercator tiles from CC_MAP_TILE_URL when set and reachable, else a plain SVG plot.
(function () {
  "use strict";
  const CC = window.CC;
  const cfg = CC.config();
  const L = cfg.labels;
  const box = document.getElementById("map");
  const SVG = "http://www.w3.org/2000/svg";
  const TILE = 256;
  let venues = [];
  let tilesFailed = !cfg.tileUrl;
  let timer = null;

  function venueHref(v) { return cfg.feedUrl + "?venue=" + encodeURIComponent(v.id) + "&status=open"; }

  function project(lat, lon, zoom) {
    const scale = TILE * Math.pow(2, zoom);
    const sin = Math.sin((lat * Math.PI) / 180);
    return {x: ((lon + 180) / 360) * scale, y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale};
  }

  function fitZoom(width, height) {
    for (let zoom = 17; zoom > 2; zoom -= 1) {
      const pts = venues.map((v) => project(v.lat, v.lon, zoom));
      const w = Math.max(...pts.map((p) => p.x)) - Math.min(...pts.map((p) => p.x));
      const h = Math.max(...pts.map((p) => p.y)) - Math.min(...pts.map((p) => p.y));
      if (w < width * 0.8 && h < height * 0.8) return zoom;
    }
    return 3;
  }

  function marker(v, x, y) {
    const link = CC.el("a", {className: "map-marker" + (v.open ? " has-open" : ""), href: venueHref(v),
                             title: v.name + ": " + v.open + " " + L.openAlerts}, [
      CC.el("span", {className: "count", text: String(v.open)}), CC.el("span", {className: "label", text: v.name})]);
    link.style.left = x + "px";  // CSSOM writes are allowed under a strict style-src
    link.style.top = y + "px";
    return link;
  }

  function drawTiles() {
    const width = box.clientWidth;
    const height = box.clientHeight;
    const zoom = fitZoom(width, height);
    const pts = venues.map((v) => project(v.lat, v.lon, zoom));
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
    const markers = venues.map((v, i) => marker(v, pts[i].x - left, pts[i].y - top));
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
    const pad = 60;
    const lats = venues.map((v) => v.lat);
    const lons = venues.map((v) => v.lon);
    const k = Math.cos(((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI / 180);
    const spanX = Math.max((Math.max(...lons) - Math.min(...lons)) * k, 1e-6);
    const spanY = Math.max(Math.max(...lats) - Math.min(...lats), 1e-6);
    const scale = Math.min((width - 2 * pad) / spanX, (height - 2 * pad) / spanY);
    const single = venues.length === 1;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("class", "plot");
    venues.forEach((v) => {
      const x = single ? width / 2 : pad + (v.lon - Math.min(...lons)) * k * scale;
      const y = single ? height / 2 : height - pad - (v.lat - Math.min(...lats)) * scale;
      const link = document.createElementNS(SVG, "a");
      link.setAttribute("href", venueHref(v));
      const dot = document.createElementNS(SVG, "circle");
      dot.setAttribute("cx", x); dot.setAttribute("cy", y);
      dot.setAttribute("r", String(6 + Math.min(v.open, 20)));
      dot.setAttribute("class", v.open ? "venue has-open" : "venue");
      const title = document.createElementNS(SVG, "title");
      title.textContent = v.name + ": " + v.open + " " + L.openAlerts;
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", x + 10 + Math.min(v.open, 20)); label.setAttribute("y", y + 4);
      label.textContent = v.name + " (" + v.open + ")";
      dot.append(title);
      link.append(dot, label);
      svg.append(link);
    });
    box.replaceChildren(svg);
  }

  function drawList() {
    document.getElementById("map-list").replaceChildren(...venues.map((v) => CC.el("tr", {}, [
      CC.el("td", {}, [CC.el("a", {href: venueHref(v), text: v.name})]),
      CC.el("td", {text: String(v.open)}),
    ])));
  }

  function draw() {
    drawList();
    if (!venues.length) { box.replaceChildren(CC.el("p", {className: "empty", text: L.noVenues})); return; }
    if (tilesFailed) drawPlot(); else drawTiles();
  }

  async function load() {
    try {
      venues = (await CC.getJSON(cfg.dataUrl)).venues;
      draw();
    } catch (error) { CC.toast(L.failed, "error"); }
  }

  function loadSoon() { clearTimeout(timer); timer = setTimeout(load, 1000); }

  load();
  new CC.LiveSocket(cfg.ws, {labels: L, onOpen: loadSoon, onMessage: loadSoon});
  setInterval(load, 30000);
  window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(draw, 200); });
})();
