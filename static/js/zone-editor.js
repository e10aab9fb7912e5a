// Zone admin: draw the polygon on the camera's latest picture. The textarea's JSON stays the source of
// truth: clicks append [x, y] fractions to it, typing in it redraws whenever it parses.
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const BLANK = [1600, 900]; // a neutral 16:9 frame while there is no picture

  function round3(value) {
    return Math.round(Math.min(1, Math.max(0, value)) * 1000) / 1000;
  }

  function isPoint(p) {
    return Array.isArray(p) && p.length === 2 && p.every((c) => typeof c === "number" && isFinite(c));
  }

  // The points in `text`: [] for an empty text, null when it is not a JSON list of [x, y] number pairs.
  function parse(text) {
    if (!text.trim()) return [];
    let value;
    try { value = JSON.parse(text); } catch (error) { return null; }
    if (value === null) return [];
    return Array.isArray(value) && value.every(isPoint) ? value : null;
  }

  function format(points) {
    return "[" + points.map((p) => "[" + p[0] + ", " + p[1] + "]").join(", ") + "]";
  }

  function svgElement(name, attrs) {
    const element = document.createElementNS(SVG, name);
    Object.entries(attrs).forEach(([key, value]) => element.setAttribute(key, value));
    return element;
  }

  function decode(url) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = reject;
      image.src = url;
    });
  }

  function ZoneEditor(root) {
    const text = document.getElementById(root.dataset.text);
    const svg = root.querySelector("svg");
    const picture = svg.querySelector(".zone-editor-picture");
    const shape = svg.querySelector(".zone-editor-shape");
    const handles = svg.querySelector(".zone-editor-handles");
    const others = svg.querySelector(".zone-editor-others");
    const note = root.querySelector("[data-note]");
    const error = root.querySelector("[data-error]");
    const cameraInput = document.getElementById(root.dataset.cameraInput);
    let size = BLANK;
    let points = parse(text.value) || [];
    let otherZones = [];
    let ticket = 0; // the newest camera choice wins over a slower answer for an older one

    const scaled = (p) => [p[0] * size[0], p[1] * size[1]];
    const outline = (polygon) => polygon.map((p) => scaled(p).join(",")).join(" ");

    function draw() {
      shape.setAttribute("points", outline(points));
      handles.replaceChildren(...points.map((p, index) => {
        const [x, y] = scaled(p);
        const handle = svgElement("g", {class: "zone-editor-handle"});
        const number = svgElement("text", {x: x, y: y, "font-size": size[0] / 60});
        number.textContent = String(index + 1);
        handle.append(svgElement("circle", {cx: x, cy: y, r: size[0] / 80}), number);
        return handle;
      }));
      others.replaceChildren(...otherZones.map((zone) => {
        const other = svgElement("polygon", {class: "zone-editor-other", points: outline(zone.polygon)});
        const title = svgElement("title", {});
        title.textContent = zone.name;
        other.append(title);
        return other;
      }));
      svg.setAttribute("aria-label", root.dataset.labelPoints.replace("{count}", String(points.length)));
    }

    // Shows `url` (a blob of `width` x `height` pixels) as the background, or the blank frame and `message`.
    function setPicture(url, width, height, message) {
      const old = picture.getAttribute("href");
      if (old && old.startsWith("blob:")) URL.revokeObjectURL(old);
      size = url ? [width, height] : BLANK;
      svg.setAttribute("viewBox", "0 0 " + size[0] + " " + size[1]);
      [picture, svg.querySelector(".zone-editor-blank")].forEach((element) => {
        element.setAttribute("width", size[0]);
        element.setAttribute("height", size[1]);
      });
      if (url) picture.setAttribute("href", url);
      else picture.removeAttribute("href");
      picture.setAttribute("visibility", url ? "visible" : "hidden");
      root.dataset.picture = url ? "live" : "none";
      note.textContent = message || "";
      note.hidden = Boolean(url);
      draw();
    }

    async function loadPicture(camera, mine) {
      let url = null;
      try {
        const address = root.dataset.previewUrl.replace("{camera}", encodeURIComponent(camera));
        const response = await fetch(address, {credentials: "same-origin", cache: "no-store"});
        if (response.status !== 200) throw new Error("no picture: HTTP " + response.status);
        url = URL.createObjectURL(await response.blob());
        const image = await decode(url);
        if (mine !== ticket) throw new Error("superseded");
        setPicture(url, image.naturalWidth, image.naturalHeight);
      } catch (failure) {
        if (url) URL.revokeObjectURL(url);
        if (mine === ticket) setPicture(null, 0, 0, root.dataset.labelNoPicture);
      }
    }

    async function loadOthers(camera, mine) {
      try {
        const query = "?camera=" + encodeURIComponent(camera) + "&page_size=500";
        const response = await fetch(root.dataset.zonesUrl + query,
          {credentials: "same-origin", headers: {Accept: "application/json"}});
        if (!response.ok) return;
        const data = await response.json();
        if (mine !== ticket) return;
        otherZones = data.results.filter(
          (zone) => zone.id !== root.dataset.excludeZone && Array.isArray(zone.polygon) && zone.polygon.every(isPoint));
        draw();
      } catch (failure) { /* context only: the editor works without the other zones */ }
    }

    function cameraChanged() {
      const camera = cameraInput ? cameraInput.value : "";
      const mine = ++ticket;
      otherZones = [];
      if (!camera) { setPicture(null, 0, 0, root.dataset.labelNoCamera); return; }
      loadPicture(camera, mine);
      loadOthers(camera, mine);
    }

    // Writes the points into the textarea, unless its text is broken: the operator's typing is never lost.
    function commit(next) {
      if (parse(text.value) === null) { error.textContent = root.dataset.labelInvalid; return; }
      points = next;
      text.value = points.length ? format(points) : "";
      error.textContent = "";
      draw();
    }

    svg.addEventListener("click", (event) => {
      const matrix = svg.getScreenCTM();
      if (!matrix) return;
      const at = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
      commit([...points, [round3(at.x / size[0]), round3(at.y / size[1])]]);
    });
    root.querySelector('[data-action="undo"]').addEventListener("click", () => commit(points.slice(0, -1)));
    root.querySelector('[data-action="clear"]').addEventListener("click", () => {
      text.value = "";
      commit([]);
    });
    text.addEventListener("input", () => {
      const parsed = parse(text.value);
      if (parsed === null) { error.textContent = root.dataset.labelInvalid; return; }
      error.textContent = "";
      points = parsed;
      draw();
    });
    // the admin's "add another camera" popup announces its choice with jQuery's trigger("change"),
    // which reaches jQuery handlers only (and those also see the operator's own changes)
    const jQuery = window.django && window.django.jQuery;
    if (cameraInput && jQuery) jQuery(cameraInput).on("change", cameraChanged);
    else if (cameraInput) cameraInput.addEventListener("change", cameraChanged);
    if (parse(text.value) === null) error.textContent = root.dataset.labelInvalid;
    cameraChanged();
  }

  function start() {
    document.querySelectorAll(".zone-editor").forEach(ZoneEditor);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
