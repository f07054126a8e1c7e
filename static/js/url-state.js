// The view's state in the address bar: charts (each a list of metric
// names), time range, zoom, refresh interval, filter. A view can be
// bookmarked and the back button walks through it.
//
//   ?d=mine (a dashboard) or ?c=a.b.c,x.y&c=foo.bar&from=-1h&until=now&zoom=1700000000_1700003600&refresh=10&q=cpu
//
// Names inside one c= are percent-encoded one by one, so a ',' inside a
// name survives.

export const DEFAULT_FROM = '-1h';
export const DEFAULT_UNTIL = 'now';
export const DEFAULT_REFRESH = 10;

// A chart's unit picked by hand (units=, one per chart, '' automatic).
const UNITS = ['none', 'ms', 's', 'B', 'B/s', '%', '/s'];

const RELATIVE = /^-(\d+)(s|sec|secs|seconds?|min|mins|minutes?|h|hours?|d|days?|w|weeks?|mon|months?|y|years?)$/;

export function validTime(s) {
  return s === 'now' || s === 'all' || /^\d{1,12}$/.test(s) || RELATIVE.test(s);
}

export function parseState(search) {
  const st = {
    charts: [], from: DEFAULT_FROM, until: DEFAULT_UNTIL, zoom: null,
    refresh: DEFAULT_REFRESH, q: '', mdp: null, dashboard: null, units: [],
  };
  const s = search.startsWith('?') ? search.slice(1) : search;
  for (const part of s.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = safeDecode(eq < 0 ? part : part.slice(0, eq));
    const raw = eq < 0 ? '' : part.slice(eq + 1);
    const val = safeDecode(raw.replace(/\+/g, ' '));
    switch (key) {
      case 'c': {
        const names = raw.split(',').map((n) => safeDecode(n).trim()).filter(Boolean);
        if (names.length) st.charts.push([...new Set(names)]);
        break;
      }
      case 'from': if (validTime(val) && val !== 'now') st.from = val; break;
      case 'until': if (validTime(val) && val !== 'all') st.until = val; break;
      case 'zoom': {
        const m = /^(\d{1,12})_(\d{1,12})$/.exec(val);
        if (m && +m[1] < +m[2]) st.zoom = [+m[1], +m[2]];
        break;
      }
      case 'refresh':
        if (val === 'off') st.refresh = 0;
        else if (/^\d{1,5}$/.test(val) && +val >= 1) st.refresh = +val;
        break;
      case 'q': st.q = val; break;
      case 'units':
        st.units = raw.split(',').map((u) => safeDecode(u)).map((u) => (UNITS.includes(u) ? u : ''));
        break;
      case 'd': if (/^@?[A-Za-z0-9][A-Za-z0-9_.-]{0,150}$/.test(val)) st.dashboard = val; break;
      case 'mdp':
        if (val === 'off') st.mdp = 'off';
        else if (/^\d{1,7}$/.test(val) && +val > 0) st.mdp = +val;
        break;
      default: break;
    }
  }
  return st;
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function enc(s) {
  return encodeURIComponent(s).replace(/%2F/g, '/');
}

export function formatState(st) {
  const parts = [];
  // A dashboard's charts come from it: its name stands for them.
  if (st.dashboard) parts.push(`d=${enc(st.dashboard)}`);
  else {
    const units = [];
    st.charts.forEach((names, i) => {
      if (!names.length) return;
      parts.push(`c=${names.map(enc).join(',')}`);
      units.push((st.meta && st.meta[i] && st.meta[i].unit) || (!st.meta && st.units && st.units[i]) || '');
    });
    // The charts' units picked by hand, in chart order ('' automatic).
    if (units.some(Boolean)) parts.push(`units=${units.map(enc).join(',')}`);
  }
  if (st.from !== DEFAULT_FROM) parts.push(`from=${enc(st.from)}`);
  if (st.until !== DEFAULT_UNTIL) parts.push(`until=${enc(st.until)}`);
  if (st.zoom) parts.push(`zoom=${st.zoom[0]}_${st.zoom[1]}`);
  if (st.refresh !== DEFAULT_REFRESH) parts.push(`refresh=${st.refresh === 0 ? 'off' : st.refresh}`);
  if (st.mdp !== null) parts.push(`mdp=${st.mdp}`);
  if (st.q) parts.push(`q=${enc(st.q)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

const UNIT_SECONDS = { s: 1, min: 60, h: 3600, d: 86400, w: 604800, mon: 2592000, y: 31536000 };

function unitSeconds(u) {
  if (u.startsWith('mon')) return UNIT_SECONDS.mon;
  if (u.startsWith('min')) return UNIT_SECONDS.min;
  return UNIT_SECONDS[u[0]];
}

// resolveTime turns a state time into Unix seconds. maxRetention is used
// for "all" (the whole retention of the charted metrics).
export function resolveTime(s, now, maxRetention) {
  if (s === 'now') return now;
  if (s === 'all') return now - (maxRetention || 365 * 86400);
  if (/^\d+$/.test(s)) return +s;
  const m = RELATIVE.exec(s);
  if (m) return now - (+m[1]) * unitSeconds(m[2]);
  return now - 3600;
}

// endsNow: the range follows the clock (auto-refresh makes sense).
export function endsNow(st) {
  return !st.zoom && st.until === 'now';
}
