// Dreamcatcher's page: wires the metric list, the charts, the time range,
// auto-refresh, the info panel and the address bar together.
import { Alerts } from './alerts.js';
import { api, plainName } from './api.js';
import { Chart } from './chart.js';
import { builtin, builtinList, chartsOf, hostDashboardName, hostsIn, toFile } from './dashboards.js';
import { formatClock, formatShortTime, formatTime, zoneLabel } from './format.js';
import { renderInfo } from './info.js';
import { MetricList } from './metric-list.js';
import { TaggedList } from './tagged.js';
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

// The page's state, in one object. app.view is what the address bar holds
// (url-state.js parses and formats it: charts, range, zoom, refresh,
// filter, dashboard) plus view.meta, the charts' dashboard options; the
// rest is what the page has learnt from the server and its timers, never
// serialised. Other modules get what they need as arguments (hooks for
// alert markings, tag grouping and the like go through here too).
const app = {
  view: withMeta(parseState(location.search)),
  active: 0, // the chart the next picked metric goes to
  lastRefresh: 10, // the interval Resume goes back to
  charts: [], // Chart objects, one per view.charts entry
  infoCache: new Map(), // metric name → {info, error, at}
  names: [], // every metric name, sorted
  namesLoaded: false,
  namesError: null,
  total: 0, // names the server has (it may list fewer)
  unreachable: null, // the error while the server cannot be reached
  lastRange: null, // {from, until} of the last load (Unix seconds)
  loadSeq: 0, // the newest loadAll; older ones drop their answers
  lastGoodLoad: null, // Date of the last refresh without a failure
  infoOpenFor: null,
  infoReturnFocus: null,
  dashFiles: [], // /api/dashboards' list
  pendingDashboard: null, // a built-in dashboard waiting for the names
  timers: { refresh: 0, names: 0, retry: 0, query: 0 },
};
app.lastRefresh = app.view.refresh || 10;
// The address asked for charts or a dashboard (then no host overview
// opens by itself, even when the dashboard cannot be opened).
app.asked = app.view.charts.length > 0 || !!app.view.dashboard;

const list = new MetricList($('#metric-list'), { onSelect: selectMetric, onInfo: showInfo });
const tagged = new TaggedList($('#tagged-list'), { onSelect: (name, add) => selectMetric(name, add) });

// ---- address bar -----------------------------------------------------------

// withMeta: state.meta[i] holds chart i's options from a dashboard (title,
// unit, yAxis, yMin, yMax); the address bar holds only the targets (c=) or
// the dashboard's name (d=).
function withMeta(st) {
  st.meta = st.charts.map((_, i) => (st.units[i] ? { unit: st.units[i] } : {}));
  return st;
}

// edited: the charts are no longer the dashboard's (the address bar now
// lists them with c=).
function edited() {
  app.view.dashboard = null;
}

function commit(push) {
  const s = formatState(app.view);
  if (s === location.search) return;
  history[push ? 'pushState' : 'replaceState'](null, '', s || location.pathname);
}

function commitQuerySoon() {
  clearTimeout(app.timers.query);
  app.timers.query = setTimeout(() => commit(false), 300);
}

window.addEventListener('popstate', () => {
  app.view = withMeta(parseState(location.search));
  if (app.view.refresh) app.lastRefresh = app.view.refresh;
  if (app.view.dashboard) {
    openDashboard(app.view.dashboard, { push: false });
    return;
  }
  $('#filter').value = app.view.q;
  applyFilter();
  app.active = Math.min(app.active, Math.max(0, app.view.charts.length - 1));
  syncCharts();
  syncToolbar();
  loadAll();
});

// ---- metric names ----------------------------------------------------------

async function loadNames() {
  clearTimeout(app.timers.names);
  try {
    const r = await api.metrics('');
    const fresh = Array.isArray(r.metrics) ? r.metrics : [];
    app.total = typeof r.total === 'number' ? r.total : fresh.length;
    app.namesError = null;
    if (!sameList(fresh, app.names)) {
      const first = !app.namesLoaded;
      app.names = fresh;
      list.setNames(app.names);
      // A bookmarked view: open the tree where its first metric is.
      const charted = app.view.charts.flat().filter(plainName);
      if (first && charted.length && !app.view.q.trim()) list.reveal(charted[0]);
    }
    const wasLoaded = app.namesLoaded;
    app.namesLoaded = true;
    if (app.pendingDashboard) {
      const d = app.pendingDashboard;
      app.pendingDashboard = null;
      openDashboard(d, { push: false });
    } else if (!wasLoaded && !app.asked && !app.view.charts.length && !app.view.dashboard) {
      // First load, nothing asked for: the first host's overview.
      const hosts = hostsIn(app.names);
      if (hosts.length) openDashboard(hostDashboardName(hosts[0]), { push: false });
    }
    applyFilter();
    setReachable();
  } catch (err) {
    if (err.unreachable) setUnreachable(err);
    else app.namesError = `Cannot list the metrics: ${err.message}`;
  }
  updateView();
  const wait = app.namesLoaded && app.total === 0 ? EMPTY_POLL_MS : NAMES_POLL_MS;
  app.timers.names = setTimeout(() => {
    if (document.hidden || app.unreachable) app.timers.names = setTimeout(loadNames, wait);
    else loadNames();
  }, wait);
}

function sameList(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function applyFilter() {
  tagged.setQuery(app.view.q);
  const n = list.setQuery(app.view.q);
  const count = $('#count');
  if (!app.namesLoaded) count.textContent = '';
  else if (app.view.q.trim()) count.textContent = n === 0 ? `no match among ${fmtInt(app.names.length)}` : `${fmtInt(n)} of ${fmtInt(app.names.length)} match`;
  else count.textContent = `${fmtInt(app.names.length)} metric${app.names.length === 1 ? '' : 's'}${app.total > app.names.length ? ` (of ${fmtInt(app.total)})` : ''}`;
  $('#no-match').hidden = !(app.namesLoaded && app.view.q.trim() && n === 0);
}

function fmtInt(n) { return n.toLocaleString('en-US'); }

// ---- charts ----------------------------------------------------------------

function selectMetric(name, add) {
  edited();
  if (app.view.charts.length === 0) {
    app.view.charts.push([name]);
    app.view.meta.push({});
    app.active = 0;
  } else {
    app.active = Math.min(app.active, app.view.charts.length - 1);
    const c = app.view.charts[app.active];
    if (add) {
      const at = c.indexOf(name);
      if (at >= 0 && c.length > 1) c.splice(at, 1);
      else if (at < 0) c.push(name);
    } else {
      app.view.charts[app.active] = [name];
      app.view.meta[app.active] = {};
    }
  }
  commit(true);
  syncCharts();
  loadAll();
}

const alerts = new Alerts(document.querySelector('#alerts'), () => app.charts.forEach((c) => c.draw()));

const chartHandlers = {
  onDrawn(chart, g) { alerts.decorate(g, chart.scales); },
  onClose(chart) {
    const i = app.charts.indexOf(chart);
    if (i < 0) return;
    // Drop this chart itself, so the ones after it keep what they show.
    app.charts.splice(i, 1)[0].destroy();
    app.view.charts.splice(i, 1);
    app.view.meta.splice(i, 1);
    edited();
    if (app.active >= app.view.charts.length) app.active = Math.max(0, app.view.charts.length - 1);
    commit(true);
    syncCharts();
  },
  onRemove(chart, name) {
    const i = app.charts.indexOf(chart);
    if (i < 0) return;
    const c = app.view.charts[i].filter((n) => n !== name);
    edited();
    if (c.length) {
      app.view.charts[i] = c;
    } else {
      app.charts.splice(i, 1)[0].destroy();
      app.view.charts.splice(i, 1);
      app.view.meta.splice(i, 1);
    }
    commit(true);
    syncCharts();
    loadAll();
  },
  onActivate(chart) {
    const i = app.charts.indexOf(chart);
    if (i >= 0 && i !== app.active) {
      app.active = i;
      app.charts.forEach((c, k) => c.setActive(k === app.active));
    }
  },
  onZoom(from, until) {
    if (until - from < 2) return;
    app.view.zoom = [from, until];
    commit(true);
    syncToolbar();
    loadAll();
  },
  onReset: resetZoom,
  onJump(from, until) {
    app.view.zoom = null;
    app.view.from = String(from);
    app.view.until = String(until);
    commit(true);
    syncToolbar();
    loadAll();
  },
  onInfo: showInfo,
  onUnit(chart, unit) {
    const i = app.charts.indexOf(chart);
    if (i < 0) return;
    app.view.meta[i] = { ...app.view.meta[i], unit: unit === 'auto' ? undefined : unit };
    if (app.view.dashboard) edited();
    commit(true);
    syncCharts();
  },
  onHover(chart, t) {
    for (const c of app.charts) if (c !== chart) c.showTime(t);
  },
};

function resetZoom() {
  if (!app.view.zoom) return;
  app.view.zoom = null;
  commit(true);
  syncToolbar();
  loadAll();
}

function newChart() {
  app.view.charts.push([]);
  app.view.meta.push({});
  app.active = app.view.charts.length - 1;
  syncCharts();
  app.charts[app.active].el.scrollIntoView({ block: 'nearest' });
  $('#filter').focus();
}

function syncCharts() {
  while (app.charts.length > app.view.charts.length) app.charts.pop().destroy();
  while (app.charts.length < app.view.charts.length) app.charts.push(new Chart($('#charts'), chartHandlers));
  app.charts.forEach((c, i) => {
    const want = app.view.charts[i];
    const meta = app.view.meta[i] || {};
    if (c.names.join('\n') !== want.join('\n') || c.opts !== meta) {
      c.setOptions(meta);
      c.setMetrics(want, !want.every(plainName));
      c.result = null;
      c.svg.selectAll('*').remove();
      c.el.querySelector('tbody').replaceChildren();
      c.el.querySelector('.chart-meta').textContent = '';
      if (want.length === 0) c.message('empty', 'New chart: pick a metric on the left to draw it here.');
    }
    c.setActive(i === app.active);
    c.setZoomed(!!app.view.zoom);
  });
  // Drop empty charts from the state once another change happens.
  list.setSelected(app.view.charts.flat());
  const first = app.view.charts.find((c) => c.length);
  document.title = app.view.dashboard && app.view.title ? `${app.view.title} — Dreamcatcher`
    : first ? `${first.join(', ')} — Dreamcatcher` : 'Dreamcatcher';
  syncPicker();
  updateView();
}

// ---- dashboards --------------------------------------------------------------

// openDashboard shows a dashboard: a built-in one (its name starts with
// "@") or a file of the server's dashboards folder.
async function openDashboard(name, { push = true } = {}) {
  const err = $('#dash-error');
  err.textContent = '';
  let dash = name.startsWith('@') ? builtin(name, app.names) : null;
  if (!dash && name.startsWith('@') && !app.namesLoaded) {
    // A host overview needs the names; loadNames opens it once they are in.
    app.view.dashboard = name;
    app.pendingDashboard = name;
    return;
  }
  if (!dash && !name.startsWith('@')) {
    try {
      dash = await api.dashboard(name);
    } catch (e) {
      err.textContent = `Cannot open dashboard ${name}: ${e.message}`;
    }
  } else if (!dash) {
    err.textContent = `No built-in dashboard ${name}.`;
  }
  if (!dash) {
    app.view.dashboard = null;
    syncCharts();
    return;
  }
  app.view.dashboard = name;
  app.view.title = dash.title;
  const defs = chartsOf(dash);
  app.view.charts = defs.map((c) => c.targets);
  app.view.meta = defs;
  if (dash.from) app.view.from = dash.from;
  if (dash.until) app.view.until = dash.until;
  if (dash.refresh) app.view.refresh = dash.refresh;
  app.view.zoom = null;
  app.active = 0;
  commit(push);
  syncCharts();
  syncToolbar();
  loadAll();
}

async function loadDashboards() {
  try {
    const r = await api.dashboards();
    app.dashFiles = Array.isArray(r.dashboards) ? r.dashboards : [];
  } catch {
    app.dashFiles = [];
  }
  syncPicker();
}

// syncPicker fills the dashboard picker: built-in ones, then the files
// (a broken one is listed, disabled, with its reason).
function syncPicker() {
  const sel = $('#dashboard');
  if (!sel) return;
  const opts = [['', app.view.dashboard ? 'Charts (no dashboard)' : 'Dashboards…', false, '']];
  for (const b of builtinList(app.names)) opts.push([b.name, b.title, false, 'built in']);
  for (const f of app.dashFiles) {
    opts.push([f.name, f.error ? `${f.name} (broken)` : (f.title || f.name), !!f.error, f.error ? `${f.file}: ${f.error}` : f.file]);
  }
  const want = JSON.stringify(opts);
  if (sel.dataset.opts !== want) {
    sel.dataset.opts = want;
    sel.replaceChildren(...opts.map(([v, label, disabled, title]) => {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = label;
      o.disabled = disabled;
      if (title) o.title = title;
      return o;
    }));
  }
  sel.value = app.view.dashboard && opts.some((o) => o[0] === app.view.dashboard) ? app.view.dashboard : '';
}

// exportDashboard downloads the charts on screen as a dashboard file.
function exportDashboard() {
  const defs = app.view.charts.map((targets, i) => {
    const m = app.view.meta[i] || {};
    return { ...m, targets, title: m.title || (app.charts[i] ? app.charts[i].el.querySelector('.chart-title').textContent : '') };
  });
  const title = (app.view.dashboard && app.view.title) || document.title.replace(/ — Dreamcatcher$/, '') || 'Dashboard';
  const file = toFile(title, defs, { from: app.view.from, until: app.view.until });
  const blob = new Blob([`${JSON.stringify(file, null, 2)}\n`], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  const base = app.view.dashboard && !app.view.dashboard.startsWith('@') ? app.view.dashboard
    : (title.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'dashboard');
  a.download = `${base}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function ensureInfo(name, maxAge = INFO_TTL_MS) {
  const hit = app.infoCache.get(name);
  if (hit && Date.now() - hit.at < maxAge) return hit;
  try {
    const info = await api.metric(name);
    const v = { info, error: null, at: Date.now() };
    app.infoCache.set(name, v);
    return v;
  } catch (err) {
    if (err.unreachable) throw err;
    const v = { info: null, error: err.status === 404 ? 'gone' : err.message, at: Date.now() };
    app.infoCache.set(name, v);
    return v;
  }
}

function currentRange(now) {
  if (app.view.zoom) return { from: app.view.zoom[0], until: app.view.zoom[1] };
  let maxRet = 0;
  for (const n of app.view.charts.flat()) {
    const hit = app.infoCache.get(n);
    if (hit && hit.info && hit.info.maxRetention > maxRet) maxRet = hit.info.maxRetention;
  }
  return { from: resolveTime(app.view.from, now, maxRet), until: resolveTime(app.view.until, now, maxRet) };
}

async function loadAll({ quiet = false } = {}) {
  const seq = ++app.loadSeq;
  clearTimeout(app.timers.refresh);
  const wanted = [...new Set(app.view.charts.flat().filter(plainName))];
  if (!app.view.charts.some((c) => c.length)) {
    syncToolbar();
    scheduleRefresh();
    return;
  }
  if (!quiet) app.charts.forEach((c) => c.names.length && c.setLoading(true));
  // Headers (for the archive shown, "all" and gone metrics) load beside the
  // data; only the whole-retention range has to wait for them.
  const infos = Promise.all(wanted.map((n) => ensureInfo(n))).catch((err) => {
    if (err.unreachable) setUnreachable(err);
  });
  if (!app.view.zoom && app.view.from === 'all') await infos;
  if (seq !== app.loadSeq) return;
  const now = Math.floor(Date.now() / 1000);
  const range = currentRange(now);
  app.lastRange = range;
  syncToolbar();
  if (range.from >= range.until) {
    $('#range-error').textContent = 'The range is empty: "from" must be before "until".';
    app.charts.forEach((c) => c.setLoading(false));
    return;
  }
  $('#range-error').textContent = '';
  const results = await Promise.all(app.charts.map((c) => loadChart(c, range, infos)));
  if (seq !== app.loadSeq) return;
  setUpdated(results);
  scheduleRefresh();
}

// setUpdated: the status line says when the charts last loaded, and
// whether this refresh failed (then since when the data is stale).
function setUpdated(results) {
  const el = $('#updated');
  const failed = results.filter((r) => r === false).length;
  const now = new Date();
  if (failed === 0) {
    app.lastGoodLoad = now;
    el.textContent = `updated ${formatClock(now)}`;
    el.className = 'muted';
    el.dataset.status = 'ok';
  } else {
    el.textContent = `refresh failed at ${formatClock(now)}${app.lastGoodLoad ? `; last update ${formatClock(app.lastGoodLoad)}` : ''}`;
    el.className = 'error-text';
    el.dataset.status = 'failed';
  }
}

// loadChart loads and draws one chart: true when it worked, false when the
// request failed, null when there was nothing to do (or it was cancelled).
async function loadChart(chart, range, infos) {
  if (!chart.names.length) return null;
  if (chart.ctrl) chart.ctrl.abort();
  const ctrl = new AbortController();
  chart.ctrl = ctrl;
  let mdp;
  if (app.view.mdp === null) mdp = chart.plotWidth();
  else if (app.view.mdp !== 'off') mdp = app.view.mdp;
  const t0 = performance.now();
  try {
    const req = { from: range.from, until: range.until, maxDataPoints: mdp };
    const res = chart.expr ? await api.render(chart.names, req, { signal: ctrl.signal })
      : await api.data(chart.names, req, { signal: ctrl.signal });
    if (ctrl.signal.aborted) return null;
    await infos;
    if (ctrl.signal.aborted) return null;
    for (const n of chart.names) {
      const hit = app.infoCache.get(n);
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
    if (ctrl.signal.aborted) return null;
    for (const s of failed) {
      const hit = app.infoCache.get(s.name);
      if (hit && hit.error === 'gone' && !/not found/i.test(s.error)) s.error = `not found: ${s.error}`;
    }
    chart.setResult(result);
    chart.el.dataset.drawMs = String(Math.round(performance.now() - t0));
    setReachable();
    return true;
  } catch (err) {
    if (err.name === 'AbortError') return null;
    if (err.unreachable) {
      setUnreachable(err);
      if (!chart.result) chart.message('error', 'The server cannot be reached; the chart will load when it is back.');
    } else {
      chart.message('error', `The server refused the data request: ${err.message}`);
    }
    return false;
  } finally {
    if (chart.ctrl === ctrl) {
      chart.ctrl = null;
      chart.setLoading(false);
    }
  }
}

// ---- auto-refresh ----------------------------------------------------------

function refreshActive() {
  return app.view.refresh > 0 && endsNow(app.view) && app.view.charts.some((c) => c.length);
}

function scheduleRefresh() {
  clearTimeout(app.timers.refresh);
  updateRefreshStatus();
  if (!refreshActive() || document.hidden || app.unreachable) return;
  app.timers.refresh = setTimeout(() => loadAll({ quiet: true }), app.view.refresh * 1000);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && refreshActive()) loadAll({ quiet: true });
  else scheduleRefresh();
});

function updateRefreshStatus() {
  const s = $('#refresh-status');
  const pause = $('#pause');
  pause.hidden = !(endsNow(app.view));
  if (app.unreachable) {
    s.textContent = 'waiting for the server';
  } else if (app.view.refresh === 0) {
    s.textContent = 'auto-refresh paused';
    pause.textContent = 'Resume';
    pause.setAttribute('aria-pressed', 'true');
  } else {
    pause.textContent = 'Pause';
    pause.setAttribute('aria-pressed', 'false');
    s.textContent = endsNow(app.view) ? `auto-refresh every ${app.view.refresh} s` : 'no auto-refresh: the range does not end now';
  }
}

// ---- reachability ----------------------------------------------------------

function setUnreachable(err) {
  const first = !app.unreachable;
  app.unreachable = err;
  const b = $('#banner');
  b.hidden = false;
  b.className = 'banner error';
  $('#banner-text').textContent = `Cannot reach whisperserver at ${location.host}: ${err.message}. Retrying every ${RETRY_MS / 1000} s…`;
  document.body.dataset.server = 'unreachable';
  clearTimeout(app.timers.refresh);
  updateRefreshStatus();
  if (first) {
    clearTimeout(app.timers.retry);
    app.timers.retry = setTimeout(retry, RETRY_MS);
  }
  updateView();
}

function setReachable() {
  if (!app.unreachable) return;
  app.unreachable = null;
  clearTimeout(app.timers.retry);
  $('#banner').hidden = true;
  document.body.dataset.server = 'ok';
  updateRefreshStatus();
  updateView();
}

async function retry() {
  clearTimeout(app.timers.retry);
  try {
    await api.health({ timeout: 5000 });
  } catch (err) {
    if (app.unreachable) {
      $('#banner-text').textContent = `Cannot reach whisperserver at ${location.host}: ${err.message}. Retrying every ${RETRY_MS / 1000} s…`;
      app.timers.retry = setTimeout(retry, RETRY_MS);
    }
    return;
  }
  setReachable();
  loadNames();
  loadAll();
}

// ---- view states -----------------------------------------------------------

function updateView() {
  const hasCharts = app.view.charts.length > 0;
  const loadingNames = !app.namesLoaded && !app.namesError && !app.unreachable;
  $('#list-status').hidden = !(loadingNames || app.namesError || (app.unreachable && !app.namesLoaded));
  $('#list-status').textContent = loadingNames ? 'Loading metric names…'
    : app.namesError || (app.unreachable && !app.namesLoaded ? 'The metric list will load when the server is back.' : '');
  $('#empty').hidden = !(app.namesLoaded && app.total === 0 && !hasCharts);
  $('#landing').hidden = !(app.namesLoaded && app.total > 0 && !hasCharts);
  $('#charts').hidden = !hasCharts;
  document.querySelector('.range-bar').hidden = !hasCharts;
  if (app.namesLoaded && app.total === 0) {
    $('#list-status').hidden = false;
    $('#list-status').textContent = 'No metrics yet.';
  }
  let view = 'charts';
  if (app.unreachable) view = 'unreachable';
  else if (loadingNames && !hasCharts) view = 'loading';
  else if (app.namesLoaded && app.total === 0 && !hasCharts) view = 'empty';
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
      app.view.from = from;
      app.view.until = 'now';
      app.view.zoom = null;
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
    app.view.refresh = +sel.value;
    app.lastRefresh = app.view.refresh;
    commit(false);
    scheduleRefresh();
  });
  $('#pause').addEventListener('click', () => {
    if (app.view.refresh === 0) {
      app.view.refresh = app.lastRefresh || 10;
      commit(false);
      loadAll({ quiet: true });
    } else {
      app.lastRefresh = app.view.refresh;
      app.view.refresh = 0;
      commit(false);
    }
    syncToolbar();
    scheduleRefresh();
  });
  $('#zoom-out').addEventListener('click', zoomOut);
  $('#reset-zoom').addEventListener('click', resetZoom);
  $('#new-chart').addEventListener('click', newChart);
  $('#export').addEventListener('click', exportDashboard);
  $('#dashboard').addEventListener('change', () => {
    const v = $('#dashboard').value;
    if (v) openDashboard(v);
    else {
      edited();
      commit(true);
      syncPicker();
    }
  });
  $('#dashboard').addEventListener('focus', loadDashboards);
  $('#custom-toggle').addEventListener('click', () => {
    const f = $('#custom-form');
    f.hidden = !f.hidden;
    $('#custom-toggle').setAttribute('aria-expanded', String(!f.hidden));
    if (!f.hidden) {
      const r = app.lastRange || currentRange(Math.floor(Date.now() / 1000));
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
    app.view.from = String(f);
    app.view.until = String(u);
    app.view.zoom = null;
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
  const r = app.lastRange || currentRange(now);
  const w = r.until - r.from;
  if (!app.view.zoom && app.view.until === 'now') {
    app.view.from = `-${Math.round(w * 2)}s`;
  } else {
    const until = Math.min(now, Math.round(r.until + w / 2));
    const from = Math.round(until - 2 * w);
    if (until >= now) {
      app.view.zoom = null;
      app.view.from = `-${until - from}s`;
      app.view.until = 'now';
    } else if (app.view.zoom) {
      app.view.zoom = [from, until];
    } else {
      app.view.from = String(from);
      app.view.until = String(until);
    }
  }
  commit(true);
  loadAll();
}

function syncToolbar() {
  for (const b of document.querySelectorAll('#presets button')) {
    const on = !app.view.zoom && app.view.until === 'now' && app.view.from === b.dataset.from;
    b.setAttribute('aria-pressed', String(on));
  }
  const custom = !!app.view.zoom || app.view.until !== 'now' || !PRESETS.some((p) => p[1] === app.view.from);
  $('#custom-toggle').classList.toggle('on', custom);
  const sel = $('#refresh');
  const want = String(app.view.refresh || app.lastRefresh || 10);
  if (![...sel.options].some((o) => o.value === want)) {
    const o = document.createElement('option');
    o.value = want;
    o.textContent = `${want} s`;
    sel.append(o);
  }
  sel.value = want;
  $('#reset-zoom').hidden = !app.view.zoom;
  app.charts.forEach((c) => c.setZoomed(!!app.view.zoom));
  const label = $('#range-label');
  if (app.lastRange) {
    const f = new Date(app.lastRange.from * 1000);
    const u = new Date(app.lastRange.until * 1000);
    label.textContent = `${formatShortTime(f)} → ${endsNow(app.view) ? 'now' : formatShortTime(u)}`;
    label.title = `${formatTime(f)} → ${formatTime(u)} (${zoneLabel(u)})`;
    $('#range-zone').textContent = `local time, ${zoneLabel(u)}`;
  }
  document.body.dataset.from = app.lastRange ? String(app.lastRange.from) : '';
  document.body.dataset.until = app.lastRange ? String(app.lastRange.until) : '';
  updateRefreshStatus();
}

// ---- info panel --------------------------------------------------------------

async function showInfo(name) {
  const panel = $('#info-panel');
  app.infoOpenFor = name;
  if (panel.hidden) app.infoReturnFocus = document.activeElement;
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
  app.infoCache.delete(name);
  let v;
  try {
    v = await ensureInfo(name, 0);
  } catch (err) {
    if (app.infoOpenFor === name) renderInfo(body, name, null, `Cannot reach the server: ${err.message}`);
    return;
  }
  if (app.infoOpenFor !== name) return;
  if (v.error === 'gone') renderInfo(body, name, null, 'Metric gone: there is no whisper file for this name any more (deleted or renamed).');
  else if (v.error) renderInfo(body, name, null, `Cannot read this metric's header: ${v.error}`);
  else renderInfo(body, name, v.info);
}

function closeInfo() {
  $('#info-panel').hidden = true;
  app.infoOpenFor = null;
  if (app.infoReturnFocus && document.contains(app.infoReturnFocus)) app.infoReturnFocus.focus();
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
  filter.value = app.view.q;
  filter.addEventListener('input', () => {
    app.view.q = filter.value;
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
      app.view.q = '';
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
  if (app.view.charts.length && window.matchMedia('(max-width: 760px)').matches) {
    // A shared chart link on a phone: show the chart first.
    document.body.classList.add('sidebar-collapsed');
    $('#sidebar-toggle').setAttribute('aria-expanded', 'false');
  }
  syncCharts();
  syncToolbar();
  updateView();
  loadNames();
  loadDashboards();
  if (app.view.dashboard) openDashboard(app.view.dashboard, { push: false });
  else loadAll();
  alerts.start();
}

setup();
