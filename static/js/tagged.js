// Tagged series (Graphite 1.1 name;k=v…, docs/api.md): listed grouped by
// name with their tags as chips, never as path fragments. The filter box's
// terms apply: k=v must be a tag of the series (name=… the name), any
// other term a case-insensitive substring of the series.
import { api } from './api.js';

const REFRESH_MS = 60000;

export function taggedMatches(s, terms) {
  const lower = s.series.toLowerCase();
  return terms.every((term) => {
    const eq = term.indexOf('=');
    if (eq > 0) {
      const k = term.slice(0, eq);
      const v = term.slice(eq + 1);
      return k === 'name' ? s.name === v : s.tags[k] === v;
    }
    return lower.includes(term.toLowerCase());
  });
}

export class TaggedList {
  constructor(el, { onSelect }) {
    this.el = el;
    this.onSelect = onSelect;
    this.groups = [];
    this.query = '';
    this.el.addEventListener('click', (e) => {
      const row = e.target.closest('.trow');
      if (row) this.onSelect(row.dataset.series, e.shiftKey);
    });
    this.load();
  }

  async load() {
    try {
      const body = await api.tagged();
      this.groups = body.groups || [];
    } catch {
      // the name list reports the server's state; keep the last answer
    }
    this.render();
    setTimeout(() => this.load(), REFRESH_MS);
  }

  setQuery(q) {
    this.query = q;
    this.render();
  }

  render() {
    const terms = this.query.split(/\s+/).filter(Boolean);
    const el = this.el;
    el.replaceChildren();
    let shown = 0;
    for (const g of this.groups) {
      const rows = g.series.filter((s) => taggedMatches({ ...s, name: g.name }, terms));
      if (rows.length === 0) continue;
      shown += rows.length;
      const group = document.createElement('div');
      group.className = 'tgroup';
      const head = document.createElement('div');
      head.className = 'tgroup-name';
      head.textContent = g.name;
      const count = document.createElement('span');
      count.className = 'muted';
      count.textContent = ` ${rows.length}`;
      head.append(count);
      group.append(head);
      for (const s of rows) {
        const row = document.createElement('button');
        row.type = 'button';
        row.className = 'trow';
        row.dataset.series = s.series;
        row.title = s.series;
        for (const k of Object.keys(s.tags).sort()) {
          const chip = document.createElement('span');
          chip.className = 'tag';
          chip.textContent = `${k}=${s.tags[k]}`;
          row.append(chip);
        }
        group.append(row);
      }
      el.append(group);
    }
    if (shown > 0) {
      const title = document.createElement('div');
      title.className = 'tagged-title';
      title.textContent = `Tagged series (${shown})`;
      el.prepend(title);
    }
    el.hidden = shown === 0;
  }
}
