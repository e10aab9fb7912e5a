// The live alert feed: page from the API, catch up by cursor on every (re)connect, apply pushes by id+seq.
(function () {
  "use strict";
  const CC = window.CC;
  const cfg = CC.config();
  const L = cfg.labels;
  const PAGE_SIZE = 50;
  const OVERLAP = 200;  // re-read this many change numbers: commits can land out of sequence order
  const RANGES = {"1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3};
  const FILTERS = ["kind", "severity", "status", "venue", "camera", "range", "from", "to", "sort"];
  const labelOf = (pairs) => Object.fromEntries(pairs.map(([value, label]) => [String(value), label]));
  const reviewLabel = labelOf(cfg.reviews);

  const state = {
    alerts: new Map(), seen: new Map(), inflight: new Map(), cursor: cfg.cursor || 0,
    page: 1, pages: 1, filters: {}, selected: null, ready: false, pendingNew: 0, chain: Promise.resolve(),
  };
  const feed = document.getElementById("feed");
  const form = document.getElementById("filters");

  // --- filters <-> URL <-> API ------------------------------------------------------------------------
  function readUrl() {
    const params = new URLSearchParams(location.search);
    state.filters = {};
    FILTERS.forEach((name) => { if (params.get(name)) state.filters[name] = params.get(name); });
    state.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
    FILTERS.forEach((name) => { if (form.elements[name]) form.elements[name].value = state.filters[name] || ""; });
    document.getElementById("camera-filter").hidden = !state.filters.camera;
  }

  function writeUrl(push) {
    const params = new URLSearchParams();
    FILTERS.forEach((name) => { if (state.filters[name]) params.set(name, state.filters[name]); });
    if (state.page > 1) params.set("page", String(state.page));
    const url = location.pathname + (params.toString() ? "?" + params : "");
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
  }

  function timeBounds() {
    const f = state.filters;
    let after = f.range && RANGES[f.range] ? new Date(Date.now() - RANGES[f.range]) : null;
    if (f.from) { const from = new Date(f.from); if (!after || from > after) after = from; }
    const before = f.to ? new Date(f.to) : null;
    return {after: after, before: before};
  }

  function apiParams() {
    const f = state.filters;
    const params = new URLSearchParams();
    ["kind", "severity", "venue", "camera"].forEach((name) => { if (f[name]) params.set(name, f[name]); });
    if (f.status === "open") params.set("open", "true"); else if (f.status) params.set("status", f.status);
    const bounds = timeBounds();
    if (bounds.after) params.set("raised_after", bounds.after.toISOString());
    if (bounds.before) params.set("raised_before", bounds.before.toISOString());
    return params;
  }

  function matches(alert) {
    const f = state.filters;
    if (f.kind && alert.kind !== f.kind) return false;
    if (f.severity && String(alert.severity) !== f.severity) return false;
    if (f.venue && alert.venue !== f.venue) return false;
    if (f.camera && alert.camera !== f.camera) return false;
    if (f.status === "open" && alert.status === "resolved") return false;
    if (f.status && f.status !== "open" && alert.status !== f.status) return false;
    const bounds = timeBounds();
    const raised = new Date(alert.raised_at);
    if (bounds.after && raised < bounds.after) return false;
    return !(bounds.before && raised >= bounds.before);
  }

  function compare(a, b) {
    if (state.filters.sort !== "time" && a.severity !== b.severity) return b.severity - a.severity;
    return new Date(b.raised_at) - new Date(a.raised_at);
  }

  // --- state changes --------------------------------------------------------------------------------
  function remember(alert) {
    state.seen.set(alert.id, Math.max(state.seen.get(alert.id) || 0, alert.change_seq));
    state.cursor = Math.max(state.cursor, alert.change_seq);
  }

  // apply one alert version; older or repeated versions change nothing (idempotent by id + seq)
  function apply(alert) {
    const current = state.alerts.get(alert.id);
    const known = state.seen.has(alert.id);
    remember(alert);
    if (current && current.change_seq >= alert.change_seq) return false;
    if (!matches(alert)) return current ? state.alerts.delete(alert.id) : false;
    if (!current && state.page > 1) { if (!known && alert.status === "new") state.pendingNew += 1; return !known; }
    state.alerts.set(alert.id, alert);
    if (!current && state.ready) announce(alert);
    return true;
  }

  function announce(alert) {
    if (alert.status !== "new") return;
    state.fresh = state.fresh || new Set();
    state.fresh.add(alert.id);
    if (alert.severity >= 3) {
      CC.beep(alert.severity >= 4 ? 2 : 1);
      CC.notify(alert.severity_display + ": " + alert.kind_display, alert.venue_name + " · " + alert.camera_name,
                alert.id, () => openDetail(alert.id));
    }
  }

  async function loadPage() {
    feed.setAttribute("aria-busy", "true");
    const from = state.cursor;
    const params = apiParams();
    params.set("page", String(state.page));
    params.set("page_size", String(PAGE_SIZE));
    params.set("ordering", state.filters.sort === "time" ? "-raised_at" : "-severity,-raised_at");
    let data;
    try {
      data = await CC.getJSON(cfg.api + "?" + params);
    } catch (error) {
      if (error.status === 404 && state.page > 1) { state.page = 1; writeUrl(false); return loadPage(); }
      CC.toast(L.failed, "error");
      return;
    }
    state.alerts = new Map();
    state.pendingNew = 0;
    data.results.forEach((alert) => { state.alerts.set(alert.id, alert); remember(alert); });
    state.pages = Math.max(1, Math.ceil(data.count / PAGE_SIZE));
    render();
    await catchUp(from);
  }

  // everything changed after the cursor (with an overlap); serialized so two runs never interleave
  function catchUp(from) {
    state.chain = state.chain.then(() => catchUpNow(from)).catch(() => CC.toast(L.failed, "error"));
    return state.chain;
  }

  async function catchUpNow(from) {
    let after = Math.max(0, (from === undefined ? state.cursor : from) - OVERLAP);
    for (let round = 0; round < 20; round += 1) {
      const params = apiParams();
      params.set("after", String(after));
      const data = await CC.getJSON(cfg.api + "?" + params);
      data.results.forEach(apply);
      state.cursor = Math.max(state.cursor, data.cursor);
      after = data.cursor;
      if (!data.more) break;
    }
    render();
  }

  // a push says alert `id` reached change `seq`: fetch it unless we already have that version
  async function onPush(message) {
    if (message.type !== "alert.changed") return;
    if ((state.seen.get(message.id) || 0) >= message.seq) return;
    if (state.inflight.has(message.id)) { state.inflight.get(message.id).again = true; return; }
    const job = {again: false};
    state.inflight.set(message.id, job);
    try {
      do {
        job.again = false;
        const alert = await CC.getJSON(cfg.api + message.id + "/");
        if (apply(alert)) render();
      } while (job.again);
    } catch (error) {
      if (error.status === 404 && state.alerts.delete(message.id)) render();
    } finally {
      state.inflight.delete(message.id);
    }
  }

  // --- rendering ------------------------------------------------------------------------------------
  function row(alert) {
    const detailUrl = cfg.detailUrl.replace("00000000-0000-0000-0000-000000000000", alert.id);
    const fresh = state.fresh && state.fresh.has(alert.id);
    const review = alert.kind === "face_match" ? reviewLabel[alert.review] : "";
    const item = CC.el("li", {
      className: "alert sev-" + alert.severity + " status-" + alert.status + (fresh ? " fresh" : "") +
        (alert.face ? " has-face" : ""),
      tabindex: "-1", "data-id": alert.id, "data-seq": String(alert.change_seq),
      "aria-selected": state.selected === alert.id ? "true" : "false",
    }, [
      CC.el("span", {className: "badge sev sev-" + alert.severity, text: alert.severity_display}),
      CC.alertThumbs(alert, L),
      CC.el("div", {className: "alert-main"}, [
        CC.el("a", {href: detailUrl, className: "alert-kind", text: alert.kind_display}),
        ...CC.faceLines(alert, L),
        CC.el("span", {className: "muted", text: alert.venue_name + " · " + alert.camera_name}),
        CC.el("time", {datetime: alert.raised_at, text: CC.formatTime(alert.raised_at, cfg.timeZone)}),
      ]),
      CC.el("div", {className: "alert-state"}, [
        CC.el("span", {className: "badge status status-" + alert.status, text: alert.status_display}),
        review ? CC.el("span", {className: "badge review review-" + alert.review, text: review}) : null,
        alert.sightings > 1 ? CC.el("span", {className: "badge sightings", text: L.sightings + ": " + alert.sightings}) : null,
        alert.cad ? CC.el("span", {className: "badge cad cad-" + alert.cad.state, text: "CAD: " + alert.cad.state_display}) : null,
        alert.cad && alert.cad.unit ? CC.el("span", {className: "muted unit", text: alert.cad.unit}) : null,
        alert.assigned_to ? CC.el("span", {className: "muted", text: L.assigned + ": " + alert.assigned_to}) : null,
      ]),
      CC.el("div", {className: "actions"}, CC.actionButtons(alert, cfg)),
    ]);
    CC.paintWatchlist(item, alert);
    return item;
  }

  function render() {
    const hadFocus = feed.contains(document.activeElement);
    const sorted = Array.from(state.alerts.values()).sort(compare);
    feed.replaceChildren(...sorted.map(row));
    feed.setAttribute("aria-busy", "false");
    document.getElementById("empty").hidden = sorted.length > 0;
    document.getElementById("page-info").textContent = L.page + " " + state.page + " " + L.of + " " + state.pages;
    document.getElementById("prev-page").disabled = state.page <= 1;
    document.getElementById("next-page").disabled = state.page >= state.pages;
    const banner = document.getElementById("new-banner");
    banner.hidden = state.pendingNew === 0;
    document.getElementById("new-banner-btn").textContent = state.pendingNew + " " + L.newAlerts;
    if (hadFocus && state.selected) focusRow(state.selected);
  }

  // --- selection, keyboard, actions -----------------------------------------------------------------
  function rows() { return Array.from(feed.querySelectorAll("li.alert")); }

  function focusRow(id) {
    const target = feed.querySelector('li.alert[data-id="' + CSS.escape(id) + '"]');
    if (!target) return;
    state.selected = id;
    rows().forEach((li) => li.setAttribute("aria-selected", li === target ? "true" : "false"));
    target.focus();
  }

  function move(step) {
    const list = rows();
    if (!list.length) return;
    const index = list.findIndex((li) => li.dataset.id === state.selected);
    const next = index < 0 ? 0 : Math.min(list.length - 1, Math.max(0, index + step));
    focusRow(list[next].dataset.id);
  }

  function openDetail(id) {
    location.href = cfg.detailUrl.replace("00000000-0000-0000-0000-000000000000", id);
  }

  async function act(id, action) {
    const alert = state.alerts.get(id);
    if (!alert) return;
    const possible = CC.actionsFor(alert, cfg).find((a) => a.key === action);
    if (!possible || !possible.enabled) { CC.toast(possible && possible.reason ? possible.reason : L.forbidden, "warn"); return; }
    try {
      const updated = await CC.runAction(id, action, cfg, alert);
      if (updated) CC.keepCardData(updated, alert);
      if (updated && apply(updated)) render();
    } catch (error) {
      if (error.status === 409 || error.status === 404) onPush({type: "alert.changed", id: id, seq: Infinity});
    }
  }

  const HOTKEYS = {a: "acknowledge", c: "confirm", r: "reject", d: "dispatch", e: "escalate", x: "resolve"};

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, dialog[open]")) return;
    if (event.key === "?") { event.preventDefault(); document.getElementById("help").showModal(); return; }
    if (event.key === "j") { event.preventDefault(); move(1); return; }
    if (event.key === "k") { event.preventDefault(); move(-1); return; }
    if (event.key === "Enter" && state.selected && event.target.matches("li.alert")) { openDetail(state.selected); return; }
    if (HOTKEYS[event.key] && state.selected) { event.preventDefault(); act(state.selected, HOTKEYS[event.key]); }
  }

  function onFeedClick(event) {
    const button = event.target.closest("button[data-action]");
    const li = event.target.closest("li.alert");
    if (li) { state.selected = li.dataset.id; }
    if (button) { act(button.dataset.id, button.dataset.action); }
  }

  function onFilter(event) {
    event.preventDefault();
    const data = new FormData(form);
    state.filters = {};
    FILTERS.forEach((name) => { const v = data.get(name); if (v) state.filters[name] = String(v); });
    state.page = 1;
    writeUrl(true);
    document.getElementById("camera-filter").hidden = !state.filters.camera;
    loadPage();
  }

  function goPage(step) {
    state.page = Math.min(state.pages, Math.max(1, state.page + step));
    writeUrl(true);
    loadPage();
  }

  function setupNotifications() {
    const button = document.getElementById("notify-btn");
    if (!("Notification" in window) || Notification.permission === "granted") return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const permission = await Notification.requestPermission();
      if (permission === "granted") { button.hidden = true; CC.toast(L.notifyOn, "info"); }
    });
  }

  function setup() {
    readUrl();
    form.addEventListener("change", onFilter);
    form.addEventListener("submit", onFilter);
    feed.addEventListener("click", onFeedClick);
    document.addEventListener("keydown", onKey);
    document.getElementById("help-btn").addEventListener("click", () => document.getElementById("help").showModal());
    document.getElementById("prev-page").addEventListener("click", () => goPage(-1));
    document.getElementById("next-page").addEventListener("click", () => goPage(1));
    document.getElementById("new-banner-btn").addEventListener("click", () => { state.page = 1; writeUrl(true); loadPage(); });
    window.addEventListener("popstate", () => { readUrl(); loadPage(); });
    setupNotifications();
    const loaded = loadPage().then(() => { state.ready = true; });
    const socket = new CC.LiveSocket(cfg.ws, {
      labels: L, onMessage: onPush,
      onOpen: () => loaded.then(() => catchUp()),
    });
    window.ccFeed = {socket: socket, state: state, drop: (ms) => socket.drop(ms)};
  }

  setup();
})();
