"use strict";
(() => {
const META = JSON.parse(document.getElementById("meta").textContent);
const HOLD_MS = 600;  // a control being touched ignores echoes from the server this long
const SEEN = 100;     // messages kept in window.__seen for inspection: the newest, never all of them
const LIVE_MS = 250;  // the small live picture asks for a frame at most 4 times a second
const FAV_KEY = "performer.favourites", XY_KEY = "performer.xy";
const touched = {}, pending = {}, late = {}, values = {}, msg = document.getElementById("msg");
let ws = null, timer = null, classesKey = "", msgTimer = null, presetNames = [];
const q = s => document.querySelectorAll(s);
const $ = id => document.getElementById(id);
const ctls = n => q('[data-name="' + CSS.escape(n) + '"]');
window.__seen = []; window.__received = 0;
function fmt(v) { return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v); }
function load(key, fallback) {
  try { const v = JSON.parse(localStorage.getItem(key)); return v === null ? fallback : v; } catch (e) { return fallback; }
}
function store(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch (e) {} }
function display(name, v, except) {  // every control and readout of one parameter, but the one in the hand
  values[name] = v;
  for (const el of ctls(name)) {
    if (el === except || el.tagName === "BUTTON") continue;
    if (el.type === "checkbox") el.checked = !!v; else el.value = v;
  }
  for (const out of q('[data-value="' + CSS.escape(name) + '"]')) out.textContent = fmt(v);
  if (name === xy.x || name === xy.y) placeDot();
}
function show(name, v) {
  for (const el of ctls(name)) el.dataset.server = JSON.stringify(v);
  display(name, v);
}
function apply(vals) {  // a value for a control being touched waits until the hand lets go
  const now = performance.now();
  for (const [n, v] of Object.entries(vals)) {
    if (now - (touched[n] || -1e9) < HOLD_MS) late[n] = v; else { delete late[n]; show(n, v); }
  }
}
setInterval(() => {
  const now = performance.now();
  for (const [n, v] of Object.entries(late)) if (now - touched[n] >= HOLD_MS) { delete late[n]; show(n, v); }
}, 200);
function send(o) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(o)); }
function say(text) {
  msg.textContent = text; clearTimeout(msgTimer); msgTimer = setTimeout(() => { msg.textContent = ""; }, 6000);
}
function flush() {
  timer = null;
  for (const [n, v] of Object.entries(pending)) { send({type: "set", name: n, value: v}); delete pending[n]; }
}
function setLocal(n, v, el) {
  touched[n] = performance.now(); pending[n] = v; display(n, v, el);
  if (!timer) timer = setTimeout(flush, 30);  // a dragged fader sends at most ~30 messages a second
}
function local(el) {
  const n = el.dataset.name, t = META[n].type;
  let v = el.type === "checkbox" ? el.checked : el.value;
  if (t === "float" || t === "int") v = Number(v);
  setLocal(n, v, el);
}
for (const el of q("[data-name]")) {
  if (el.tagName === "BUTTON") el.addEventListener("click", () => send({type: "fire", name: el.dataset.name}));
  else if (el.type === "text") el.addEventListener("change", () => local(el));
  else { el.addEventListener("input", () => local(el)); el.addEventListener("change", () => local(el)); }
}
for (const b of q("button.learn")) b.addEventListener("click", () => {
  for (const o of q("button.learn.armed")) o.classList.remove("armed");
  b.classList.add("armed"); send({type: "learn", name: b.dataset.learn});
});
// --- the XY pad: two numeric parameters, chosen in its menus (remembered on this device) ---------------------
const pad = $("xy"), dot = $("xy-dot"), selX = $("xy-x"), selY = $("xy-y");
const xy = {x: pad ? pad.dataset.x : "", y: pad ? pad.dataset.y : ""};
const kept = load(XY_KEY, {});
if (META[kept.x] && META[kept.x].min !== undefined) xy.x = kept.x;
if (META[kept.y] && META[kept.y].min !== undefined) xy.y = kept.y;
function unit(n) { const m = META[n]; return Math.min(1, Math.max(0, ((values[n] ?? m.def) - m.min) / (m.max - m.min))); }
function placeDot() {
  if (!pad || !xy.x || !xy.y) return;
  dot.style.left = (100 * unit(xy.x)).toFixed(2) + "%"; dot.style.top = (100 * (1 - unit(xy.y))).toFixed(2) + "%";
}
function padValue(n, u) {
  const m = META[n], v = m.min + Math.min(1, Math.max(0, u)) * (m.max - m.min);
  return m.type === "int" ? Math.round(v) : Number(v.toPrecision(6));
}
if (pad) {
  selX.value = xy.x; selY.value = xy.y;
  for (const [sel, axis] of [[selX, "x"], [selY, "y"]]) sel.addEventListener("change", () => {
    xy[axis] = sel.value; store(XY_KEY, xy); placeDot();
  });
  let held = null;
  const move = e => {
    const r = pad.getBoundingClientRect();
    setLocal(xy.x, padValue(xy.x, (e.clientX - r.left) / r.width));
    setLocal(xy.y, padValue(xy.y, 1 - (e.clientY - r.top) / r.height));
  };
  pad.addEventListener("pointerdown", e => {
    held = e.pointerId; pad.setPointerCapture(e.pointerId); pad.classList.add("held"); move(e); e.preventDefault();
  });
  pad.addEventListener("pointermove", e => { if (e.pointerId === held) move(e); });
  const up = e => { if (e.pointerId === held) { held = null; pad.classList.remove("held"); } };
  pad.addEventListener("pointerup", up); pad.addEventListener("pointercancel", up);
  placeDot();
}
// --- presets and favourites (starred on this device) -----------------------------------------------------------
let favs = new Set(load(FAV_KEY, []));
function recallButton(n, attr) {
  const b = document.createElement("button"); b.type = "button"; b.textContent = n; b.dataset[attr] = n;
  b.addEventListener("click", () => send({type: "recall", name: n})); return b;
}
function favourites() {
  const box = $("fav-list"); if (!box) return;
  const starred = presetNames.filter(n => favs.has(n));
  box.replaceChildren(...(starred.length ? starred : presetNames.slice(0, 6)).map(n => recallButton(n, "fav")));
  $("fav-hint").textContent = !presetNames.length ? "no presets offered"
      : starred.length ? "" : "★ a preset below to keep it here";
}
function presets(names) {
  presetNames = names; const box = $("presets"); box.textContent = "";
  for (const n of names) {
    const row = document.createElement("div"); row.className = "preset";
    const star = document.createElement("button"); star.type = "button"; star.className = "star";
    star.textContent = "★"; star.title = "favourite: shown at the top"; star.dataset.star = n;
    star.setAttribute("aria-pressed", String(favs.has(n)));
    star.addEventListener("click", () => {
      if (favs.has(n)) favs.delete(n); else favs.add(n);
      star.setAttribute("aria-pressed", String(favs.has(n))); store(FAV_KEY, [...favs]); favourites();
    });
    row.append(recallButton(n, "preset"), star); box.append(row);
  }
  if (!names.length) box.innerHTML = '<span class="range">no presets offered</span>';
  favourites();
}
// --- the small live picture: the preview's newest frame, only while the page is seen ------------------------------
const live = $("live");
let liveFrame = null;
async function pollLive() {
  const started = performance.now();
  if (live && !document.hidden) {
    try {
      const r = await fetch("/frame.jpg?t=" + Date.now(), {cache: "no-store"});
      const n = r.headers.get("X-Frame-Number");
      if (r.ok && n !== liveFrame) {
        const url = URL.createObjectURL(await r.blob());
        await new Promise(done => { live.onload = live.onerror = done; live.src = url; });
        if (live.dataset.url) URL.revokeObjectURL(live.dataset.url);
        live.dataset.url = url; live.dataset.frame = n; liveFrame = n;
      }
    } catch (e) {}
  }
  setTimeout(pollLive, Math.max(50, LIVE_MS - (performance.now() - started)));
}
function analysis(a) {
  const bars = $("bars"), classes = a.classes || [], probs = a.probs || [];
  if (classes.join("|") !== classesKey) {
    classesKey = classes.join("|"); bars.textContent = "";
    for (const c of classes) {
      const row = document.createElement("div"); row.className = "row"; row.dataset.class = c;
      row.innerHTML = '<span class="cname"></span><div class="track"><div class="bar"></div></div>'
          + '<span class="p"></span>';
      row.querySelector(".cname").textContent = c.replace(/_/g, " "); bars.append(row);
    }
  }
  [...bars.children].forEach((row, i) => {
    const p = probs[i] || 0;
    row.querySelector(".bar").style.width = (100 * p).toFixed(1) + "%";
    row.querySelector(".p").textContent = p.toFixed(2); row.classList.toggle("top", classes[i] === a.top_class);
  });
  const top = $("top"); top.dataset.class = a.top_class || "";
  top.textContent = a.top_class ? a.top_class.replace(/_/g, " ") : "";
  const tempo = $("tempo"), bpm = a.bpm ? a.bpm.toFixed(1) + " BPM" : "— BPM";
  tempo.dataset.bpm = a.bpm ? String(a.bpm) : ""; tempo.textContent = bpm;
  if ($("tap-bpm")) $("tap-bpm").textContent = bpm;
  const beat = a.beat_phase !== undefined && a.bpm > 0 && a.beat_phase < 0.25;
  $("beat").classList.toggle("on", beat);
  for (const b of q("button[data-preset], button[data-fav]")) {
    b.classList.toggle("current", (b.dataset.preset || b.dataset.fav) === a.preset);
  }
}
function receive(e) {
  const m = JSON.parse(e.data);
  window.__received++; window.__seen.push(e.data);
  if (window.__seen.length > SEEN) window.__seen.splice(0, window.__seen.length - SEEN);
  if (m.type === "hello") { for (const [n, v] of Object.entries(m.values)) show(n, v); presets(m.presets); }
  else if (m.type === "set") apply(m.values);
  else if (m.type === "analysis") analysis(m);
  else if (m.type === "fired") {
    for (const b of ctls(m.name)) {
      b.classList.add("flash"); setTimeout(() => b.classList.remove("flash"), 150);
      b.dataset.fired = String(+(b.dataset.fired || 0) + 1);
    }
  } else if (m.type === "error") {
    say(m.message); for (const o of q("button.learn.armed")) o.classList.remove("armed");
  }
  else if (m.type === "ok" && m.recall) say("");
}
function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/control/ws");
  ws.onopen = () => { $("conn").className = "on"; document.body.dataset.state = "live"; };
  ws.onmessage = receive;
  ws.onclose = () => {
    $("conn").className = ""; document.body.dataset.state = "offline";
    setTimeout(connect, 1000);
  };
}
if (matchMedia("(max-width: 700px)").matches) for (const d of q("details.group")) d.open = false;  // a phone
setInterval(() => send({type: "ping"}), 5000);
connect(); pollLive();
})();
