// Human formatting: units implied by metric names, values, durations,
// byte sizes and local times. Pure functions, no DOM.
const d3 = window.d3;

const TIMER_COUNT = /^count(_\d+)?$|^count_ps$/;

// unitFor guesses the unit of a metric from its name, the way Etsy statsd
// and common naming conventions imply it. Returns "ms", "s", "B", "%", "/s"
// or "" (plain number).
export function unitFor(name) {
  const parts = name.toLowerCase().split('.');
  const last = parts[parts.length - 1];
  const timers = parts.indexOf('timers');
  if (timers >= 0 && timers < parts.length - 2) {
    if (last === 'count_ps' || last.startsWith('count_ps')) return '/s';
    if (TIMER_COUNT.test(last) || last.startsWith('sum_squares') || last.startsWith('bin_')) return '';
    if (parts[parts.length - 2] === 'histogram') return '';
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

const MS_STEPS = [
  [86400000, 'd'], [3600000, 'h'], [60000, 'min'], [1000, 's'], [1, 'ms'], [0.001, 'µs'],
];
const S_STEPS = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's'], [0.001, 'ms'], [0.000001, 'µs']];
const B_STEPS = [[2 ** 40, 'TiB'], [2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB'], [1, 'B']];

function pick(steps, maxAbs) {
  for (const s of steps) if (maxAbs >= s[0]) return s;
  return steps[steps.length - 1];
}

// axisFormatter returns a tick formatter for a linear scale's ticks with a
// single scaled unit chosen from the largest tick (so all ticks agree).
export function axisFormatter(scale, unit, count) {
  const ticks = scale.ticks(count);
  const maxAbs = d3.max(ticks, (t) => Math.abs(t)) || 0;
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  const scaled = (steps) => {
    const [div, suffix] = pick(steps, maxAbs);
    const f = d3.format(`.${d3.precisionFixed(step / div)}f`);
    return (v) => (v === 0 ? '0' : `${f(v / div)} ${suffix}`);
  };
  if (unit === 'ms') return scaled(MS_STEPS);
  if (unit === 's') return scaled(S_STEPS);
  if (unit === 'B') return scaled(B_STEPS);
  const suffix = unit === '%' ? '%' : unit === '/s' ? '/s' : '';
  if (maxAbs >= 1e4) {
    const f = d3.format(`.${d3.precisionPrefix(step, maxAbs)}s`);
    const fs = (v) => f(v).replace(/(\d)([kMGTPE])$/, '$1 $2');
    return (v) => fs(v) + suffix;
  }
  const f = scale.tickFormat(count);
  return (v) => f(v) + suffix;
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
