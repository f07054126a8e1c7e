// The whisperserver JSON API (docs/api.md): fetch with a timeout, errors
// turned into ApiError with a readable message.

export class ApiError extends Error {
  constructor(message, { status = 0, unreachable = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.unreachable = unreachable;
  }
}

const TIMEOUT_MS = 20000;

async function getJSON(path, { signal, timeout = TIMEOUT_MS } = {}) {
  const ctrl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; ctrl.abort(); }, timeout);
  const onAbort = () => ctrl.abort();
  if (signal) {
    if (signal.aborted) ctrl.abort();
    signal.addEventListener('abort', onAbort, { once: true });
  }
  let res;
  try {
    res = await fetch(path, { signal: ctrl.signal, cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch (err) {
    if (signal && signal.aborted) throw new DOMException('aborted', 'AbortError');
    if (timedOut) throw new ApiError(`no answer within ${timeout / 1000} s`, { unreachable: true });
    throw new ApiError(`cannot connect (${err.message})`, { unreachable: true });
  } finally {
    clearTimeout(timer);
    if (signal) signal.removeEventListener('abort', onAbort);
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const msg = body && typeof body.error === 'string' ? body.error : `HTTP ${res.status} ${res.statusText}`;
    throw new ApiError(msg, { status: res.status, unreachable: res.status === 502 || res.status === 504 });
  }
  if (body === null || typeof body !== 'object') {
    throw new ApiError(`${path}: the server's answer is not JSON`, { status: res.status });
  }
  return body;
}

function query(params) {
  const parts = [];
  for (const [k, v] of params) {
    if (v === undefined || v === null || v === '') continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export const api = {
  health: (opts) => getJSON('healthz', opts),
  metrics: (q, opts) => getJSON(`api/metrics${query([['q', q]])}`, opts),
  tagged: (opts) => getJSON('api/tagged', opts),
  metric: (name, opts) => getJSON(`api/metric/${encodeURIComponent(name)}`, opts),
  data: (targets, { from, until, archive, maxDataPoints }, opts) =>
    getJSON(`api/data${query([
      ...targets.map((t) => ['target', t]),
      ['from', from], ['until', until], ['archive', archive], ['maxDataPoints', maxDataPoints],
    ])}`, opts),
  dashboards: (opts) => getJSON('api/dashboards', opts),
  dashboard: (name, opts) => getJSON(`api/dashboards/${encodeURIComponent(name)}`, opts),
  // render: Graphite expressions through the Graphite /render API, turned
  // into /api/data's shape ({from, until, series: [{name, start, step, values}]}).
  render: async (targets, { from, until, maxDataPoints }, opts) => {
    const body = await getJSON(`render${query([
      ...targets.map((t) => ['target', t]),
      ['from', from], ['until', until], ['maxDataPoints', maxDataPoints], ['format', 'json'],
    ])}`, opts);
    if (!Array.isArray(body)) throw new ApiError('render: the answer is not a list of series');
    return { from, until, series: body.map((s) => fromGraphite(s, from, until)) };
  },
};

// fromGraphite: one Graphite JSON series ({target, datapoints: [[v, t]…]}).
export function fromGraphite(s, from, until) {
  const dp = Array.isArray(s.datapoints) ? s.datapoints : [];
  const start = dp.length ? dp[0][1] : from;
  const step = dp.length > 1 ? dp[1][1] - dp[0][1] : Math.max(1, until - from);
  return { name: String(s.target), start, step, values: dp.map((p) => (p[0] === null || !Number.isFinite(p[0]) ? null : p[0])), archive: null };
}

// plainName: a target that is one metric name (no function, no wildcard),
// read through /api/data (with its whisper header); anything else goes
// through the Graphite render API.
export function plainName(t) {
  return !/[(){}[\]*?]/.test(t);
}
