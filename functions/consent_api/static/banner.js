/* edge-consent banner, served minified at /consent/banner.<version>.js (banner.py).
 * Asks for consent on the first visit, records the choice at /consent, and activates
 * only what the visitor granted. The edge enforces first-party cookies; this script
 * gates what never passes through it (third-party scripts and iframes, Consent Mode). */
(function () {
  "use strict";
  if (window.edgeConsent) return; // included twice: one banner is enough

  const doc = document;
  const API = "/consent";
  const TIMEOUT = 8000; // ms: a save not answered by then has failed, and may be tried again
  // Filled by the consent endpoint when it serves this script: the policy's texts and
  // categories, and the state cookie to read, so that no page needs to ask the server.
  const BOOT = /*BOOT*/ null;
  const SIGNALS = ["ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"];
  const CSS =
    ".ec-root{position:fixed;left:0;right:0;bottom:0;z-index:2147483000;max-height:85vh;overflow:auto;" +
    "box-sizing:border-box;padding:1rem 1.25rem;background:#fff;color:#111;border-top:3px solid #111;" +
    "box-shadow:0 -2px 10px rgba(0,0,0,.35);font:16px/1.5 system-ui,sans-serif;text-align:left}" +
    ".ec-root [hidden]{display:none!important}" +
    ".ec-root h2,.ec-root h3{margin:0 0 .5rem;font-size:1.15rem;color:#111}" +
    ".ec-root p{margin:0 0 .75rem}" +
    ".ec-root a{color:#0b3d91;text-decoration:underline;margin-right:1rem}" +
    ".ec-row{display:flex;flex-wrap:wrap;gap:.5rem;margin:.75rem 0}" +
    ".ec-btn{flex:1 1 12rem;min-height:44px;margin:0;padding:.6rem 1rem;font:inherit;font-weight:600;" +
    "color:#fff;background:#111;border:2px solid #111;border-radius:4px;cursor:pointer}" +
    ".ec-btn:hover{background:#333}.ec-btn[aria-busy=true]{cursor:progress}" +
    ".ec-root :focus{outline:3px solid #0b57d0;outline-offset:2px}" +
    ".ec-cats{list-style:none;margin:0;padding:0}" +
    ".ec-cats li{padding:.5rem 0;border-top:1px solid #bbb}" +
    ".ec-cats input{width:1.2rem;height:1.2rem;margin:0 .5rem 0 0;vertical-align:middle}" +
    ".ec-cats label{font-weight:600}.ec-cats p{margin:.25rem 0 0}" +
    ".ec-tag{font-weight:400;font-style:italic}" +
    ".ec-err{color:#a00000;font-weight:600}" +
    ".ec-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}";

  const script = doc.currentScript;
  let cur = null; // the last state answer from /consent
  let ui = null; // the open dialog
  let live = null; // polite live region, present before anything is announced
  let lastFocus = null;
  let busy = false;
  // [choice, submission_id] of a save not known to be recorded: trying the same choice again is the
  // same submission, which the endpoint records once however many of its answers were lost.
  let retry = null;

  // Google Consent Mode v2: every signal denied until the visitor's choice is known.
  const dataLayer = (window.dataLayer = window.dataLayer || []);
  const gtag =
    typeof window.gtag === "function"
      ? window.gtag
      : function () {
          dataLayer.push(arguments); // gtag.js reads Arguments objects, not arrays
        };
  const denied = {};
  SIGNALS.forEach((s) => (denied[s] = "denied"));
  gtag("consent", "default", Object.assign({}, denied, { wait_for_update: 500 }));

  const domReady = new Promise((resolve) => {
    if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", resolve);
    else resolve();
  }).then(() => {
    const style = el("style", {}, CSS);
    if (script && script.nonce) style.nonce = script.nonce; // a strict CSP allows the script's nonce
    (doc.head || doc.body).appendChild(style);
    live = el("div", { class: "ec-sr", "aria-live": "polite" });
    doc.body.appendChild(live);
  });

  function el(tag, attrs, text) {
    const e = doc.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => e.setAttribute(k, attrs[k]));
    if (text != null) e.textContent = text; // server data is always text, never markup
    return e;
  }

  function add(parent, ...kids) {
    kids.forEach((k) => parent.appendChild(k));
    return parent;
  }

  function T(key) {
    const texts = cur && cur.texts;
    return (texts && typeof texts[key] === "string" && texts[key]) || "";
  }

  function call(options) {
    return fetch(API, Object.assign({ credentials: "same-origin" }, options)).then((r) => {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function granted() {
    return new Set(cur && Array.isArray(cur.granted) ? cur.granted : []);
  }

  // True when every listed category is granted; an empty or unknown list grants nothing.
  function allowed(set, categories) {
    const list = Array.isArray(categories) ? categories : String(categories || "").split(/\s+/).filter(Boolean);
    return list.length > 0 && list.every((c) => set.has(c));
  }

  // Activates the gated elements of granted categories and tells Consent Mode.
  // Activation cannot be undone in this page; the edge removes cookies on the next request.
  function apply() {
    const set = granted();
    doc.querySelectorAll('script[type="text/plain"][data-consent-category]').forEach((old) => {
      if (old.hasAttribute("data-consent-activated") || !allowed(set, old.getAttribute("data-consent-category"))) return;
      const s = doc.createElement("script");
      for (const a of Array.from(old.attributes)) if (a.name !== "type") s.setAttribute(a.name, a.value);
      const type = old.getAttribute("data-type");
      if (type) s.setAttribute("type", type);
      if (old.nonce) s.nonce = old.nonce; // the attribute reads empty once CSP hides it
      if (!old.hasAttribute("async")) s.async = false; // gated scripts keep their document order
      if (!old.hasAttribute("src")) s.textContent = old.textContent;
      old.setAttribute("data-consent-activated", "");
      old.parentNode.insertBefore(s, old.nextSibling);
    });
    doc.querySelectorAll("iframe[data-consent-src][data-consent-category]").forEach((f) => {
      if (f.hasAttribute("data-consent-activated") || !allowed(set, f.getAttribute("data-consent-category"))) return;
      f.setAttribute("data-consent-activated", "");
      f.setAttribute("src", f.getAttribute("data-consent-src"));
    });
    const mode = Object.assign({}, denied);
    const map = cur && cur.consent_mode && typeof cur.consent_mode === "object" ? cur.consent_mode : {};
    for (const signal of Object.keys(map)) mode[signal] = allowed(set, map[signal]) ? "granted" : "denied";
    gtag("consent", "update", mode);
  }

  function newId() {
    const c = window.crypto;
    if (c.randomUUID) return c.randomUUID(); // secure contexts only
    return Array.from(c.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Site-relative or https links only: no javascript: or protocol-relative URL reaches an href.
  function safeHref(href) {
    return typeof href === "string" && /^(https:\/\/|\/(?![/\\]))/i.test(href) ? href : null;
  }

  function build(from) {
    const set = granted();
    const boxes = [];
    const root = el("div", {
      class: "ec-root",
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": "ec-title",
      "aria-describedby": "ec-text",
    });
    if (cur.language) root.setAttribute("lang", cur.language);

    // Every choice is the same kind of button with the same class: none is favoured.
    function button(key, onClick) {
      const b = el("button", { type: "button", class: "ec-btn" }, T(key));
      b.addEventListener("click", () => onClick(b));
      return b;
    }
    const more = button("customise", () => expand(more.getAttribute("aria-expanded") !== "true"));
    more.setAttribute("aria-controls", "ec-prefs");
    const actions = add(
      el("div", { class: "ec-row" }),
      button("accept_all", (b) => send(b, "accept_all")),
      button("reject_all", (b) => send(b, "reject_all")),
      more,
    );

    // The first layer names every purpose asked for, before any button (CNIL, 2020 recommendation).
    const purposes = el("p", { class: "ec-purposes" });
    const optional = (Array.isArray(cur.categories) ? cur.categories : []).filter((c) => !c.required);
    const names = optional.map((c) => c.name).join(" · ");
    add(purposes, el("strong", {}, T("purposes_label")), doc.createTextNode(" " + names));

    const links = cur.links || {};
    const nav = el("p", { class: "ec-links" });
    for (const [key, text] of [["cookies", "cookie_page_link"], ["privacy", "privacy_link"]]) {
      const href = safeHref(links[key]);
      if (href) add(nav, el("a", { href }, T(text)));
    }

    // Second layer: one checkbox per purpose; nothing optional is pre-checked on a first visit.
    const list = el("ul", { class: "ec-cats" });
    (Array.isArray(cur.categories) ? cur.categories : []).forEach((c, i) => {
      const id = "ec-c" + i;
      const box = el("input", { type: "checkbox", id: id, "aria-describedby": id + "d" });
      box.checked = !!c.required || set.has(c.id);
      box.disabled = !!c.required;
      boxes.push([box, c.id]);
      const label = el("label", { for: id }, c.name);
      if (c.required) add(label, doc.createTextNode(" "), el("span", { class: "ec-tag" }, T("always_active")));
      add(list, add(el("li"), box, label, el("p", { id: id + "d" }, c.purpose)));
    });
    const save = (b) => send(b, "custom", boxes.filter(([box]) => box.checked).map(([, id]) => id));
    const prefsRow = add(el("div", { class: "ec-row" }), button("save_choices", save));
    if (cur.state === "valid") add(prefsRow, button("withdraw", (b) => send(b, "withdraw")));
    const prefs = add(el("div", { id: "ec-prefs" }), el("h3", {}, T("preferences_title")), list, prefsRow);
    const err = el("p", { class: "ec-err" }); // said in the live region, shown here
    err.hidden = true;

    add(
      root,
      el("h2", { id: "ec-title" }, T("banner_title")),
      el("p", { id: "ec-text" }, T("banner_text")),
      purposes,
      nav,
      actions,
      err,
      prefs,
    );
    // Escape leaves the second layer for the first; it is neither a refusal nor an acceptance.
    root.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      if (!prefs.hidden) {
        expand(false);
        more.focus();
      } else if (cur.state === "valid") {
        close(); // re-opened over an existing choice, which stays as it was
      } else {
        return;
      }
      e.preventDefault();
    });
    lastFocus = from || doc.activeElement;
    ui = { root, prefs, more, err, first: actions.firstChild };
    doc.body.appendChild(root);
  }

  function expand(open) {
    ui.prefs.hidden = !open;
    ui.more.setAttribute("aria-expanded", String(open));
  }

  function show(custom, from) {
    if (!ui) build(from);
    expand(custom);
    ui.first.focus();
  }

  function close() {
    if (!ui) return;
    ui.root.remove();
    ui = null;
    if (lastFocus && typeof lastFocus.focus === "function") lastFocus.focus();
    lastFocus = null;
  }

  // The pressed button says at once that the choice is being saved, and keeps the focus: it is
  // aria-disabled, not disabled, which would drop the focus out of the dialog. Until the answer
  // (or TIMEOUT), another press does nothing.
  function send(b, action, categories) {
    if (busy || !ui) return;
    busy = true;
    const { err } = ui;
    const label = b.textContent;
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), TIMEOUT);
    err.hidden = true;
    b.setAttribute("aria-busy", "true");
    b.setAttribute("aria-disabled", "true");
    b.textContent = live.textContent = T("choice_saving") || label;
    b.focus();
    const choice = action + categories;
    if (!retry || retry[0] !== choice) retry = [choice, newId()];
    const body = { action, return_to: location.pathname, submission_id: retry[1] };
    if (action === "custom") body.categories = categories;
    call({
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      signal: stop.signal,
    })
      .then((answer) => {
        const state = answer && answer.state;
        if (!state || typeof state !== "object" || !Array.isArray(state.granted)) throw new Error("bad answer");
        cur = Object.assign({}, cur, state, { receipt_id: answer.receipt_id || state.receipt_id || null });
        retry = null;
        close();
        const said = action === "withdraw" ? T("choice_withdrawn") : "";
        live.textContent = said || T("choice_saved");
        apply();
      })
      .catch(() => {
        // A network error, a 5xx, a 429 from the WAF, no answer in time: nothing is assumed.
        // The dialog stays open, the grant unchanged, and the buttons can be pressed again.
        live.textContent = err.textContent = T("choice_failed");
        err.hidden = false;
      })
      .then(() => {
        clearTimeout(timer);
        b.textContent = label;
        b.removeAttribute("aria-busy");
        b.removeAttribute("aria-disabled");
        busy = false;
      });
  }

  // The visitor's current choice from the state cookie the consent endpoint and the edge keep
  // beside the signed one: granted categories, or null when there is none to honour.
  function heldChoice() {
    const prefix = BOOT.state_cookie + "=";
    const held = doc.cookie.split("; ").find((c) => c.startsWith(prefix));
    if (!held) return null;
    const [version, categories, expires] = held.slice(prefix.length).split(".");
    if (!(+version >= BOOT.reconsent_version) || !(+expires * 1000 > Date.now())) return null;
    return categories ? categories.split("-") : [];
  }

  // The page's language when the policy has it, else the visitor's, else the policy's own.
  function pageLanguage() {
    const wanted = [doc.documentElement.lang, ...(navigator.languages || [])];
    for (const tag of wanted) {
      const code = String(tag || "").slice(0, 2).toLowerCase();
      if (BOOT.languages[code]) return code;
    }
    return BOOT.default_language;
  }

  // Without a request: the state from the cookie, the texts from this script.
  function startFromBoot() {
    return domReady.then(() => {
      const language = pageLanguage();
      const held = heldChoice();
      cur = Object.assign({}, BOOT.languages[language], {
        language,
        state: held ? "valid" : "absent",
        granted: ["necessary"].concat(held || []),
        consent_mode: BOOT.consent_mode,
        links: BOOT.links,
      });
      apply();
      return true;
    });
  }

  // Resolves true once the state is known and applied; false leaves everything denied.
  function start() {
    if (BOOT) return startFromBoot();
    return Promise.all([call({ headers: { Accept: "application/json" } }), domReady]).then(
      ([data]) => {
        if (!data || typeof data.state !== "string") return false;
        cur = data;
        apply();
        return true;
      },
      () => false,
    );
  }

  let boot = start();
  boot.then((ok) => ok && cur.state !== "valid" && show(false));

  // Re-opening lands on the second layer, with the current grant checked.
  function open(from) {
    boot = boot.then((ok) => ok || start()); // an endpoint unreachable at load is retried on demand
    return boot.then((ok) => ok && show(true, from));
  }

  doc.addEventListener("click", (e) => {
    const t = e.target && e.target.closest ? e.target.closest("[data-consent-open]") : null;
    if (!t) return;
    e.preventDefault();
    open(t);
  });

  window.edgeConsent = Object.freeze({
    open: () => open(),
    state: () => (cur ? JSON.parse(JSON.stringify(cur)) : null),
  });
})();
