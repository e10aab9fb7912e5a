// Shared by the live pages: config, API calls with CSRF, the reconnecting socket, alert actions.
(function () {
  "use strict";
  const CC = (window.CC = window.CC || {});

  CC.config = function (id) {
    const el = document.getElementById(id || "cc-config");
    return el ? JSON.parse(el.textContent) : {};
  };

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  CC.getJSON = async function (url) {
    const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (!response.ok) {
      const error = new Error("HTTP " + response.status);
      error.status = response.status;
      throw error;
    }
    return response.json();
  };

  CC.post = async function (url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return {status: response.status, ok: response.ok, data: data};
  };

  CC.el = function (tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([key, value]) {
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.append(child);
    });
    return node;
  };

  CC.formatTime = function (iso, timeZone) {
    if (!iso) return "";
    const options = {dateStyle: "short", timeStyle: "medium"};
    if (timeZone) options.timeZone = timeZone;
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, options).format(new Date(iso));
    } catch (e) {
      return new Date(iso).toLocaleString();
    }
  };

  CC.toast = function (message, kind) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.dataset.kind = kind || "info";
    box.hidden = false;
    clearTimeout(CC.toast.timer);
    CC.toast.timer = setTimeout(function () { box.hidden = true; }, 6000);
  };

  // --- alert cards: who a face match names, thumbnails, the watchlist's colour -------------------------
  CC.alertThumbs = function (alert, L) {
    const pics = [];
    if (alert.thumbnail_url) {
      pics.push(CC.el("img", {src: alert.thumbnail_url, loading: "lazy", className: "thumb",
                              alt: alert.kind === "face_match" ? L.probe : L.snapshot}));
    }
    if (alert.face && alert.face.enrolled_photo_url) {
      pics.push(CC.el("img", {src: alert.face.enrolled_photo_url, loading: "lazy", className: "thumb", alt: L.enrolled}));
    }
    return CC.el("div", {className: "thumbs"}, pics);
  };

  CC.faceLines = function (alert, L) {
    const face = alert.face;
    if (!face) return [];
    const list = face.watchlist;
    return [
      CC.el("strong", {className: "subject-name", text: face.name}),
      CC.el("span", {className: "watchlist-line"}, [
        CC.el("span", {className: "wl-chip category-" + list.category, text: list.category_display}),
        CC.el("span", {text: " " + list.name}),
        face.reference ? CC.el("span", {className: "muted", text: " · " + L.reference + " " + face.reference}) : null,
        CC.el("span", {className: "muted", text: " · " + L.similarity + " " + Number(alert.score).toFixed(3)}),
      ]),
    ];
  };

  // the list's colour as a CSS variable, set through the CSSOM (no inline style attribute: CSP)
  CC.paintWatchlist = function (node, alert) {
    if (alert.face && /^#[0-9a-fA-F]{6}$/.test(alert.face.watchlist.colour)) {
      node.style.setProperty("--wl", alert.face.watchlist.colour);
    }
  };

  // an action's answer carries no names or photos (not a read): keep the ones the card already shows
  CC.keepCardData = function (updated, current) {
    if (!current) return;
    if (!updated.face && current.face) updated.face = current.face;
    if (!updated.thumbnail_url && current.thumbnail_url) updated.thumbnail_url = current.thumbnail_url;
    if (!updated.cad && current.cad) updated.cad = current.cad;
  };

  // --- the socket: reconnects with jittered exponential backoff, shows its state -------------------
  CC.LiveSocket = class {
    constructor(path, options) {
      this.path = path;
      this.onOpen = options.onOpen;
      this.onMessage = options.onMessage;
      this.labels = options.labels || {};
      this.indicator = document.getElementById(options.indicator || "conn");
      this.attempt = 0;
      this.holdUntil = 0;
      this.stopped = false;
      window.addEventListener("online", () => this.reconnectSoon());
      this.connect();
    }

    url() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return scheme + "//" + location.host + this.path;
    }

    setState(state) {
      if (!this.indicator) return;
      this.indicator.dataset.state = state;
      this.indicator.textContent = this.labels[state] || state;
    }

    connect() {
      this.setState("connecting");
      const ws = new WebSocket(this.url());
      this.ws = ws;
      ws.addEventListener("open", () => {
        this.attempt = 0;
        this.setState("connected");
        this.startHeartbeat();
        if (this.onOpen) this.onOpen();
      });
      ws.addEventListener("message", (event) => {
        this.lastMessage = Date.now();
        let message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (this.onMessage) this.onMessage(message);
      });
      ws.addEventListener("close", (event) => {
        if (this.ws !== ws) return;
        this.stopHeartbeat();
        this.setState("offline");
        this.scheduleReconnect(event.code);
      });
    }

    scheduleReconnect(code) {
      if (this.stopped) return;
      if (code === 4401) { location.reload(); return; }  // the session ended: go to sign-in
      if (code === 4403) { this.stopped = true; return; }  // no permission: retrying cannot help
      const base = Math.min(30000, 500 * Math.pow(2, this.attempt));
      this.attempt += 1;
      const delay = Math.max(base / 2 + Math.random() * base / 2, this.holdUntil - Date.now());
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), delay);
    }

    reconnectSoon() {
      if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
      this.attempt = 0;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), 200);
    }

    startHeartbeat() {
      this.lastMessage = Date.now();
      this.heartbeat = setInterval(() => {
        if (Date.now() - this.lastMessage > 45000) { this.ws.close(); return; }  // half-open link
        if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({type: "ping"}));
      }, 20000);
    }

    stopHeartbeat() { clearInterval(this.heartbeat); }

    // diagnostics and tests: drop the link and hold reconnecting for `holdMs`
    drop(holdMs) {
      this.holdUntil = Date.now() + (holdMs || 0);
      if (this.ws) this.ws.close();
    }

    isOpen() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }
  };

  // --- alert actions: which are possible now, and running one against the API ---------------------
  const OPEN = ["new", "acknowledged", "escalated", "dispatched"];
  const UNREVIEWED = ["pending", "partly_confirmed"];

  CC.actionsFor = function (alert, cfg) {
    const isFace = alert.kind === "face_match";
    const list = [];
    if (cfg.canAct) {
      list.push({key: "acknowledge", hotkey: "a", enabled: alert.status === "new"});
    }
    if (cfg.canReview && isFace) {
      const reviewable = UNREVIEWED.includes(alert.review) && OPEN.includes(alert.status);
      list.push({key: "confirm", hotkey: "c", enabled: reviewable});
      list.push({key: "reject", hotkey: "r", enabled: reviewable});
    }
    if (cfg.canAct) {
      const dispatchable = ["new", "acknowledged", "escalated"].includes(alert.status);
      const confirmed = !isFace || alert.review === "confirmed";
      list.push({key: "dispatch", hotkey: "d", enabled: dispatchable && confirmed,
                 reason: dispatchable && !confirmed ? cfg.labels.needsConfirm : ""});
      list.push({key: "escalate", hotkey: "e", enabled: ["new", "acknowledged"].includes(alert.status)});
      list.push({key: "resolve", hotkey: "x", enabled: OPEN.includes(alert.status)});
    }
    return list;
  };

  CC.actionButtons = function (alert, cfg) {
    return CC.actionsFor(alert, cfg).map(function (action) {
      return CC.el("button", {
        type: "button", className: "btn act act-" + action.key, "data-action": action.key,
        "data-id": alert.id, disabled: !action.enabled, title: action.reason || null,
        "aria-keyshortcuts": action.hotkey, text: cfg.labels[action.key],
      });
    });
  };

  // the dispatch form: endpoint, priority (default from the severity), note; Enter sends, Esc cancels
  CC.askDispatch = function (cfg, alert) {
    const dialog = document.getElementById("dispatch-dialog");
    if (!dialog) return Promise.resolve({note: ""});
    const endpoints = cfg.endpoints || [];
    const select = document.getElementById("dispatch-endpoint");
    select.replaceChildren(
      ...(endpoints.length > 1 ? [CC.el("option", {value: "", text: cfg.labels.allEndpoints})] : []),
      ...endpoints.map(([id, name]) => CC.el("option", {value: String(id), text: name})));
    document.getElementById("dispatch-endpoint-field").hidden = !endpoints.length;
    document.getElementById("dispatch-none").hidden = endpoints.length > 0;
    const priority = document.getElementById("dispatch-priority");
    priority.value = String(alert ? Math.min(5, Math.max(1, 5 - alert.severity)) : 3);
    document.getElementById("dispatch-note").value = "";
    document.getElementById("dispatch-what").textContent = alert ?
      [alert.kind_display, alert.face ? alert.face.name : "", alert.venue_name, alert.camera_name].filter(Boolean).join(" · ") : "";
    dialog.returnValue = "";
    const form = document.getElementById("dispatch-form");
    const onKey = (event) => {
      const inNote = event.target.id === "dispatch-note";
      if (event.key === "Enter" && (!inNote || event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        dialog.close("ok");
      }
    };
    form.addEventListener("keydown", onKey);
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function () {
        form.removeEventListener("keydown", onKey);
        if (dialog.returnValue !== "ok") { resolve(null); return; }
        resolve({note: document.getElementById("dispatch-note").value,
                 endpoint: select.value && endpoints.length ? Number(select.value) : null,
                 priority: Number(priority.value)});
      }, {once: true});
      dialog.showModal();
      (endpoints.length ? select : priority).focus();
    });
  };

  // asks for an outcome (resolve) or a note (reject); resolves to null when cancelled
  CC.askDetails = function (action, cfg, alert) {
    if (action === "dispatch") return CC.askDispatch(cfg, alert);
    const dialog = document.getElementById("act-dialog");
    if (!dialog || (action !== "resolve" && action !== "reject")) return Promise.resolve({note: ""});
    document.getElementById("act-title").textContent = cfg.labels[action];
    const outcome = document.getElementById("act-outcome");
    const outcomeField = document.getElementById("outcome-field");
    outcome.replaceChildren(...cfg.outcomes.map(([value, label]) => CC.el("option", {value: value, text: label})));
    outcomeField.hidden = action !== "resolve";
    outcome.required = action === "resolve";
    document.getElementById("act-note").value = "";
    dialog.returnValue = "";
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function () {
        if (dialog.returnValue !== "ok") { resolve(null); return; }
        const body = {note: document.getElementById("act-note").value};
        if (action === "resolve") body.outcome = outcome.value;
        resolve(body);
      }, {once: true});
      dialog.showModal();
    });
  };

  // a 409 names who acted first and what they did (composed and translated by the server)
  CC.conflictMessage = function (data, cfg) {
    return (data && data.by && data.detail) || cfg.labels.conflict;
  };

  // POST the action; returns the updated alert, or null after telling the user what happened
  CC.runAction = async function (alertId, action, cfg, alert) {
    const body = await CC.askDetails(action, cfg, alert);
    if (body === null) return null;
    const url = cfg.api + alertId + "/" + action + "/";
    const result = await CC.post(url, body);
    if (result.ok) return result.data;
    if (result.status === 409) CC.toast(CC.conflictMessage(result.data, cfg), "warn");
    else if (result.status === 403) CC.toast(cfg.labels.forbidden, "error");
    else if (result.status === 404) CC.toast(cfg.labels.notFound, "error");
    else CC.toast((result.data && result.data.detail) || cfg.labels.failed, "error");
    const error = new Error("action failed");
    error.status = result.status;
    throw error;
  };

  // --- attention: a WebAudio beep and a browser notification for high and critical alerts ---------
  let audio = null;
  function unlockAudio() {
    if (audio || !window.AudioContext) return;
    audio = new AudioContext();
  }
  document.addEventListener("pointerdown", unlockAudio, {once: true});
  document.addEventListener("keydown", unlockAudio, {once: true});

  CC.beep = function (times) {
    if (!audio) return;
    for (let i = 0; i < (times || 1); i += 1) {
      const start = audio.currentTime + i * 0.25;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, start);
      gain.gain.exponentialRampToValueAtTime(0.001, start + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.2);
    }
  };

  CC.notify = function (title, body, tag, onClick) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const note = new Notification(title, {body: body, tag: tag});
    note.addEventListener("click", function () { window.focus(); if (onClick) onClick(); });
  };
})();
