// Dashboards: the built-in ones (a host overview per host under hosts.*,
// "Dreamcatcher", the pipeline's own metrics), and a dashboard file made
// from the charts on screen (docs/dashboards.md). Pure functions, no DOM.

// BUILTIN marks a built-in dashboard's name (a file's name cannot start so).
export const BUILTIN = '@';
export const SELF = '@dreamcatcher';

// hostsIn: the hosts seen under hosts.* (the host input's prefix).
export function hostsIn(names) {
  const hosts = new Set();
  for (const n of names) {
    if (!n.startsWith('hosts.')) continue;
    const dot = n.indexOf('.', 6);
    if (dot > 6) hosts.add(n.slice(6, dot));
  }
  return [...hosts].sort();
}

export function hostDashboardName(host) { return `${BUILTIN}host.${host}`; }

// builtinList: the built-in dashboards for these names, [{name, title}].
export function builtinList(names) {
  const out = hostsIn(names).map((h) => ({ name: hostDashboardName(h), title: `Host ${h}` }));
  out.push({ name: SELF, title: 'Dreamcatcher (the pipeline itself)' });
  return out;
}

// builtin returns a built-in dashboard by name, or null. The host input's
// metric names are those of plugins/host/README.md.
export function builtin(name, names) {
  if (name === SELF) return selfDashboard();
  const m = /^@host\.(.+)$/.exec(name);
  if (!m) return null;
  const host = m[1];
  if (!hostsIn(names).includes(host)) return null;
  return hostDashboard(host);
}

export function hostDashboard(host) {
  const p = `hosts.${host}`;
  return {
    title: `Host ${host}`,
    charts: [
      { title: 'CPU', targets: ['user', 'system', 'iowait', 'steal'].map((k) => `${p}.cpu.total.${k}`), unit: '%', yAxis: 'percent' },
      { title: 'Load', targets: ['load1', 'load5', 'load15'].map((k) => `${p}.load.${k}`), unit: 'none', yAxis: 'zero' },
      { title: 'Memory', targets: [`${p}.memory.used`, `${p}.memory.cached`, `${p}.memory.buffers`, `${p}.memory.available`], unit: 'B', yAxis: 'zero' },
      { title: 'Swap', targets: [`${p}.swap.used`, `${p}.swap.free`], unit: 'B', yAxis: 'zero' },
      { title: 'Filesystems used', targets: [`aliasByNode(${p}.disk.*.used_percent, 3)`], unit: '%', yAxis: 'percent' },
      { title: 'Disk I/O', targets: [`aliasByNode(${p}.diskio.*.{read_bytes,write_bytes}, 3, 4)`], unit: 'B/s', yAxis: 'zero' },
      { title: 'Network', targets: [`aliasByNode(${p}.net.*.{bytes_recv,bytes_sent}, 3, 4)`], unit: 'B/s', yAxis: 'zero' },
      { title: 'Processes', targets: ['total', 'running', 'blocked'].map((k) => `${p}.processes.${k}`), unit: 'none', yAxis: 'zero' },
    ],
  };
}

// selfDashboard: the pipeline's own metrics, as its parts name them:
// the statsd input (plugins/statsd/README.md, legacy and new namespace),
// the whisper output and the carbon input (their self_metrics, default
// prefixes dreamcatcher.whisper.<host> and dreamcatcher.carbon_input.<host>).
export function selfDashboard() {
  const w = 'dreamcatcher.whisper.*';
  const statsd = (k) => [`alias(stats.statsd.${k}, "${k}/s")`, `alias(stats.counters.statsd.${k}.rate, "${k}/s")`];
  return {
    title: 'Dreamcatcher',
    charts: [
      { title: 'statsd packets and lines per second', targets: [...statsd('packets_received'), ...statsd('metrics_received')], unit: '/s', yAxis: 'zero' },
      { title: 'statsd bad lines per second', targets: statsd('bad_lines_seen'), unit: '/s', yAxis: 'zero' },
      { title: 'Points written (per interval)', targets: [`aliasByNode(${w}.points_written, 2)`, `aliasByNode(${w}.points_received, 2, 3)`], unit: 'none', yAxis: 'zero' },
      { title: 'Cache size', targets: [`aliasByNode(${w}.cache.points, 2, 4)`, `aliasByNode(${w}.cache.metrics, 2, 4)`], unit: 'none', yAxis: 'zero' },
      { title: 'Drops (per interval)', targets: [`aliasByNode(${w}.dropped.*, 2, 4)`, 'aliasByNode(dreamcatcher.carbon_input.*.badLines, 2, 3)'], unit: 'none', yAxis: 'zero' },
      { title: 'Errors (per interval)', targets: [`aliasByNode(${w}.errors.*, 2, 4)`, 'aliasByNode(dreamcatcher.carbon_input.*.injectErrors, 2, 3)'], unit: 'none', yAxis: 'zero' },
    ],
  };
}

const CHART_KEYS = ['unit', 'yAxis', 'yMin', 'yMax'];

// toFile: the charts on screen as a dashboard file's content.
export function toFile(title, charts, range) {
  const out = { title: title || 'Dashboard', charts: [] };
  if (range && range.from && range.from !== '-1h') out.from = range.from;
  if (range && range.until && range.until !== 'now') out.until = range.until;
  for (const c of charts) {
    if (!c.targets.length) continue;
    const o = { title: c.title || '', targets: [...c.targets] };
    for (const k of CHART_KEYS) if (c[k] !== undefined && c[k] !== null && c[k] !== '') o[k] = c[k];
    out.charts.push(o);
  }
  return out;
}

// fromFile: a dashboard's charts as the page keeps them.
export function chartsOf(dash) {
  return (dash.charts || []).map((c) => {
    const o = { targets: [...c.targets], title: c.title || '' };
    for (const k of CHART_KEYS) if (c[k] !== undefined) o[k] = c[k];
    return o;
  });
}
