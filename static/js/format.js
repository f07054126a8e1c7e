// Human formatting: units implied by metric names, values, durations,
// byte sizes and local times. Pure functions, no DOM.
const d3 = window.d3;

const TIMER_COUNT = /^count(_\d+)?$|^count_ps$/;

// hostUnit: the unit of a host input metric (plugins/host/README.md) from
// the part of its name after hosts.<host>., or null when it is not one.
function hostUnit(parts) {
  const [group] = parts;
  const last = parts[parts.length - 1];
  if (last.endsWith('percent') || last === 'util') return '%';
  switch (group) {
    case 'cpu': return parts.length === 3 ? '%' : null;
    case 'load': return '';
    case 'memory': return 'B';
    case 'swap': return last === 'in' || last === 'out' ? 'B/s' : 'B';
    case 'disk': return last.startsWith('inodes') ? '' : 'B';
    case 'diskio':
      if (last === 'read_bytes' || last === 'write_bytes') return 'B/s';
      if (last.endsWith('_await')) return 'ms';
      if (last === 'in_progress') return '';
      return '/s';
    case 'net': return last.startsWith('bytes') ? 'B/s' : '/s';
    case 'processes': return last === 'forks' ? '/s' : '';
    default: return null;
  }
}

// A statsd timer, histogram or distribution (all under stats.timers): the
// name before the statistic says what was measured; only time-like names
// (or none of the value-like words) are milliseconds.
const NOT_TIME = /(^|[._-])(hist|histogram|histograms|dist|distribution|distributions|size|sizes|bytes?|len|length|count|items|rows|values?|amount|depth)($|[._-])/;

// unitFor guesses the unit of a metric from its name, the way Etsy statsd,
// the host input and common naming conventions imply it. Returns "ms",
// "s", "B", "B/s", "%", "/s" or "" (plain number).
export function unitFor(name) {
  const parts = name.toLowerCase().split('.');
  const last = parts[parts.length - 1];
  if (parts[0] === 'hosts' && parts.length >= 4) {
    const u = hostUnit(parts.slice(2));
    if (u !== null) return u;
  }
  const timers = parts.indexOf('timers');
  if (timers >= 0 && timers < parts.length - 2) {
    if (last === 'count_ps' || last.startsWith('count_ps')) return '/s';
    if (TIMER_COUNT.test(last) || last.startsWith('sum_squares') || last.startsWith('bin_')) return '';
    if (parts[parts.length - 2] === 'histogram') return '';
    const measured = parts.slice(timers + 1, -1).join('.');
    if (NOT_TIME.test(measured)) return /(^|[._-])bytes?($|[._-])/.test(measured) ? 'B' : '';
    return 'ms';
  }
  if (/(^|[_-])(ms|millis|milliseconds)$/.test(last) || last === 'latency' || last.endsWith('_latency')) return 'ms';
  if (/(^|[_-])(seconds|secs|sec)$/.test(last) || last === 'uptime') return 's';
  if (/(^|[_-])bytes?$/.test(last) || last === 'bytes') return 'B';
  if (/(^|[_-])(pct|percent|percentage)$/.test(last) || last === 'percent') return '%';
  if (/(^|[_-])(ps|per_second|persec|rate)$/.test(last)) return '/s';
  // Etsy statsd: stats.counters.X.rate, and the legacy namespace's stats.X (a rate).
  if (parts[0] === 'stats' && parts[1] === 'counters' && last === 'rate') return '/s';
  if (parts[0] === 'stats' && parts.length >= 2 && !['counters', 'gauges', 'timers', 'sets', 'statsd'].includes(parts[1])) return '/s';
  return '';
}

// commonUnit is the unit shared by all names, or "" when they differ.
export function commonUnit(names) {
  const units = new Set(names.map(unitFor));
  return units.size === 1 ? [...units][0] : '';
}

// unitForTarget: the unit of a Graphite expression's series, from the
// metric paths inside it ({a,b} read as a); "" when the function changes
// what the values mean, or the paths disagree.
const CHANGES_UNIT = /\b(count|countSeries|derivative|nonNegativeDerivative|perSecond|integral|integralByInterval|scale|scaleToSeconds|divideSeries|divideSeriesLists|multiplySeries|multiplySeriesLists|multiplySeriesWithWildcards|powSeries|pow|squareRoot|logarithm|log|invert|stddevSeries|stdev|holtWinters\w*|sortBy\w*|absolute|changed|isNonNull|transformNull|identity|timeFunction|time|sinFunction|sin|randomWalkFunction|randomWalk|constantLine|threshold)\s*\(/;
export function unitForTarget(target) {
  if (/\basPercent\s*\(/.test(target)) return '%';
  if (CHANGES_UNIT.test(target)) return '';
  const paths = target.replace(/"[^"]*"|'[^']*'/g, '').replace(/\{([^},]*)[^}]*\}/g, '$1')
    .match(/[A-Za-z0-9_*?[\]-]+(?:\.[A-Za-z0-9_*?[\]-]+)+/g) || [];
  return commonUnit(paths.length ? paths : [target]);
}

// UNITS: the units a chart can be given (dashboards' "unit" key).
export const UNITS = ['', 'ms', 's', 'B', 'B/s', '%', '/s'];

const MS_STEPS = [
  [86400000, 'd'], [3600000, 'h'], [60000, 'min'], [1000, 's'], [1, 'ms'], [0.001, 'µs'],
];
const S_STEPS = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's'], [0.001, 'ms'], [0.000001, 'µs']];
const B_STEPS = [[2 ** 40, 'TiB'], [2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB'], [1, 'B']];

function pick(steps, maxAbs) {
  for (const s of steps) if (maxAbs >= s[0]) return s;
  return steps[steps.length - 1];
}

// distinctFormat: the first of the formatters make(p), p = p0, p0+1, …
// that gives every tick its own label (at most 8 more digits).
function distinctFormat(ticks, p0, make) {
  let f = make(Math.max(0, p0));
  for (let p = Math.max(0, p0) + 1; p <= Math.max(0, p0) + 8; p++) {
    if (new Set(ticks.map(f)).size === ticks.length) break;
    f = make(p);
  }
  return f;
}

// axisFormatter returns a tick formatter for a linear scale's ticks with a
// single scaled unit chosen from the largest tick (so all ticks agree),
// with just enough digits that no two ticks read the same.
export function axisFormatter(scale, unit, count) {
  const ticks = scale.ticks(count);
  const maxAbs = d3.max(ticks, (t) => Math.abs(t)) || 0;
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  const rate = unit === 'B/s' ? '/s' : '';
  const scaled = (steps) => {
    const [div, suffix] = pick(steps, maxAbs);
    return distinctFormat(ticks, d3.precisionFixed(step / div), (p) => {
      const f = d3.format(`.${p}f`);
      return (v) => (v === 0 ? '0' : `${f(v / div)} ${suffix}${rate}`);
    });
  };
  if (unit === 'ms') return scaled(MS_STEPS);
  if (unit === 's') return scaled(S_STEPS);
  if (unit === 'B' || unit === 'B/s') return scaled(B_STEPS);
  const suffix = unit === '%' ? ' %' : unit === '/s' ? '/s' : '';
  if (maxAbs >= 1e4 || (maxAbs > 0 && maxAbs < 1e-2)) {
    // d3.precisionPrefix is the digits after the point for formatPrefix
    // (not significant digits for "s").
    return distinctFormat(ticks, d3.precisionPrefix(step, maxAbs), (p) => {
      const f = d3.formatPrefix(`.${p}`, maxAbs);
      return (v) => (v === 0 ? '0' : f(v).replace(/(\d)([yzafpnµmkMGTPEZY])$/, '$1 $2') + suffix);
    });
  }
  return distinctFormat(ticks, d3.precisionFixed(step), (p) => {
    const f = d3.format(`,.${p}f`);
    return (v) => f(v) + suffix;
  });
}

const sig = d3.format('.4~r');
const si = d3.format('.4~s');

// formatValue formats one value with its unit, scaled to itself.
export function formatValue(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  const a = Math.abs(v);
  const scaled = (steps) => {
    if (a === 0) return `0 ${steps.find((s) => s[0] === 1)[1]}`;
    const [div, suffix] = pick(steps, a);
    return `${sig(v / div)} ${suffix}`;
  };
  if (unit === 'ms') return scaled(MS_STEPS);
  if (unit === 's') return scaled(S_STEPS);
  if (unit === 'B') return scaled(B_STEPS);
  if (unit === 'B/s') return `${scaled(B_STEPS)}/s`;
  const suffix = unit === '%' ? ' %' : unit === '/s' ? '/s' : '';
  const num = a >= 1e5 ? si(v).replace(/(\d)([kMGTPE])$/, '$1 $2') : sig(v);
  return num + suffix;
}

// formatDuration: 10 → "10 s", 60 → "1 min", 86400 → "1 d", 31536000 → "1 y".
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const units = [[31536000, 'y'], [604800, 'w'], [86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  for (let i = 0; i < units.length; i++) {
    const [n, u] = units[i];
    if (seconds < n) continue;
    if (seconds % n === 0) return `${seconds / n} ${u}`;
    // 90 s, 90 min, 30 d rather than 1.5 min, 1.5 h, 4.29 w.
    for (const [m, v] of units.slice(i + 1)) {
      if (seconds % m === 0 && seconds / m < 100) return `${seconds / m} ${v}`;
    }
    return `${d3.format('.3~r')(seconds / n)} ${u}`;
  }
  return `${seconds} s`;
}

export function formatBytes(n) {
  if (n === null || n === undefined) return '—';
  const [div, suffix] = pick(B_STEPS, Math.abs(n));
  return div === 1 ? `${n} B` : `${d3.format('.3~r')(n / div)} ${suffix}`;
}

export const formatTime = d3.timeFormat('%Y-%m-%d %H:%M:%S');
export const formatClock = d3.timeFormat('%H:%M:%S');
export const formatShortTime = d3.timeFormat('%b %d %H:%M');

// formatAgo: how long ago a Unix time was, relative to now (seconds).
export function formatAgo(ts, now = Date.now() / 1000) {
  const d = Math.round(now - ts);
  if (d < 0) return 'in the future';
  if (d < 5) return 'just now';
  const units = [[31536000, 'y'], [86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  for (const [n, u] of units) if (d >= n) return `${Math.floor(d / n)} ${u} ago`;
  return 'just now';
}

// The time zone shown next to ranges, e.g. "UTC+01:00".
export function zoneLabel(date = new Date()) {
  const off = -date.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

// Local-time tick labels, 24-hour clock, the coarsest meaningful unit.
const fSec = d3.timeFormat(':%S');
const fMin = d3.timeFormat('%H:%M');
const fDay = d3.timeFormat('%b %d');
const fMonth = d3.timeFormat('%B');
const fYear = d3.timeFormat('%Y');
export function timeTick(date) {
  if (d3.timeMinute(date) < date) return fSec(date);
  if (d3.timeDay(date) < date) return fMin(date);
  if (d3.timeMonth(date) < date) return fDay(date);
  if (d3.timeYear(date) < date) return fMonth(date);
  return fYear(date);
}
