// One alert: facts, face comparison, evidence, history and actions; refetched on pushes and reconnects.
(function () {
  "use strict";
  const CC = window.CC;
  const cfg = CC.config();
  const L = cfg.labels;
  const url = cfg.api + cfg.alertId + "/";
  const labelOf = (pairs) => Object.fromEntries(pairs.map(([value, label]) => [String(value), label]));
  const reviewLabel = labelOf(cfg.reviews);
  const eventLabel = labelOf(cfg.eventActions || []);
  const statusLabel = labelOf(cfg.statuses);
  const evidenceLabel = {snapshot: L.snapshot, clip: L.clip, series: L.series, face_crop: L.probe};
  const SVG = "http://www.w3.org/2000/svg";
  let shown = null;
  let loading = null;

  function fact(term, value) {
    if (value === null || value === undefined || value === "") return [];
    return [CC.el("dt", {text: term}), CC.el("dd", {text: String(value)})];
  }

  function cameraFact(a) {  // the camera's name, and a way to watch it live where the role may
    if (!a.camera_name) return [];
    const value = CC.el("dd", {text: a.camera_name + " "});
    if (cfg.wallUrl && a.camera) {
      value.append(CC.el("a", {className: "btn", href: cfg.wallUrl + "?live=" + encodeURIComponent(a.camera),
                               text: cfg.watchLive}));
    }
    return [CC.el("dt", {text: cfg.factLabels.camera}), value];
  }

  function renderFacts(a) {
    document.getElementById("detail-title").textContent = a.kind_display + " · " + a.venue_name;
    document.getElementById("facts").replaceChildren(
      ...fact(cfg.factLabels.severity, a.severity_display),
      ...fact(cfg.factLabels.status, a.status_display),
      ...fact(cfg.factLabels.review, a.kind === "face_match" ? reviewLabel[a.review] : ""),
      ...fact(cfg.factLabels.venue, a.venue_name),
      ...cameraFact(a),
      ...fact(cfg.factLabels.raised, CC.formatTime(a.raised_at, cfg.timeZone)),
      ...fact(cfg.factLabels.lastSeen, CC.formatTime(a.last_seen_at, cfg.timeZone)),
      ...fact(cfg.factLabels.score, a.score),
      ...fact(L.assigned, a.assigned_to),
      ...fact(L.sightings, a.sightings > 1 ? a.sightings : ""),
      ...fact(cfg.factLabels.outcome, a.outcome ? a.outcome_display : ""),
    );
    document.getElementById("actions").replaceChildren(...CC.actionButtons(a, cfg));
  }

  function evidenceOf(a, kind) { return (a.evidence || []).filter((e) => e.kind === kind); }

  function renderFace(a) {
    const box = document.getElementById("face");
    box.hidden = a.kind !== "face_match";
    if (box.hidden) return;
    const crop = evidenceOf(a, "face_crop")[0];
    setImage("probe-img", a.probe_crop_url || (crop ? crop.url + "?purpose=review" : ""));
    setImage("enrolled-img", a.enrolled_photo_url || "");
    const similarity = a.similarity !== undefined && a.similarity !== null ? a.similarity : a.score;
    document.getElementById("similarity").textContent = Number(similarity).toFixed(3);
    renderWho(a);
    renderTimeline(a);
  }

  function renderWho(a) {
    const face = a.face;
    const box = document.getElementById("face-who");
    CC.paintWatchlist(document.getElementById("face"), a);
    if (!face) { box.replaceChildren(); return; }
    const list = face.watchlist;
    box.replaceChildren(
      CC.el("dt", {text: L.subjectName}), CC.el("dd", {}, [CC.el("strong", {className: "subject-name", text: face.name})]),
      CC.el("dt", {text: L.watchlist}), CC.el("dd", {}, [
        CC.el("span", {className: "wl-chip category-" + list.category, text: list.category_display}),
        CC.el("span", {text: " " + list.name}),
      ]),
      ...(face.reference ? [CC.el("dt", {text: L.reference}), CC.el("dd", {text: face.reference})] : []),
    );
  }

  // each sighting of the subject folded into this alert: when, which camera, how similar, the face seen
  function renderTimeline(a) {
    const crops = new Map((a.evidence || []).filter((e) => e.kind === "face_crop").map((e) => [e.id, e.url]));
    const first = evidenceOf(a, "face_crop")[0];
    const rows = (a.events || []).filter((ev) => ev.action === "raised" || ev.action === "sighting").map((ev) => {
      const crop = ev.data.crop ? crops.get(ev.data.crop) : (ev.action === "raised" && first ? first.url : "");
      return CC.el("tr", {className: "sighting"}, [
        CC.el("td", {}, [CC.el("time", {datetime: ev.created_at, text: CC.formatTime(ev.created_at, cfg.timeZone)})]),
        CC.el("td", {text: ev.data.camera_name || a.camera_name}),
        CC.el("td", {text: ev.data.similarity !== undefined ? Number(ev.data.similarity).toFixed(3) : ""}),
        CC.el("td", {}, [crop ? CC.el("img", {src: crop + "?purpose=review", alt: L.probe, loading: "lazy"}) : null]),
      ]);
    });
    document.getElementById("sightings-count").textContent = String(a.sightings || 1);
    document.getElementById("timeline").replaceChildren(...rows);
  }

  function setImage(id, src) {
    const img = document.getElementById(id);
    if (img.getAttribute("src") !== src) { if (src) img.src = src; else img.removeAttribute("src"); }
    img.closest("figure").classList.toggle("missing", !src);
  }

  function renderEvidence(a) {
    const items = (a.evidence || []).filter((e) => e.kind !== "face_crop" || a.kind !== "face_match");
    const nodes = items.map((e) => {
      const src = e.url + "?purpose=dashboard";
      let media;
      if (e.kind === "clip" || e.content_type.startsWith("video/")) {
        media = CC.el("video", {controls: true, preload: "metadata", src: src});
      } else if (e.kind === "series") {
        media = CC.el("div", {className: "series-chart", text: L.loading});
        CC.getJSON(src).then((data) => media.replaceChildren(seriesChart(data))).catch(() => {
          media.replaceChildren(CC.el("a", {href: src, text: L.series}));
        });
      } else if (e.content_type.startsWith("image/")) {
        media = CC.el("img", {src: src, alt: L.snapshot, loading: "lazy"});
      } else {
        media = CC.el("a", {href: src, text: e.kind + " (" + e.content_type + ")"});
      }
      return CC.el("figure", {className: "evidence-item"}, [media, CC.el("figcaption", {text: evidenceLabel[e.kind] || e.kind})]);
    });
    const box = document.getElementById("evidence");
    if (box.dataset.ids === items.map((e) => e.id).join(",")) return;  // keep playing videos playing
    box.dataset.ids = items.map((e) => e.id).join(",");
    box.replaceChildren(...(nodes.length ? nodes : [CC.el("p", {className: "muted", text: L.noEvidence})]));
  }

  // The score or count series that led to an incident, as an inline SVG line with its limit dashed.
  function seriesChart(data) {
    const points = data.points || [];
    const width = 320, height = 120, pad = 24;
    const ts = points.map((p) => p[0]), vs = points.map((p) => p[1]);
    const limit = typeof data.limit === "number" ? data.limit : null;
    const tMin = Math.min(...ts, 0), tMax = Math.max(...ts, 0);
    const vMax = Math.max(...vs, limit || 0, 1);
    const x = (t) => pad + (t - tMin) / ((tMax - tMin) || 1) * (width - 2 * pad);
    const y = (v) => height - pad - v / vMax * (height - 2 * pad);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("class", "series");
    svg.setAttribute("role", "img");
    const name = data.unit === "people" ? L.seriesPeople : L.seriesFight;
    svg.setAttribute("aria-label", name + ": " + vs.join(", "));
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(SVG, tag);
      Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, String(v)));
      if (text !== undefined) node.textContent = text;
      svg.append(node);
    };
    add("line", {x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, class: "axis"});
    if (limit !== null) add("line", {x1: pad, y1: y(limit), x2: width - pad, y2: y(limit), class: "limit"});
    add("polyline", {points: points.map((p) => x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1)).join(" "), class: "value"});
    add("text", {x: pad, y: height - 6, class: "tick"}, tMin.toFixed(0) + " s");
    add("text", {x: width - pad, y: height - 6, class: "tick", "text-anchor": "end"}, "0 s");
    add("text", {x: pad, y: 14, class: "tick"}, name + " (" + L.seriesMax + " " + Math.max(...vs, 0) + ")");
    return svg;
  }

  function renderHistory(a) {
    document.getElementById("history").replaceChildren(...(a.events || []).map((ev) => CC.el("tr", {}, [
      CC.el("td", {}, [CC.el("time", {datetime: ev.created_at, text: CC.formatTime(ev.created_at, cfg.timeZone)})]),
      CC.el("td", {text: eventLabel[ev.action] || ev.action}),
      CC.el("td", {text: ev.actor || L.system}),
      CC.el("td", {text: [ev.from_status, ev.to_status].filter(Boolean).map((s) => statusLabel[s] || s).join(" → ")}),
      CC.el("td", {text: ev.note || ""}),
    ])));
  }

  // where the incident stands with each CAD endpoint, live: queued, retrying in N s, delivered, failed
  function deliveryState(d) {
    if (d.status === "delivered") return {kind: "ok", text: L.delivered + " " + CC.formatTime(d.delivered_at, cfg.timeZone)};
    if (d.status === "failed") return {kind: "bad", text: L.deliveryFailed + ": " + (d.last_error || "?")};
    if (d.status === "cancelled") return {kind: "muted", text: L.deliveryCancelled};
    if (!d.attempts) return {kind: "wait", text: L.queued};
    const left = Math.ceil((new Date(d.next_attempt_at) - Date.now()) / 1000);
    const why = d.last_error ? " (" + L.attempt + " " + d.attempts + ": " + d.last_error + ")" : "";
    return {kind: "wait", text: (left > 0 ? L.retryingIn.replace("%(seconds)s", String(left)) : L.sending) + why};
  }

  function renderDispatch(a) {
    const deliveries = a.deliveries || [];
    const units = a.unit_reports || [];
    document.getElementById("dispatch-box").hidden = !deliveries.length && !units.length;
    document.getElementById("deliveries").replaceChildren(...deliveries.map((d) => {
      const state = deliveryState(d);
      const retry = d.status === "failed" && cfg.canAct ?
        CC.el("button", {type: "button", className: "btn retry", "data-delivery": String(d.id), text: L.retry}) : null;
      return CC.el("li", {className: "delivery state-" + state.kind, "data-status": d.status}, [
        CC.el("strong", {text: d.endpoint}),
        CC.el("span", {className: "delivery-state", text: " · " + state.text + " "}),
        retry,
      ]);
    }));
    document.getElementById("units-box").hidden = !units.length;
    document.getElementById("units").replaceChildren(...units.map((u) => CC.el("tr", {className: "unit-status"}, [
      CC.el("td", {}, [CC.el("time", {datetime: u.reported_at, text: CC.formatTime(u.reported_at, cfg.timeZone)})]),
      CC.el("td", {text: u.unit}),
      CC.el("td", {text: u.status_display}),
      CC.el("td", {text: u.cad_reference || ""}),
    ])));
  }

  setInterval(() => { if (shown && (shown.deliveries || []).some((d) => d.status === "pending")) renderDispatch(shown); }, 1000);

  document.getElementById("deliveries").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-delivery]");
    if (!button) return;
    button.disabled = true;
    const result = await CC.post(cfg.deliveriesApi + button.dataset.delivery + "/retry/", {});
    if (!result.ok) CC.toast((result.data && result.data.detail) || L.failed, "error");
    refresh();
  });

  function render(a) {
    shown = a;
    renderFacts(a);
    renderDispatch(a);
    renderFace(a);
    renderEvidence(a);
    renderHistory(a);
    document.getElementById("detail").setAttribute("aria-busy", "false");
  }

  function refresh() {
    if (loading) { loading.again = true; return loading.promise; }
    loading = {again: false};
    loading.promise = (async () => {
      try {
        do {
          loading.again = false;
          const a = await CC.getJSON(url);
          if (!shown || a.change_seq >= shown.change_seq) render(a);
        } while (loading.again);
      } catch (error) {
        if (error.status === 404) CC.toast(L.notFound, "error");
      } finally {
        loading = null;
      }
    })();
    return loading.promise;
  }

  async function act(action) {
    if (!shown) return;
    const possible = CC.actionsFor(shown, cfg).find((x) => x.key === action);
    if (!possible || !possible.enabled) return;
    try {
      await CC.runAction(shown.id, action, cfg, shown);
    } catch (error) {
      // 409: someone else acted first; the toast says so and the refresh shows what they did
    }
    refresh();
  }

  const HOTKEYS = {a: "acknowledge", c: "confirm", r: "reject", d: "dispatch", e: "escalate", x: "resolve"};
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, dialog[open]")) return;
    if (event.key === "?") { event.preventDefault(); document.getElementById("help").showModal(); }
    else if (HOTKEYS[event.key]) { event.preventDefault(); act(HOTKEYS[event.key]); }
  });
  document.getElementById("actions").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(button.dataset.action);
  });

  refresh();
  const socket = new CC.LiveSocket(cfg.ws, {
    labels: L, onOpen: refresh,
    onMessage: (m) => {
      if (m.type === "alert.changed" && m.id === cfg.alertId && (!shown || m.seq > shown.change_seq)) refresh();
    },
  });
  window.ccDetail = {socket: socket, refresh: refresh};
})();
