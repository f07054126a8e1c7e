// The metric info panel: the whisper header in human units, as the
// original Dreamcatcher page showed it, plus every archive's data span.
import { formatAgo, formatBytes, formatDuration, formatTime, unitFor } from './format.js';

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function when(ts) {
  if (ts === null || ts === undefined) return 'no data';
  return `${formatTime(new Date(ts * 1000))} (${formatAgo(ts)})`;
}

const UNIT_NAMES = { ms: 'milliseconds', s: 'seconds', B: 'bytes', 'B/s': 'bytes per second', '%': 'percent', '/s': 'per second' };

export function renderInfo(container, name, info, error) {
  container.replaceChildren();
  container.append(el('h2', { id: 'info-title' }, name));
  if (error) {
    container.append(el('p', { class: 'error-text' }, error));
    return;
  }
  const dl = el('dl', { class: 'info-grid' });
  const add = (k, v, title) => {
    const dt = el('dt', {}, k);
    const dd = el('dd', title ? { title } : {}, v);
    dl.append(dt, dd);
  };
  add('Aggregation method', info.aggregationMethod,
    'How points are combined when rolled up into a lower-precision archive (and for maxDataPoints)');
  // Whisper stores it as a 32-bit float: 0.3 reads back as 0.30000001….
  const xff = +(+info.xFilesFactor).toPrecision(4);
  add('xFilesFactor', `${xff} — a rolled-up point needs ${+(xff * 100).toPrecision(4)} % of its points known`);
  add('Max retention', formatDuration(info.maxRetention));
  const u = unitFor(name);
  add('Unit (from the name)', u ? UNIT_NAMES[u] : 'none implied');
  if (info.size !== undefined) add('File size', formatBytes(info.size));
  if (info.modified) add('Last written', when(info.modified));
  const archives = info.archives || [];
  const newest = Math.max(...archives.map((a) => a.newest ?? -Infinity));
  const oldest = Math.min(...archives.map((a) => a.oldest ?? Infinity));
  add('Oldest data', Number.isFinite(oldest) ? when(oldest) : 'no data');
  add('Most recent data', Number.isFinite(newest) ? when(newest) : 'no data');
  container.append(dl);

  const table = el('table', { class: 'archives' });
  const cap = el('caption', {}, 'Archives (highest precision first)');
  table.append(cap);
  const head = el('tr');
  for (const h of ['#', 'Resolution', 'Retention', 'Points', 'Oldest data', 'Most recent data']) head.append(el('th', { scope: 'col' }, h));
  const thead = el('thead');
  thead.append(head);
  table.append(thead);
  const tbody = el('tbody');
  for (const a of archives) {
    const tr = el('tr');
    tr.append(
      el('td', {}, String(a.index)),
      el('td', {}, `${formatDuration(a.secondsPerPoint)} per point`),
      el('td', {}, formatDuration(a.retention)),
      el('td', { class: 'num' }, a.points.toLocaleString()),
      el('td', {}, when(a.oldest)),
      el('td', {}, when(a.newest)),
    );
    tbody.append(tr);
  }
  table.append(tbody);
  const wrap = el('div', { class: 'table-wrap' });
  wrap.append(table);
  container.append(wrap);
}
