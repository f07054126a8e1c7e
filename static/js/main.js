// Dreamcatcher's page: wires the metric list, the charts, the time range,
// auto-refresh, the info panel and the address bar together.
import { Alerts } from './alerts.js';
import { api } from './api.js';
import { Chart } from './chart.js';
import { formatClock, formatShortTime, formatTime, zoneLabel } from './format.js';
import { renderInfo } from './info.js';
import { MetricList } from './metric-list.js';
import { endsNow, formatState, parseState, resolveTime } from './url-state.js';

const PRESETS = [
  ['15 min', '-15min'], ['1 h', '-1h'], ['6 h', '-6h'], ['24 h', '-24h'],
  ['7 d', '-7d'], ['30 d', '-30d'], ['All', 'all'],
];
const REFRESH_CHOICES = [[5, '5 s'], [10, '10 s'], [30, '30 s'], [60, '1 min'], [300, '5 min']];
const EMPTY_POLL_MS = 5000;
const NAMES_POLL_MS = 60000;
const INFO_TTL_MS = 30000;
const RETRY_MS = 5000;

const $ = (s) => document.querySelector(s);

let state = parseState(location.search);
let active = 0;
let lastRefresh = state.refresh || 10;
const charts = [];
const infoCache = new Map();
let names = [];
let namesLoaded = false;
let namesError = null;
let total = 0;
let unreachable = null;
let refreshTimer = 0;
let namesTimer = 0;
let retryTimer = 0;
let lastRange = null;
let loadSeq = 0;
let infoOpenFor = null;
let infoReturnFocus = null;

const list = new MetricList($('#metric-list'), { onSelect: selectMetric, onInfo: showInfo });

// ---- address bar -----------------------------------------------------------

function commit(push) {
  const s = formatState(state);
  if (s === location.search) return;
  history[push ? 'pushState' : 'replaceState'](null, '', s || location.pathname);
}

let qTimer = 0;
function commitQuerySoon() {
  clearTimeout(qTimer);
  qTimer = setTimeout(() => commit(false), 300);
}

window.addEventListener('popstate', () => {
  state = parseState(location.search);
  if (state.refresh) lastRefresh = state.refresh;
  $('#filter').value = state.q;
  applyFilter();
  active = Math.min(active, Math.max(0, state.charts.length - 1));
  syncCharts();
  syncToolbar();
  loadAll();
});

// ---- metric names ----------------------------------------------------------

async function loadNames() {
  clearTimeout(namesTimer);
  try {
    const r = await api.metrics('');
    const fresh = Array.isArray(r.metrics) ? r.metrics : [];
    total = typeof r.total === 'number' ? r.total : fresh.length;
    namesError = null;
    if (!sameList(fresh, names)) {
      const first = !namesLoaded;
      names = fresh;
      list.setNames(names);
      // A bookmarked view: open the tree where its first metric is.
      const charted = state.charts.flat();
      if (first && charted.length && !state.q.trim()) list.reveal(charted[0]);
    }
    namesLoaded = true;
    applyFilter();
    setReachable();
  } catch (err) {
    if (err.unreachable) setUnreachable(err);
    else namesError = `Cannot list the metrics: ${err.message}`;
  }
  updateView();
  const wait = namesLoaded && total === 0 ? EMPTY_POLL_MS : NAMES_POLL_MS;
  namesTimer = setTimeout(() => {
    if (document.hidden || unreachable) namesTimer = setTimeout(loadNames, wait);
    else loadNames();
  }, wait);
}

function sameList(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function applyFilter() {
  const n = list.setQuery(state.q);
  const count = $('#count');
  if (!namesLoaded) count.textContent = '';
  else if (state.q.trim()) count.textContent = n === 0 ? `no match among ${fmtInt(names.length)}` : `${fmtInt(n)} of ${fmtInt(names.length)} match`;
  else count.textContent = `${fmtInt(names.length)} metric${names.length === 1 ? '' : 's'}${total > names.length ? ` (of ${fmtInt(total)})` : ''}`;
  $('#no-match').hidden = !(namesLoaded && state.q.trim() && n === 0);
}

function fmtInt(n) { return n.toLocaleString('en-US'); }

// ---- charts ----------------------------------------------------------------

function selectMetric(name, add) {
  if (state.charts.length === 0) {
    state.charts.push([name]);
    active = 0;
  } else {
    active = Math.min(active, state.charts.length - 1);
    const c = state.charts[active];
    if (add) {
      const at = c.indexOf(name);
      if (at >= 0 && c.length > 1) c.splice(at, 1);
      else if (at < 0) c.push(name);
    } else {
      state.charts[active] = [name];
    }
  }
  commit(true);
  syncCharts();
  loadAll();
}

const alerts = new Alerts(document.querySelector('#alerts'), () => charts.forEach((c) => c.draw()));

const chartHandlers = {
  onDrawn(chart, g) { alerts.decorate(g, chart.scales); },
  onClose(chart) {
    const i = charts.indexOf(chart);
    if (i < 0) return;
    // Drop this chart itself, so the ones after it keep what they show.
    charts.splice(i, 1)[0].destroy();
    state.charts.splice(i, 1);
    if (active >= state.charts.length) active = Math.max(0, state.charts.length - 1);
    commit(true);
    syncCharts();
  },
  onRemove(chart, name) {
    const i = charts.indexOf(chart);
    if (i < 0) return;
    const c = state.charts[i].filter((n) => n !== name);
    if (c.length) {
      state.charts[i] = c;
    } else {
      charts.splice(i, 1)[0].destroy();
      state.charts.splice(i, 1);
    }
    commit(true);
    syncCharts();
    loadAll();
  },
  onActivate(chart) {
    const i = charts.indexOf(chart);
    if (i >= 0 && i !== active) {
      active = i;
      charts.forEach((c, k) => c.setActive(k === active));
    }
  },
  onZoom(from, until) {
    if (until - from < 2) return;
    state.zoom = [from, until];
    commit(true);
    syncToolbar();
    loadAll();
  },
  onReset: resetZoom,
  onInfo: showInfo,
  onHover(chart, t) {
    for (const c of charts) if (c !== chart) c.showTime(t);
  },
};

function resetZoom() {
  if (!state.zoom) return;
  state.zoom = null;
  commit(true);
  syncToolbar();
  loadAll();
}

function newChart() {
  state.charts.push([]);
  active = state.charts.length - 1;
  syncCharts();
  charts[active].el.scrollIntoView({ block: 'nearest' });
  $('#filter').focus();
}

function syncCharts() {
  while (charts.length > state.charts.length) charts.pop().destroy();
  while (charts.length < state.charts.length) charts.push(new Chart($('#charts'), chartHandlers));
  charts.forEach((c, i) => {
    const want = state.charts[i];
    if (c.names.join('\n') !== want.join('\n')) {
      c.setMetrics(want);
      c.result = null;
      c.svg.selectAll('*').remove();
      c.el.querySelector('tbody').replaceChildren();
      c.el.querySelector('.chart-meta').textContent = '';
      if (want.length === 0) c.message('empty', 'New chart: pick a metric on the left to draw it here.');
    }
    c.setActive(i === active);
    c.setZoomed(!!state.zoom);
  });
  // Drop empty charts from the state once another change happens.
  list.setSelected(state.charts.flat());
  const first = state.charts.find((c) => c.length);
  document.title = first ? `${first.join(', ')} — Dreamcatcher` : 'Dreamcatcher';
  updateView();
}

async function ensureInfo(name, maxAge = INFO_TTL_MS) {
  const hit = infoCache.get(name);
  if (hit && Date.now() - hit.at < maxAge) return hit;
  try {
    const info = await api.metric(name);
    const v = { info, error: null, at: Date.now() };
    infoCache.set(name, v);
    return v;
  } catch (err) {
    if (err.unreachable) throw err;
    const v = { info: null, error: err.status === 404 ? 'gone' : err.message, at: Date.now() };
    infoCache.set(name, v);
    return v;
  }
}

function currentRange(now) {
  if (state.zoom) return { from: state.zoom[0], until: state.zoom[1] };
  let maxRet = 0;
  for (const n of state.charts.flat()) {
    const hit = infoCache.get(n);
    if (hit && hit.info && hit.info.maxRetention > maxRet) maxRet = hit.info.maxRetention;
  }
  return { from: resolveTime(state.from, now, maxRet), until: resolveTime(state.until, now, maxRet) };
}

async function loadAll({ quiet = false } = {}) {
  const seq = ++loadSeq;
  clearTimeout(refreshTimer);
  const wanted = [...new Set(state.charts.flat())];
  if (wanted.length === 0) {
    syncToolbar();
    scheduleRefresh();
    return;
  }
  if (!quiet) charts.forEach((c) => c.names.length && c.setLoading(true));
  // Headers (for the archive shown, "all" and gone metrics) load beside the
  // data; only the whole-retention range has to wait for them.
  const infos = Promise.all(wanted.map((n) => ensureInfo(n))).catch((err) => {
    if (err.unreachable) setUnreachable(err);
  });
  if (!state.zoom && state.from === 'all') await infos;
  if (seq !== loadSeq) return;
  const now = Math.floor(Date.now() / 1000);
  const range = currentRange(now);
  lastRange = range;
  syncToolbar();
  if (range.from >= range.until) {
    $('#range-error').textContent = 'The range is empty: "from" must be before "until".';
    charts.forEach((c) => c.setLoading(false));
    return;
  }
  $('#range-error').textContent = '';
  await Promise.all(charts.map((c) => loadChart(c, range, infos)));
  if (seq !== loadSeq) return;
  $('#updated').textContent = `updated ${formatClock(new Date())}`;
  scheduleRefresh();
}

async function loadChart(chart, range, infos) {
  if (!chart.names.length) return;
  if (chart.ctrl) chart.ctrl.abort();
  const ctrl = new AbortController();
  chart.ctrl = ctrl;
  let mdp;
  if (state.mdp === null) mdp = chart.plotWidth();
  else if (state.mdp !== 'off') mdp = state.mdp;
  const t0 = performance.now();
  try {
    const res = await api.data(chart.names, { from: range.from, until: range.until, maxDataPoints: mdp }, { signal: ctrl.signal });
    if (ctrl.signal.aborted) return;
    await infos;
    if (ctrl.signal.aborted) return;
    for (const n of chart.names) {
      const hit = infoCache.get(n);
      if (hit && hit.info) chart.setInfo(n, hit.info);
    }
    const result = {
      from: Number.isFinite(res.from) ? res.from : range.from,
      until: Number.isFinite(res.until) ? res.until : range.until,
      series: Array.isArray(res.series) ? res.series : [],
    };
    // A target the data call could not read: ask for its header again to
    // tell "gone" (404) from "cannot read" (corrupt file, …).
    const failed = result.series.filter((s) => s.error);
    await Promise.all(failed.map((s) => ensureInfo(s.name, 0).catch(() => null)));
    if (ctrl.signal.aborted) return;
    for (const s of failed) {
      const hit = infoCache.get(s.name);
      if (hit && hit.error === 'gone' && !/not found/i.test(s.error)) s.error = `not found: ${s.error}`;
    }
    chart.setResult(result);
    chart.el.dataset.drawMs = String(Math.round(performance.now() - t0));
    setReachable();
  } catch (err) {
    if (err.name === 'AbortError') return;
    if (err.unreachable) {
      setUnreachable(err);
      if (!chart.result) chart.message('error', 'The server cannot be reached; the chart will load when it is back.');
    } else {
      chart.message('error', `The server refused the data request: ${err.message}`);
    }
  } finally {
    if (chart.ctrl === ctrl) {
      chart.ctrl = null;
      chart.setLoading(false);
    }
  }
}

// ---- auto-refresh ----------------------------------------------------------

function refreshActive() {
  return state.refresh > 0 && endsNow(state) && state.charts.some((c) => c.length);
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  updateRefreshStatus();
  if (!refreshActive() || document.hidden || unreachable) return;
  refreshTimer = setTimeout(() => loadAll({ quiet: true }), state.refresh * 1000);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && refreshActive()) loadAll({ quiet: true });
  else scheduleRefresh();
});

function updateRefreshStatus() {
  const s = $('#refresh-status');
  const pause = $('#pause');
  pause.hidden = !(endsNow(state));
  if (unreachable) {
    s.textContent = 'waiting for the server';
  } else if (state.refresh === 0) {
    s.textContent = 'auto-refresh paused';
    pause.textContent = 'Resume';
    pause.setAttribute('aria-pressed', 'true');
  } else {
    pause.textContent = 'Pause';
    pause.setAttribute('aria-pressed', 'false');
    s.textContent = endsNow(state) ? `auto-refresh every ${state.refresh} s` : 'no auto-refresh: the range does not end now';
  }
}

// ---- reachability ----------------------------------------------------------

function setUnreachable(err) {
  const first = !unreachable;
  unreachable = err;
  const b = $('#banner');
  b.hidden = false;
  b.className = 'banner error';
  $('#banner-text').textContent = `Cannot reach whisperserver at ${location.host}: ${err.message}. Retrying every ${RETRY_MS / 1000} s…`;
  document.body.dataset.server = 'unreachable';
  clearTimeout(refreshTimer);
  updateRefreshStatus();
  if (first) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(retry, RETRY_MS);
  }
  updateView();
}

function setReachable() {
  if (!unreachable) return;
  unreachable = null;
  clearTimeout(retryTimer);
  $('#banner').hidden = true;
  document.body.dataset.server = 'ok';
  updateRefreshStatus();
  updateView();
}

async function retry() {
  clearTimeout(retryTimer);
  try {
    await api.health({ timeout: 5000 });
  } catch (err) {
    if (unreachable) {
      $('#banner-text').textContent = `Cannot reach whisperserver at ${location.host}: ${err.message}. Retrying every ${RETRY_MS / 1000} s…`;
      retryTimer = setTimeout(retry, RETRY_MS);
    }
    return;
  }
  setReachable();
  loadNames();
  loadAll();
}

// ---- view states -----------------------------------------------------------

function updateView() {
  const hasCharts = state.charts.length > 0;
  const loadingNames = !namesLoaded && !namesError && !unreachable;
  $('#list-status').hidden = !(loadingNames || namesError || (unreachable && !namesLoaded));
  $('#list-status').textContent = loadingNames ? 'Loading metric names…'
    : namesError || (unreachable && !namesLoaded ? 'The metric list will load when the server is back.' : '');
  $('#empty').hidden = !(namesLoaded && total === 0 && !hasCharts);
  $('#landing').hidden = !(namesLoaded && total > 0 && !hasCharts);
  $('#charts').hidden = !hasCharts;
  document.querySelector('.range-bar').hidden = !hasCharts;
  if (namesLoaded && total === 0) {
    $('#list-status').hidden = false;
    $('#list-status').textContent = 'No metrics yet.';
  }
  let view = 'charts';
  if (unreachable) view = 'unreachable';
  else if (loadingNames && !hasCharts) view = 'loading';
  else if (namesLoaded && total === 0 && !hasCharts) view = 'empty';
  else if (!hasCharts) view = 'landing';
  document.body.dataset.view = view;
}

// ---- toolbar: range, refresh, zoom -------------------------------------------

function buildToolbar() {
  const presets = $('#presets');
  for (const [label, from] of PRESETS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn seg';
    b.textContent = label;
    b.dataset.from = from;
    b.title = from === 'all' ? 'The whole retention of the charted metrics' : `The last ${label}`;
    b.addEventListener('click', () => {
      state.from = from;
      state.until = 'now';
      state.zoom = null;
      commit(true);
      loadAll();
    });
    presets.append(b);
  }
  const sel = $('#refresh');
  for (const [sec, label] of REFRESH_CHOICES) {
    const o = document.createElement('option');
    o.value = String(sec);
    o.textContent = label;
    sel.append(o);
  }
  sel.addEventListener('change', () => {
    state.refresh = +sel.value;
    lastRefresh = state.refresh;
    commit(false);
    scheduleRefresh();
  });
  $('#pause').addEventListener('click', () => {
    if (state.refresh === 0) {
      state.refresh = lastRefresh || 10;
      commit(false);
      loadAll({ quiet: true });
    } else {
      lastRefresh = state.refresh;
      state.refresh = 0;
      commit(false);
    }
    syncToolbar();
    scheduleRefresh();
  });
  $('#zoom-out').addEventListener('click', zoomOut);
  $('#reset-zoom').addEventListener('click', resetZoom);
  $('#new-chart').addEventListener('click', newChart);
  $('#custom-toggle').addEventListener('click', () => {
    const f = $('#custom-form');
    f.hidden = !f.hidden;
    $('#custom-toggle').setAttribute('aria-expanded', String(!f.hidden));
    if (!f.hidden) {
      const r = lastRange || currentRange(Math.floor(Date.now() / 1000));
      $('#custom-from').value = toLocalInput(r.from);
      $('#custom-until').value = toLocalInput(r.until);
      $('#custom-from').focus();
    }
  });
  $('#custom-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = fromLocalInput($('#custom-from').value);
    const u = fromLocalInput($('#custom-until').value);
    const err = $('#custom-error');
    if (f === null || u === null) {
      err.textContent = 'Enter both dates.';
      return;
    }
    if (f >= u) {
      err.textContent = '"From" must be before "to".';
      return;
    }
    err.textContent = '';
    state.from = String(f);
    state.until = String(u);
    state.zoom = null;
    $('#custom-form').hidden = true;
    $('#custom-toggle').setAttribute('aria-expanded', 'false');
    commit(true);
    loadAll();
  });
}

function toLocalInput(ts) {
  const d = new Date(ts * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(v) {
  if (!v) return null;
  const t = new Date(v).getTime();
  return Number.isFinite(t) ? Math.floor(t / 1000) : null;
}

function zoomOut() {
  const now = Math.floor(Date.now() / 1000);
  const r = lastRange || currentRange(now);
  const w = r.until - r.from;
  if (!state.zoom && state.until === 'now') {
    state.from = `-${Math.round(w * 2)}s`;
  } else {
    const until = Math.min(now, Math.round(r.until + w / 2));
    const from = Math.round(until - 2 * w);
    if (until >= now) {
      state.zoom = null;
      state.from = `-${until - from}s`;
      state.until = 'now';
    } else if (state.zoom) {
      state.zoom = [from, until];
    } else {
      state.from = String(from);
      state.until = String(until);
    }
  }
  commit(true);
  loadAll();
}

function syncToolbar() {
  for (const b of document.querySelectorAll('#presets button')) {
    const on = !state.zoom && state.until === 'now' && state.from === b.dataset.from;
    b.setAttribute('aria-pressed', String(on));
  }
  const custom = !!state.zoom || state.until !== 'now' || !PRESETS.some((p) => p[1] === state.from);
  $('#custom-toggle').classList.toggle('on', custom);
  const sel = $('#refresh');
  const want = String(state.refresh || lastRefresh || 10);
  if (![...sel.options].some((o) => o.value === want)) {
    const o = document.createElement('option');
    o.value = want;
    o.textContent = `${want} s`;
    sel.append(o);
  }
  sel.value = want;
  $('#reset-zoom').hidden = !state.zoom;
  charts.forEach((c) => c.setZoomed(!!state.zoom));
  const label = $('#range-label');
  if (lastRange) {
    const f = new Date(lastRange.from * 1000);
    const u = new Date(lastRange.until * 1000);
    label.textContent = `${formatShortTime(f)} → ${endsNow(state) ? 'now' : formatShortTime(u)}`;
    label.title = `${formatTime(f)} → ${formatTime(u)} (${zoneLabel(u)})`;
    $('#range-zone').textContent = `local time, ${zoneLabel(u)}`;
  }
  document.body.dataset.from = lastRange ? String(lastRange.from) : '';
  document.body.dataset.until = lastRange ? String(lastRange.until) : '';
  updateRefreshStatus();
}

// ---- info panel --------------------------------------------------------------

async function showInfo(name) {
  const panel = $('#info-panel');
  infoOpenFor = name;
  if (panel.hidden) infoReturnFocus = document.activeElement;
  panel.hidden = false;
  const body = $('#info-body');
  body.replaceChildren();
  const h = document.createElement('h2');
  h.id = 'info-title';
  h.textContent = name;
  const p = document.createElement('p');
  p.className = 'muted';
  p.textContent = 'Loading…';
  body.append(h, p);
  $('#info-close').focus();
  infoCache.delete(name);
  let v;
  try {
    v = await ensureInfo(name, 0);
  } catch (err) {
    if (infoOpenFor === name) renderInfo(body, name, null, `Cannot reach the server: ${err.message}`);
    return;
  }
  if (infoOpenFor !== name) return;
  if (v.error === 'gone') renderInfo(body, name, null, 'Metric gone: there is no whisper file for this name any more (deleted or renamed).');
  else if (v.error) renderInfo(body, name, null, `Cannot read this metric's header: ${v.error}`);
  else renderInfo(body, name, v.info);
}

function closeInfo() {
  $('#info-panel').hidden = true;
  infoOpenFor = null;
  if (infoReturnFocus && document.contains(infoReturnFocus)) infoReturnFocus.focus();
}

// ---- theme, layout, keys -----------------------------------------------------

const THEMES = ['auto', 'light', 'dark'];
function applyTheme(t) {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  const b = $('#theme');
  b.textContent = t === 'auto' ? '◐ Auto' : t === 'light' ? '☀ Light' : '☾ Dark';
  b.title = `Colour scheme: ${t} (click to change)`;
}

function setup() {
  buildToolbar();
  let theme = 'auto';
  try {
    theme = localStorage.getItem('dreamcatcher-theme') || 'auto';
  } catch { /* storage may be disabled */ }
  if (!THEMES.includes(theme)) theme = 'auto';
  applyTheme(theme);
  $('#theme').addEventListener('click', () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    applyTheme(theme);
    try {
      localStorage.setItem('dreamcatcher-theme', theme);
    } catch { /* ignore */ }
  });
  $('#sidebar-toggle').addEventListener('click', () => {
    const collapsed = document.body.classList.toggle('sidebar-collapsed');
    $('#sidebar-toggle').setAttribute('aria-expanded', String(!collapsed));
  });
  const filter = $('#filter');
  filter.value = state.q;
  filter.addEventListener('input', () => {
    state.q = filter.value;
    applyFilter();
    commitQuerySoon();
  });
  filter.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      list.el.focus();
      list.moveTo(0);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (list.length() === 1) list.onSelect(list.rowName(0), e.shiftKey);
      else if (list.length() > 0) {
        list.el.focus();
        list.moveTo(0);
      }
    } else if (e.key === 'Escape' && filter.value) {
      filter.value = '';
      state.q = '';
      applyFilter();
      commitQuerySoon();
    }
  });
  $('#info-close').addEventListener('click', closeInfo);
  $('#banner-retry').addEventListener('click', retry);
  document.addEventListener('keydown', (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName);
    if (e.key === 'Escape' && !$('#info-panel').hidden) closeInfo();
    else if (e.key === 'Escape' && !$('#custom-form').hidden) {
      $('#custom-form').hidden = true;
      $('#custom-toggle').setAttribute('aria-expanded', 'false');
      $('#custom-toggle').focus();
    }
    else if (e.key === '/' && !typing) {
      e.preventDefault();
      filter.focus();
      filter.select();
    }
  });
  const statsd = document.querySelector('meta[name="dreamcatcher-statsd"]')?.content || '127.0.0.1:8125';
  const at = statsd.lastIndexOf(':');
  const host = statsd.slice(0, at);
  const port = statsd.slice(at + 1);
  $('#first-metric').textContent = `echo "hello.world:1|c" | nc -u -w1 ${host} ${port}`;
  $('#copy-first').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('#first-metric').textContent);
      $('#copy-first').textContent = 'Copied';
    } catch {
      const r = document.createRange();
      r.selectNodeContents($('#first-metric'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    }
  });
  if (state.charts.length && window.matchMedia('(max-width: 760px)').matches) {
    // A shared chart link on a phone: show the chart first.
    document.body.classList.add('sidebar-collapsed');
    $('#sidebar-toggle').setAttribute('aria-expanded', 'false');
  }
  syncCharts();
  syncToolbar();
  updateView();
  loadNames();
  loadAll();
  alerts.start();
}

setup();
