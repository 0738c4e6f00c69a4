"use strict";
// Runs banner.js against a minimal fake DOM in a vm context: `node banner_harness.js <scenario>`.
// Exits non-zero on the first failed assertion. Real browser tests cover layout and focus rendering.
const assert = require("assert/strict");
const vm = require("vm");
const { randomUUID } = require("crypto");
// The readable source (BOOT null: it asks GET /consent), or the script as served (BANNER_SCRIPT).
const SCRIPT = process.env.BANNER_SCRIPT || `${__dirname}/../../functions/consent_api/static/banner.js`;
const SOURCE = require("fs").readFileSync(SCRIPT, "utf8");

class El {
  constructor(tag, doc) {
    Object.assign(this, { tagName: tag.toUpperCase(), ownerDocument: doc, parentNode: null, childNodes: [] });
    Object.assign(this, { attrs: new Map(), listeners: {} });
  }
  get attributes() { return [...this.attrs].map(([name, value]) => ({ name, value })); }
  setAttribute(n, v) { this.attrs.set(n, String(v)); }
  getAttribute(n) { return this.attrs.has(n) ? this.attrs.get(n) : null; }
  hasAttribute(n) { return this.attrs.has(n); }
  removeAttribute(n) { this.attrs.delete(n); }
  get textContent() { return this.childNodes.map((c) => c.textContent).join(""); }
  set textContent(t) { this.childNodes = []; this.appendChild({ textContent: String(t) }); }
  get firstChild() { return this.childNodes[0] || null; }
  get nextSibling() { const s = this.parentNode && this.parentNode.childNodes; return (s && s[s.indexOf(this) + 1]) || null; }
  appendChild(c) { return this.insertBefore(c, null); }
  insertBefore(c, ref) {
    this.childNodes.splice(ref ? this.childNodes.indexOf(ref) : this.childNodes.length, 0, c);
    return Object.assign(c, { parentNode: this });
  }
  remove() { this.parentNode.childNodes.splice(this.parentNode.childNodes.indexOf(this), 1); this.parentNode = null; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  // Bubbles from the target up to the document, like a real click or keydown.
  dispatch(type, extra) {
    const event = Object.assign({ type, target: this, defaultPrevented: false }, extra);
    event.preventDefault = () => (event.defaultPrevented = true);
    for (let n = this; n; n = n.parentNode) (n.listeners[type] || []).forEach((fn) => fn(event));
    return event;
  }
  click() { return this.dispatch("click"); }
  focus() { this.ownerDocument.activeElement = this; }
  // Selectors of the form tag[attr][attr="value"], enough for what banner.js asks.
  matches(selector) {
    const [, tag, rest] = /^([a-z]*)(.*)$/.exec(selector);
    const attrs = [...rest.matchAll(/\[([\w-]+)(?:="([^"]*)")?\]/g)];
    const has = ([, n, v]) => this.hasAttribute(n) && (v === undefined || this.getAttribute(n) === v);
    return (!tag || this.tagName === tag.toUpperCase()) && attrs.every(has);
  }
  closest(selector) { for (let n = this; n && n.matches; n = n.parentNode) if (n.matches(selector)) return n; return null; }
  get all() { return this.childNodes.filter((c) => c instanceof El).flatMap((c) => [c, ...c.all]); }
  querySelectorAll(selector) { return this.all.filter((e) => e.matches(selector)); }
  find(selector) { return this.querySelectorAll(selector)[0] || null; }
}

function makeDocument(cookie = "") {
  const doc = new El("#document");
  Object.assign(doc, { ownerDocument: doc, readyState: "complete", currentScript: null, cookie });
  doc.documentElement = { lang: "en" };
  Object.assign(doc, { createElement: (tag) => new El(tag, doc), createTextNode: (text) => ({ textContent: text }) });
  doc.head = doc.appendChild(doc.createElement("head"));
  doc.body = doc.activeElement = doc.appendChild(doc.createElement("body"));
  const page = [
    ["script", { id: "an", type: "text/plain", "data-consent-category": "analytics", "data-type": "module" }, "run()"],
    ["script", { id: "ad", type: "text/plain", "data-consent-category": "advertising", src: "https://ads.test/a.js" }],
    ["script", { id: "unk", type: "text/plain", "data-consent-category": "unknown" }, "x()"],
    ["script", { id: "none", type: "text/plain", "data-consent-category": "" }, "y()"],
    ["iframe", { id: "share", "data-consent-src": "https://social.test/share", "data-consent-category": "social" }],
    ["a", { id: "settings", href: "/consent/preferences", "data-consent-open": "" }, "Cookie settings"],
  ];
  for (const [tag, attrs, text] of page) {
    const e = doc.body.appendChild(doc.createElement(tag));
    Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
    if (text) e.textContent = text;
  }
  return doc;
}

const KEYS = ["dialog_label", "banner_title", "banner_text", "accept_all", "reject_all", "customise", "save_choices",
  "withdraw", "always_active", "preferences_title", "cookie_page_link", "privacy_link", "choice_saving", "choice_saved",
  "choice_failed"];
const cat = (id, required = false) => ({ id, name: "N:" + id, purpose: "P:" + id, required });
function state(name, granted) {
  return {
    state: name, granted, policy_version: 3, issued_at: null, expires_at: null, receipt_id: null, language: "en",
    texts: Object.fromEntries(KEYS.map((k) => [k, "T:" + k])),
    categories: [cat("necessary", true), cat("analytics"), cat("advertising"), cat("social")],
    consent_mode: { ad_storage: ["advertising"], analytics_storage: ["analytics"], ad_user_data: ["advertising"],
      ad_personalization: ["advertising"] },
    links: { preferences: "/consent/preferences", cookies: "/consent/cookies", privacy: "/confidentialite" },
  };
}
const reply = (status, body) => Promise.resolve({ ok: status < 300, status, json: async () => body });

// Loads banner.js on a fresh page; `answers` are served in order, one per fetch.
async function load(answers, cookie) {
  const doc = makeDocument(cookie);
  const calls = [];
  const timers = [];
  const ctx = {
    document: doc, location: { pathname: "/article" }, crypto: { randomUUID }, console, navigator: { languages: [] },
    fetch: (url, opts) => { calls.push({ url, opts }); return answers.shift()(opts); },
    // Timers run when the test says: `t.timers` holds [callback, ms] until cleared.
    setTimeout: (fn, ms) => timers.push([fn, ms]), clearTimeout: (id) => (timers[id - 1] = null), AbortController,
  };
  ctx.window = ctx;
  vm.createContext(ctx);
  const before = Object.keys(ctx);
  vm.runInContext(SOURCE, ctx, { filename: "banner.js" });
  assert.deepEqual(Object.keys(ctx).filter((k) => !before.includes(k)).sort(), ["dataLayer", "edgeConsent"]);
  await settle();
  return {
    doc, ctx, calls, timers, byId: (id) => doc.find(`[id="${id}"]`), dialog: () => doc.find('div[role="dialog"]'),
    posts: () => calls.filter((c) => c.opts.method === "POST").map((c) => JSON.parse(c.opts.body)),
    // JSON round trip: objects made inside the context have another realm's prototypes.
    consent: () => JSON.parse(JSON.stringify(ctx.dataLayer.map((a) => Array.from(a)))).filter((a) => a[0] === "consent"),
  };
}
const settle = () => new Promise((r) => setTimeout(r, 5));
const DENIED = { ad_storage: "denied", analytics_storage: "denied", ad_user_data: "denied", ad_personalization: "denied" };
const buttons = (dialog) => dialog.querySelectorAll("button");
const label = (b) => b.textContent;

function assertInert(t) {
  for (const id of ["an", "ad", "unk", "none"]) assert.equal(t.byId(id).hasAttribute("data-consent-activated"), false, id);
  assert.equal(t.doc.querySelectorAll("script").length, 4, "no script was added");
  assert.equal(t.byId("share").getAttribute("src"), null);
}
const checkboxes = (t) => t.dialog().querySelectorAll('input[type="checkbox"]');
const press = (t, text) => buttons(t.dialog()).find((b) => label(b) === text).click();

const scenarios = {
  async absent_reject() {
    const saved = { state: state("valid", ["necessary"]), receipt_id: "r1" };
    const t = await load([() => reply(200, state("absent", ["necessary"])), () => reply(200, saved)]);
    const d = t.dialog();
    const ref = (name) => t.byId(d.getAttribute(name)).textContent;
    assert.deepEqual([d.getAttribute("aria-modal"), ref("aria-labelledby"), ref("aria-describedby")],
      ["false", "T:banner_title", "T:banner_text"]);
    const [accept, reject, more] = buttons(d);
    assert.deepEqual([accept, reject, more].map(label), ["T:accept_all", "T:reject_all", "T:customise"]);
    const looks = (b) => `${b.tagName} ${b.getAttribute("class")} ${b.getAttribute("type")}`;
    assert.equal(new Set([accept, reject, more].map(looks)).size, 1, "same element, class and type");
    assert.equal(accept.parentNode, more.parentNode, "the three choices share one row");
    assert.equal(t.doc.activeElement, accept, "focus moves to the first button");
    assert.deepEqual(d.querySelectorAll("a").map((a) => a.getAttribute("href")), ["/consent/cookies", "/confidentialite"]);
    const prefs = t.byId("ec-prefs");
    assert.equal(prefs.hidden, true, "the second layer starts closed");
    more.click();
    assert.deepEqual([prefs.hidden, more.getAttribute("aria-expanded")], [false, "true"]);
    const boxes = checkboxes(t);
    assert.deepEqual(boxes.map((b) => [!!b.checked, !!b.disabled]), [[true, true], [false, false], [false, false], [false, false]]);
    assert.match(d.find('label[for="ec-c0"]').textContent, /T:always_active/);
    assert.ok(!buttons(d).map(label).includes("T:withdraw"), "nothing to withdraw yet");
    boxes[1].dispatch("keydown", { key: "Escape" });
    assert.deepEqual([prefs.hidden, t.doc.activeElement], [true, more], "Escape goes back to the first layer");
    more.dispatch("keydown", { key: "Escape" });
    assert.deepEqual([t.dialog(), t.posts().length], [d, 0], "Escape on the first layer is not a choice");
    reject.click();
    await settle();
    const [{ submission_id: id, ...post }] = t.posts();
    assert.deepEqual(post, { action: "reject_all", return_to: "/article" });
    assert.match(id, /^[0-9a-f-]{36}$/);
    const [get, sent] = t.calls.map((c) => [c.url, c.opts.credentials, c.opts.headers.Accept, c.opts.headers["Content-Type"]]);
    const json = "application/json";
    assert.deepEqual([get, sent], [["/consent", "same-origin", json, undefined], ["/consent", "same-origin", json, json]]);
    assert.equal(t.dialog(), null, "the dialog closes");
    assert.equal(t.doc.find('div[aria-live="polite"]').textContent, "T:choice_saved");
    assert.equal(t.ctx.edgeConsent.state().receipt_id, "r1");
    assertInert(t);
    const update = ["consent", "update", DENIED];
    assert.deepEqual(t.consent(), [["consent", "default", { ...DENIED, wait_for_update: 500 }], update, update]);
  },

  async valid_analytics() {
    const withdrawn = { state: state("valid", ["necessary"]), receipt_id: "r2" };
    const t = await load([() => reply(200, state("valid", ["necessary", "analytics"])), () => reply(200, withdrawn)]);
    assert.equal(t.dialog(), null, "no banner over a valid choice");
    const copy = t.byId("an").nextSibling;
    assert.equal(t.byId("an").getAttribute("data-consent-activated"), "");
    assert.deepEqual([copy.tagName, copy.getAttribute("type"), copy.textContent, copy.getAttribute("data-consent-category")],
      ["SCRIPT", "module", "run()", "analytics"]);
    assert.equal(t.doc.querySelectorAll("script").length, 5, "only the analytics script is added");
    const inert = ["ad", "unk", "none"].filter((id) => !t.byId(id).hasAttribute("data-consent-activated"));
    assert.deepEqual([inert.length, t.byId("share").getAttribute("src")], [3, null]);
    assert.deepEqual(t.consent().at(-1), ["consent", "update", { ...DENIED, analytics_storage: "granted" }]);
    // Re-open from the footer link: second layer, current grant checked, withdraw offered.
    const link = t.byId("settings");
    link.focus();
    assert.equal(link.click().defaultPrevented, true);
    await settle();
    assert.equal(t.byId("ec-prefs").hidden, false);
    assert.deepEqual(checkboxes(t).map((b) => !!b.checked), [true, true, false, false]);
    for (let i = 0; i < 2; i++) t.dialog().dispatch("keydown", { key: "Escape" });
    assert.equal(t.dialog(), null, "a re-opened dialog closes without changing the choice");
    assert.equal(t.doc.activeElement, link, "focus returns to the link");
    link.click();
    await settle();
    press(t, "T:withdraw");
    await settle();
    assert.deepEqual([t.posts().map((p) => p.action), t.dialog()], [["withdraw"], null]);
  },

  async failure_then_custom() {
    const saved = { state: state("valid", ["necessary", "analytics"]), receipt_id: "r3" };
    const offline = () => Promise.reject(new TypeError("network"));
    const t = await load([() => reply(200, state("outdated", ["necessary"])), () => reply(500, {}), offline, () => reply(200, saved)]);
    const live = t.doc.find('div[aria-live="polite"]');
    const accept = buttons(t.dialog())[0];
    accept.click();
    // At once: the pressed button says it is saving, keeps the focus, and the live region says so.
    const busy = (b) => [b.textContent, b.getAttribute("aria-busy"), b.getAttribute("aria-disabled")];
    assert.deepEqual(busy(accept), ["T:choice_saving", "true", "true"]);
    assert.deepEqual([live.textContent, t.doc.activeElement], ["T:choice_saving", accept]);
    accept.click();
    assert.equal(t.posts().length, 1, "a second press while saving sends nothing");
    await settle();
    const err = t.dialog().find('p[class="ec-err"]');
    assert.deepEqual([err.hidden, err.textContent, live.textContent], [false, "T:choice_failed", "T:choice_failed"]);
    assert.deepEqual([busy(accept), t.doc.activeElement], [["T:accept_all", null, null], accept], "usable again");
    press(t, "T:customise");
    checkboxes(t)[1].checked = true;
    press(t, "T:save_choices");
    await settle();
    assert.ok(t.dialog(), "a failed choice keeps the dialog open");
    assertInert(t);
    assert.equal(t.consent().length, 2, "no update without a recorded choice");
    press(t, "T:save_choices");
    await settle();
    const custom = ["custom", ["necessary", "analytics"]];
    assert.deepEqual(t.posts().map((p) => [p.action, p.categories]), [["accept_all", undefined], custom, custom]);
    const ids = t.posts().map((p) => p.submission_id);
    assert.deepEqual([ids[0] !== ids[1], ids[1] === ids[2]], [true, true], "a retried choice keeps its submission id");
    assert.deepEqual([t.dialog(), t.byId("an").hasAttribute("data-consent-activated")], [null, true]);
    assert.deepEqual(t.consent().at(-1)[2], { ...DENIED, analytics_storage: "granted" });
  },

  async stalled_then_retried() {
    const saved = { state: state("valid", ["necessary"]), receipt_id: "r4" };
    // Never answers: only the abort signal ends it.
    const stalled = (opts) => new Promise((_, reject) => opts.signal.addEventListener("abort", () => reject(new Error("abort"))));
    const t = await load([() => reply(200, state("absent", ["necessary"])), stalled, () => reply(429, {}), () => reply(200, saved)]);
    const live = t.doc.find('div[aria-live="polite"]');
    const reject = buttons(t.dialog())[1];
    reject.click();
    await settle();
    assert.deepEqual([reject.getAttribute("aria-busy"), live.textContent], ["true", "T:choice_saving"], "still waiting");
    const [[timeout, ms]] = t.timers;
    assert.equal(ms, 8000);
    timeout();
    await settle();
    assert.deepEqual([t.dialog() !== null, live.textContent, reject.textContent], [true, "T:choice_failed", "T:reject_all"]);
    reject.click(); // the WAF's 429: the same as any failure
    await settle();
    assert.deepEqual([t.dialog() !== null, live.textContent, t.doc.activeElement], [true, "T:choice_failed", reject]);
    assert.equal(t.consent().length, 2, "no update without a recorded choice");
    reject.click();
    await settle();
    assert.deepEqual([t.dialog(), live.textContent, t.posts().map((p) => p.action)],
      [null, "T:choice_saved", ["reject_all", "reject_all", "reject_all"]]);
    assert.equal(new Set(t.posts().map((p) => p.submission_id)).size, 1, "one submission, tried three times");
    assert.ok(t.timers.every((timer) => timer === null), "every save clears its timer");
  },

  async unreachable() {
    const t = await load([() => Promise.reject(new TypeError("offline")), () => reply(200, state("absent", ["necessary"]))]);
    assert.deepEqual([t.dialog(), t.consent().length], [null, 1], "no banner, only the denied default");
    assertInert(t);
    await t.ctx.edgeConsent.open();
    assert.ok(t.dialog(), "open() retries and shows the dialog");
  },
};

// The script as served: its texts and the state cookie come with it, and no page asks the server.
const served = {
  async served_first_visit() {
    const t = await load([]);
    assert.equal(t.calls.length, 0, "no request to start");
    const [accept, reject, more] = buttons(t.dialog());
    assert.deepEqual([accept, reject, more].map(label), ["Accept all", "Reject all", "Customise"]);
    assert.equal(t.dialog().getAttribute("lang"), "en", "the page's language");
    assert.match(t.dialog().find('p[class="ec-purposes"]').textContent, /Audience measurement/);
    more.click();
    assert.equal(checkboxes(t).length, 5, "the second layer without a request");
    assert.equal(t.calls.length, 0);
    assertInert(t);
  },

  async served_returning_visitor() {
    const t = await load([], process.env.STATE_COOKIE);
    assert.deepEqual([t.calls.length, t.dialog()], [0, null], "no request and no banner over a current choice");
    assert.equal(t.byId("an").getAttribute("data-consent-activated"), "");
    assert.deepEqual(t.consent().at(-1), ["consent", "update", { ...DENIED, analytics_storage: "granted" }]);
    await t.ctx.edgeConsent.open();
    assert.deepEqual(checkboxes(t).map((b) => !!b.checked), [true, false, true, false, false]);
  },
};
Object.assign(scenarios, served);

const name = process.argv[2];
if (!scenarios[name]) throw new Error("unknown scenario: " + name);
scenarios[name]().then(() => console.log("ok " + name), (e) => { console.error(e); process.exitCode = 1; });
