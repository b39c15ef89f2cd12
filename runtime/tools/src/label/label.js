// The labelling page of `artrt label`. Elements snap to frame boundaries:
// an element covering frames a..=b runs from frame a's capture time to frame
// b+1's (the recording's end after the last frame), in whole milliseconds.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_LABEL = 64;
const MAX_UNDO = 200;
const EDGE_PX = 6;

const st = {
  rec: null,          // the recording's description
  bounds: [],         // frame boundaries in ms: frame n starts at bounds[n]
  labels: [],         // {start_ms, end_ms, label}, kept in time order
  proposals: [],      // {start_ms, end_ms, label, rejected}
  revision: "",
  frame: 0,
  playing: false,
  speed: 1,
  selected: null,     // a label or proposal object
  markIn: null,       // frame where the next element starts
  cls: 0,             // class for new elements
  view: [0, 1],       // the timeline's span, in ms
  dirty: false,
  undo: [],
  redo: [],
  drag: null,
};

// ---- time and frames -------------------------------------------------

/** The frame shown at time t (ms): the last one captured by then. */
function frameAt(t) {
  const f = st.rec.frames_ms;
  let lo = 0, hi = f.length - 1;
  if (t + 0.5 < f[0]) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (f[mid] <= t + 0.5) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** Index of the frame boundary nearest to t. */
function nearestBound(t) {
  const b = st.bounds;
  let lo = 0, hi = b.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (b[mid] < t) lo = mid + 1; else hi = mid;
  }
  if (lo > 0 && t - b[lo - 1] < b[lo] - t) lo -= 1;
  return lo;
}

const frames = () => st.rec.frames_ms.length;
const duration = () => st.rec.duration_ms;

function fmt(ms) {
  const s = Math.max(0, ms) / 1000;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(3).padStart(6, "0")}`;
}

// ---- labels ----------------------------------------------------------

function snapshot() {
  return JSON.stringify(st.labels.map(({ start_ms, end_ms, label }) => ({ start_ms, end_ms, label })));
}

/** Records the labels before a change, for undo. */
function beginChange() {
  st.undo.push(snapshot());
  if (st.undo.length > MAX_UNDO) st.undo.shift();
  st.redo = [];
}

function changed() {
  st.labels.sort((a, b) => a.start_ms - b.start_ms);
  st.dirty = true;
  setStatus("unsaved changes");
  render();
}

function restore(from, to) {
  if (!from.length) return;
  to.push(snapshot());
  st.labels = JSON.parse(from.pop());
  st.selected = null;
  changed();
}

/** The free stretch around `seg` (or around time t when seg is null). */
function gap(seg, t) {
  let lo = 0, hi = duration();
  for (const l of st.labels) {
    if (l === seg) continue;
    const at = seg ? seg.start_ms : t;
    if (l.end_ms <= at) lo = Math.max(lo, l.end_ms);
    else if (l.start_ms >= (seg ? seg.end_ms : t)) hi = Math.min(hi, l.start_ms);
    else if (!seg) return null;
  }
  return [lo, hi];
}

function labelError(text) {
  if (!text.trim()) return "a label cannot be empty";
  if (new TextEncoder().encode(text).length > MAX_LABEL) return `a label has at most ${MAX_LABEL} bytes`;
  if (text.trim() !== text || /[\u0000-\u001f\u007f-\u009f]/.test(text)) return "a label has no control characters or surrounding spaces";
  return null;
}

/** Adds an element over frames a..=b with `label`, within the free stretch. */
function addElement(a, b, label) {
  const [x, y] = [Math.min(a, b), Math.max(a, b)];
  let start = st.bounds[x], end = st.bounds[y + 1];
  const free = gap(null, start);
  if (!free) return setStatus("an element is already there: select it to change it", true);
  start = Math.max(start, free[0]);
  end = Math.min(end, free[1]);
  if (end <= start) return setStatus("no room for an element there", true);
  beginChange();
  const seg = { start_ms: start, end_ms: end, label };
  st.labels.push(seg);
  st.selected = seg;
  st.markIn = null;
  changed();
}

function setLabel(seg, label) {
  const err = labelError(label);
  if (err) return setStatus(err, true);
  if (seg.label === label) return;
  beginChange();
  seg.label = label;
  changed();
}

/** Moves a label's start or end (or both) to frame boundaries, within its free stretch. */
function setSpan(seg, start, end) {
  const [lo, hi] = gap(seg);
  start = Math.max(lo, start);
  end = Math.min(hi, end);
  if (end <= start || (start === seg.start_ms && end === seg.end_ms)) return false;
  seg.start_ms = start;
  seg.end_ms = end;
  return true;
}

/** Shifts a label by k frames, keeping its length in frames. */
function shift(seg, k) {
  const a = nearestBound(seg.start_ms), b = nearestBound(seg.end_ms);
  const [lo, hi] = gap(seg);
  const kmin = nearestBound(lo) - a, kmax = nearestBound(hi) - b;
  k = Math.max(kmin, Math.min(kmax, k));
  const at = (k) => [seg.start_ms + st.bounds[a + k] - st.bounds[a], seg.end_ms + st.bounds[b + k] - st.bounds[b]];
  // Boundaries of elements not drawn here may fall between frames.
  while (k !== 0 && (at(k)[0] < lo || at(k)[1] > hi)) k -= Math.sign(k);
  if (k === 0) return false;
  [seg.start_ms, seg.end_ms] = at(k);
  return true;
}

function deleteSelected() {
  const sel = st.selected;
  if (!sel) return;
  if (st.proposals.includes(sel)) {
    sel.rejected = true;
  } else {
    beginChange();
    st.labels.splice(st.labels.indexOf(sel), 1);
    st.dirty = true;
    setStatus("unsaved changes");
  }
  st.selected = null;
  render();
}

function accept(p) {
  const free = gap(null, p.start_ms);
  if (!free || p.end_ms > free[1]) return setStatus("the proposal overlaps an element: move or delete that one first", true);
  beginChange();
  const seg = { start_ms: p.start_ms, end_ms: p.end_ms, label: p.label };
  st.labels.push(seg);
  st.selected = seg;
  changed();
}

const covered = (p) => st.labels.some((l) => l.start_ms < p.end_ms && p.start_ms < l.end_ms);

// ---- classes ---------------------------------------------------------

function ensureClass(label) {
  let i = st.rec.classes.indexOf(label);
  if (i < 0) {
    st.rec.classes.push(label);
    i = st.rec.classes.length - 1;
    renderClasses();
  }
  return i;
}

/** Applies a class: to the selected label, else to the next element drawn. */
function chooseClass(i) {
  if (i < 0 || i >= st.rec.classes.length) return;
  st.cls = i;
  const sel = st.selected;
  if (sel && !st.proposals.includes(sel)) setLabel(sel, st.rec.classes[i]);
  else if (sel) { accept(sel); if (st.selected && st.selected !== sel) setLabel(st.selected, st.rec.classes[i]); }
  renderClasses();
  render();
}

function searchClass(text) {
  const q = text.trim();
  if (!q) return;
  const classes = st.rec.classes;
  const lower = q.toLowerCase();
  let i = classes.findIndex((c) => c.toLowerCase() === lower);
  if (i < 0) i = classes.findIndex((c) => c.toLowerCase().includes(lower));
  if (i < 0) {
    const err = labelError(q);
    if (err) return setStatus(err, true);
    i = ensureClass(q);
  }
  chooseClass(i);
}

function colour(label) {
  let h = 0;
  for (const c of label) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return `hsl(${h % 360} 70% 62%)`;
}

// ---- playback --------------------------------------------------------

const img = { busy: false, pending: null, shown: -1 };

function showFrame(n) {
  if (img.busy) { img.pending = n; return; }
  img.busy = true;
  const image = new Image();
  const done = () => {
    img.busy = false;
    if (img.pending !== null && img.pending !== n) {
      const next = img.pending;
      img.pending = null;
      showFrame(next);
    } else img.pending = null;
  };
  image.onload = () => {
    const canvas = $("frame");
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    img.shown = n;
    canvas.dataset.frame = String(n);
    done();
  };
  image.onerror = () => { setStatus(`frame ${n} could not be shown`, true); done(); };
  image.src = `/frame/${n}`;
}

function seek(n, follow = true) {
  st.frame = Math.max(0, Math.min(frames() - 1, n));
  showFrame(st.frame);
  if (follow) keepInView(st.bounds[st.frame]);
  render();
}

let clock = null;
function play() {
  if (st.frame >= frames() - 1) st.frame = 0;
  st.playing = true;
  clock = { wall: performance.now(), t: st.bounds[st.frame] };
  $("play").textContent = "Pause";
  requestAnimationFrame(tick);
}

function pause() {
  st.playing = false;
  $("play").textContent = "Play";
  render();
}

function tick(now) {
  if (!st.playing) return;
  const t = clock.t + (now - clock.wall) * st.speed;
  if (t >= duration()) { seek(frames() - 1); pause(); return; }
  const n = frameAt(t);
  if (n !== st.frame) seek(n);
  requestAnimationFrame(tick);
}

// ---- timeline --------------------------------------------------------

function keepInView(t) {
  const [t0, t1] = st.view;
  const span = t1 - t0;
  if (t < t0 || t > t1) st.view = [t - span * 0.1, t - span * 0.1 + span];
  clampView();
}

function clampView() {
  let [t0, t1] = st.view;
  const d = duration();
  const span = Math.min(Math.max(t1 - t0, 200), d);
  t0 = Math.max(0, Math.min(t0, d - span));
  st.view = [t0, t0 + span];
}

function zoom(factor, at) {
  const [t0, t1] = st.view;
  const centre = at ?? st.bounds[st.frame];
  st.view = [centre - (centre - t0) * factor, centre + (t1 - centre) * factor];
  clampView();
  render();
}

const width = () => $("timeline").clientWidth;
const xOf = (t) => ((t - st.view[0]) / (st.view[1] - st.view[0])) * width();
const tOf = (x) => st.view[0] + (x / width()) * (st.view[1] - st.view[0]);

function tickStep(span) {
  for (const s of [100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000, 300000, 600000]) {
    if (span / s <= 12) return s;
  }
  return 1200000;
}

function segment(seg, kind) {
  const el = document.createElement("div");
  el.className = `seg ${kind}`;
  if (seg === st.selected) el.classList.add("selected");
  if (kind === "proposal" && covered(seg)) el.classList.add("covered");
  const x0 = xOf(seg.start_ms), x1 = xOf(seg.end_ms);
  el.style.left = `${x0}px`;
  el.style.width = `${Math.max(2, x1 - x0)}px`;
  el.style.background = colour(seg.label);
  el.textContent = seg.label;
  el.title = `${seg.label}: ${fmt(seg.start_ms)}–${fmt(seg.end_ms)}`;
  el.dataset.start = String(seg.start_ms);
  el.dataset.end = String(seg.end_ms);
  el.dataset.label = seg.label;
  el._seg = seg;
  return el;
}

function render() {
  if (!st.rec) return;
  const [t0, t1] = st.view;
  const ruler = $("ruler");
  ruler.replaceChildren();
  const step = tickStep(t1 - t0);
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const tick = document.createElement("span");
    tick.className = "tick";
    tick.style.left = `${xOf(t)}px`;
    tick.textContent = fmt(t).replace(/\.?0+$/, "");
    ruler.appendChild(tick);
  }
  const visible = (s) => s.end_ms >= t0 && s.start_ms <= t1;
  const labels = $("lane-labels");
  labels.replaceChildren(labels.firstElementChild);
  st.labels.filter(visible).forEach((s) => labels.appendChild(segment(s, "label")));
  const proposals = $("lane-proposals");
  proposals.replaceChildren(proposals.firstElementChild);
  st.proposals.filter((p) => !p.rejected && visible(p)).forEach((p) => proposals.appendChild(segment(p, "proposal")));
  $("playhead").style.left = `${xOf(st.bounds[st.frame]) - 1}px`;
  const mark = $("mark-in");
  mark.style.display = st.markIn === null ? "none" : "block";
  if (st.markIn !== null) mark.style.left = `${xOf(st.bounds[st.markIn]) - 1}px`;
  $("scrub").value = String(st.frame);
  $("clock").textContent = `${fmt(st.bounds[st.frame])} · frame ${st.frame + 1}/${frames()}`;
  renderSelected();
  renderElements();
  document.body.dataset.frame = String(st.frame);
  document.body.dataset.dirty = st.dirty ? "1" : "0";
}

function renderSelected() {
  const sel = st.selected;
  const box = $("selected");
  if (!sel) {
    box.textContent = st.markIn === null ? "nothing selected" : `start marked at ${fmt(st.bounds[st.markIn])}: ] ends the element`;
    return;
  }
  const what = st.proposals.includes(sel) ? "proposal (A accepts, Del rejects)" : `element ${st.labels.indexOf(sel) + 1}`;
  box.textContent = `${what}: ${sel.label}, ${fmt(sel.start_ms)}–${fmt(sel.end_ms)} (${((sel.end_ms - sel.start_ms) / 1000).toFixed(3)} s)`;
}

function renderElements() {
  $("count").textContent = `(${st.labels.length})`;
  const body = $("elements").tBodies[0];
  body.replaceChildren();
  st.labels.forEach((l, i) => {
    const row = body.insertRow();
    if (l === st.selected) row.className = "selected";
    for (const v of [i + 1, fmt(l.start_ms), fmt(l.end_ms), l.label]) row.insertCell().textContent = v;
    row.onclick = () => select(l, true);
  });
}

function renderClasses() {
  const list = $("classes");
  list.replaceChildren();
  const options = $("class-list");
  options.replaceChildren();
  st.rec.classes.forEach((c, i) => {
    const li = document.createElement("li");
    if (i === st.cls) li.className = "current";
    const key = document.createElement("kbd");
    key.textContent = i < 10 ? String((i + 1) % 10) : "/";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour(c);
    li.append(key, swatch, c);
    li.onclick = () => chooseClass(i);
    list.appendChild(li);
    const opt = document.createElement("option");
    opt.value = c;
    options.appendChild(opt);
  });
}

function select(seg, go) {
  st.selected = seg;
  if (seg && go) seek(frameAt(seg.start_ms));
  render();
}

// ---- mouse -----------------------------------------------------------

function onDown(ev) {
  if (ev.button !== 0) return;
  const box = $("timeline").getBoundingClientRect();
  const x = ev.clientX - box.left;
  const target = ev.target.closest(".seg");
  const lane = ev.target.closest(".lane");
  ev.preventDefault();
  if (target && target.classList.contains("proposal")) {
    select(target._seg, true);
    return;
  }
  if (target) {
    const seg = target._seg;
    const r = target.getBoundingClientRect();
    const mode = ev.clientX - r.left < EDGE_PX ? "start" : r.right - ev.clientX < EDGE_PX ? "end" : "move";
    st.selected = seg;
    st.drag = { mode, seg, x, before: snapshot(), orig: { ...seg } };
    render();
    return;
  }
  if (lane && lane.id === "lane-labels") {
    st.drag = { mode: "draw", x, anchor: frameAt(tOf(x)) };
    st.markIn = st.drag.anchor;
    st.selected = null;
    render();
    return;
  }
  st.drag = { mode: "scrub", x };
  st.selected = null;
  seek(frameAt(tOf(x)), false);
}

function onMove(ev) {
  const d = st.drag;
  if (!d) return;
  const x = ev.clientX - $("timeline").getBoundingClientRect().left;
  const t = tOf(x);
  if (d.mode === "scrub") return seek(frameAt(t), false);
  if (d.mode === "draw") return seek(frameAt(t), false);
  const seg = d.seg;
  Object.assign(seg, d.orig);
  if (d.mode === "move") {
    const dt = t - tOf(d.x);
    const period = duration() / frames();
    shift(seg, Math.round(dt / period));
  } else if (d.mode === "start") {
    const b = st.bounds[nearestBound(t)];
    if (b < seg.end_ms) setSpan(seg, b, seg.end_ms);
  } else {
    const b = st.bounds[nearestBound(t)];
    if (b > seg.start_ms) setSpan(seg, seg.start_ms, b);
  }
  render();
}

function onUp(ev) {
  const d = st.drag;
  if (!d) return;
  st.drag = null;
  const x = ev.clientX - $("timeline").getBoundingClientRect().left;
  if (d.mode === "draw") {
    if (Math.abs(x - d.x) < 3) { st.markIn = null; seek(d.anchor, false); return; }
    addElement(d.anchor, frameAt(tOf(x)), st.rec.classes[st.cls] ?? "element");
    return;
  }
  if (d.mode === "scrub") return;
  const seg = d.seg;
  if (seg.start_ms !== d.orig.start_ms || seg.end_ms !== d.orig.end_ms) {
    st.undo.push(d.before);
    st.redo = [];
    changed();
  } else if (Math.abs(x - d.x) < 3) {
    select(seg, true);
  }
}

// ---- keys ------------------------------------------------------------

function onKey(ev) {
  // Text fields keep their keys; the slider, buttons and menus do not.
  const inField = ev.target instanceof HTMLInputElement && ev.target.type !== "range";
  if (inField) {
    if (ev.key === "Escape") ev.target.blur();
    if (ev.key === "Enter" && ev.target.id === "search") {
      searchClass(ev.target.value);
      ev.target.value = "";
      ev.target.blur();
    }
    return;
  }
  const k = ev.key;
  const ctrl = ev.ctrlKey || ev.metaKey;
  const sel = st.selected;
  const label = sel && !st.proposals.includes(sel) ? sel : null;
  const second = Math.max(1, Math.round(frames() * 1000 / duration()));
  let handled = true;
  if (k === " ") st.playing ? pause() : play();
  else if ((k === "ArrowLeft" || k === "ArrowRight") && ev.altKey) {
    if (label) {
      const before = snapshot();
      if (shift(label, (k === "ArrowLeft" ? -1 : 1) * (ev.shiftKey ? second : 1))) {
        st.undo.push(before);
        st.redo = [];
        changed();
        seek(frameAt(label.start_ms));
      }
    }
  } else if (k === "ArrowLeft" || k === "ArrowRight") {
    seek(st.frame + (k === "ArrowLeft" ? -1 : 1) * (ev.shiftKey ? second : 1));
  } else if (k === "Home") seek(0);
  else if (k === "End") seek(frames() - 1);
  else if (k === "[" || k === "i") {
    if (label) {
      const before = snapshot();
      if (st.bounds[st.frame] < label.end_ms && setSpan(label, st.bounds[st.frame], label.end_ms)) {
        st.undo.push(before); st.redo = []; changed();
      }
    } else { st.markIn = st.frame; st.selected = null; render(); }
  } else if (k === "]" || k === "o") {
    if (label) {
      const before = snapshot();
      const end = st.bounds[st.frame + 1];
      if (end > label.start_ms && setSpan(label, label.start_ms, end)) {
        st.undo.push(before); st.redo = []; changed();
      }
    } else if (st.markIn !== null) addElement(st.markIn, st.frame, st.rec.classes[st.cls] ?? "element");
    else setStatus("mark the start first ([)", true);
  } else if (/^[0-9]$/.test(k) && !ctrl) chooseClass((Number(k) + 9) % 10);
  else if (k === "/") { $("search").focus(); }
  else if (k === "Delete" || k === "Backspace" || k === "x") deleteSelected();
  else if ((k === "a" || k === "Enter") && sel && !label) accept(sel);
  else if (k === "n") {
    const t = st.bounds[st.frame];
    const next = st.proposals.find((p) => !p.rejected && !covered(p) && p.start_ms > t) ??
      st.proposals.find((p) => !p.rejected && !covered(p));
    if (next) select(next, true); else setStatus("no proposals left");
  } else if (k === "Tab") {
    if (st.labels.length) {
      const i = label ? st.labels.indexOf(label) : -1;
      const n = st.labels.length;
      select(st.labels[((ev.shiftKey ? i - 1 : i + 1) + n) % n], true);
    }
  } else if (k === "Escape") { st.selected = null; st.markIn = null; render(); }
  else if ((k === "s" || k === "S") && !ev.altKey) save();
  else if ((k === "z" && !ctrl) || (k === "z" && ctrl && !ev.shiftKey)) restore(st.undo, st.redo);
  else if (k === "y" || (ctrl && ev.shiftKey && (k === "Z" || k === "z"))) restore(st.redo, st.undo);
  else if (k === "+" || k === "=") zoom(0.5);
  else if (k === "-") zoom(2);
  else if (k === "f") { st.view = [0, duration()]; render(); }
  else handled = false;
  if (handled) ev.preventDefault();
}

// ---- saving ----------------------------------------------------------

function setStatus(text, bad = false) {
  const s = $("status");
  s.textContent = text;
  s.className = bad ? "bad" : "";
}

async function save() {
  const labels = st.labels.map(({ start_ms, end_ms, label }) => ({ start_ms, end_ms, label }));
  setStatus("saving…");
  try {
    const r = await fetch("/api/labels", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ revision: st.revision, labels }),
    });
    if (!r.ok) return setStatus(`not saved: ${await r.text()}`, true);
    st.revision = (await r.json()).revision;
    st.dirty = false;
    setStatus(`saved ${labels.length} elements`);
    $("status").className = "good";
    document.body.dataset.saved = st.revision;
    render();
  } catch (e) {
    setStatus(`not saved: ${e}`, true);
  }
}

// ---- start -----------------------------------------------------------

async function start() {
  const r = await fetch("/api/recording");
  if (!r.ok) return setStatus(`cannot read the recording: ${await r.text()}`, true);
  const rec = await r.json();
  st.rec = rec;
  st.bounds = rec.frames_ms.map(Math.round).concat([rec.duration_ms]);
  st.labels = rec.labels;
  st.proposals = rec.proposals.map((p) => ({ ...p, rejected: false }));
  st.revision = rec.revision;
  st.view = [0, Math.min(rec.duration_ms, 30000)];
  $("name").textContent = rec.name;
  $("info").textContent = `${rec.width}×${rec.height} at ${rec.fps} fps · ${fmt(rec.duration_ms)} · ${rec.source}` +
    (rec.cut_short ? ` · cut short: ${rec.cut_short}` : "");
  const canvas = $("frame");
  canvas.width = rec.width;
  canvas.height = rec.height;
  const scrub = $("scrub");
  scrub.max = String(frames() - 1);
  scrub.oninput = () => seek(Number(scrub.value));
  scrub.onchange = () => scrub.blur();
  $("play").onclick = (e) => { e.currentTarget.blur(); st.playing ? pause() : play(); };
  $("speed").onchange = (e) => {
    st.speed = Number(e.target.value);
    if (st.playing) clock = { wall: performance.now(), t: st.bounds[st.frame] };
    e.target.blur();
  };
  $("save").onclick = (e) => { e.currentTarget.blur(); save(); };
  const timeline = $("timeline");
  timeline.addEventListener("mousedown", onDown);
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  timeline.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const x = ev.clientX - timeline.getBoundingClientRect().left;
    if (ev.shiftKey) {
      const span = st.view[1] - st.view[0];
      st.view = st.view.map((t) => t + (ev.deltaY / 500) * span);
      clampView();
      render();
    } else zoom(ev.deltaY > 0 ? 1.25 : 0.8, tOf(x));
  }, { passive: false });
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", render);
  window.addEventListener("beforeunload", (ev) => { if (st.dirty) { ev.preventDefault(); ev.returnValue = ""; } });
  renderClasses();
  seek(0);
  setStatus(rec.labels.length ? `${rec.labels.length} elements in labels.csv` : "no labels yet");
  document.body.dataset.ready = "1";
}

start();
