// The metric list: a virtualised tree of dotted names (only the rows in
// view exist in the DOM), or, while a filter is typed, a virtualised flat
// list of the matching names with the terms highlighted. Keyboard: arrows,
// Home/End, PageUp/PageDown, Right/Left to open/close, Enter to chart,
// Shift+Enter or + to add to the active chart, i for the metric's info.
import { NameTree, Filter, terms } from './tree.js';

const ROW = 28;
const OVERSCAN = 8;

export class MetricList {
  constructor(el, { onSelect, onInfo }) {
    this.el = el;
    this.onSelect = onSelect;
    this.onInfo = onInfo;
    this.tree = new NameTree([]);
    this.filter = new Filter(this.tree);
    this.matches = null;
    this.terms = [];
    this.cursor = -1;
    this.selected = new Set();
    this.el.classList.add('mlist');
    this.el.setAttribute('role', 'tree');
    this.el.setAttribute('tabindex', '0');
    this.el.setAttribute('aria-label', 'Metrics');
    this.spacer = document.createElement('div');
    this.spacer.className = 'mlist-spacer';
    this.el.append(this.spacer);
    this.rendered = new Map();
    this.frame = 0;
    this.el.addEventListener('scroll', () => this.schedule());
    this.el.addEventListener('click', (e) => this.click(e));
    this.el.addEventListener('keydown', (e) => this.key(e));
    this.pointer = false;
    this.el.addEventListener('pointerdown', () => { this.pointer = true; });
    this.el.addEventListener('focus', () => {
      if (!this.pointer && this.cursor < 0 && this.length() > 0) this.moveTo(0);
      this.pointer = false;
    });
    new ResizeObserver(() => this.schedule()).observe(this.el);
  }

  setNames(names) {
    const open = this.tree.expandedPaths();
    const cursorPath = this.rowName(this.cursor);
    this.tree = new NameTree(names);
    if (names.length && open.length === 0 && this.tree.root.children && this.tree.root.children.length === 1) {
      // One top-level folder (e.g. "stats"): open it.
      open.push(this.tree.root.children[0].path);
    }
    this.tree.setExpanded(open);
    this.filter = new Filter(this.tree);
    const q = this.terms.join(' ');
    this.matches = this.filter.run(q);
    this.cursor = -1;
    if (cursorPath) this.cursor = this.indexOfName(cursorPath);
    this.rerender();
  }

  // setQuery filters the list; returns the number of matches (or all names).
  setQuery(q) {
    const before = this.matches;
    this.terms = terms(q);
    this.matches = this.filter.run(q);
    if (before !== this.matches) {
      this.cursor = this.length() > 0 && this.matches ? 0 : -1;
      this.el.scrollTop = 0;
    }
    this.rerender();
    return this.matches ? this.matches.length : this.tree.names.length;
  }

  setSelected(names) {
    this.selected = new Set(names);
    this.rerender();
  }

  total() { return this.tree.names.length; }

  length() { return this.matches ? this.matches.length : this.tree.rows.length; }

  // rowInfo describes visible row i.
  rowInfo(i) {
    if (this.matches) {
      const name = this.tree.names[this.matches[i]];
      return { name, path: name, label: name, leaf: true, expandable: false, depth: 0, expanded: false };
    }
    const n = this.tree.rows[i];
    return { name: n.path, path: n.path, label: n.name, leaf: n.leaf, expandable: !!n.children, depth: n.depth, expanded: n.expanded, node: n };
  }

  rowName(i) { return i >= 0 && i < this.length() ? this.rowInfo(i).path : null; }

  indexOfName(path) {
    if (this.matches) {
      for (let i = 0; i < this.matches.length; i++) if (this.tree.names[this.matches[i]] === path) return i;
      return -1;
    }
    return this.tree.rows.findIndex((n) => n.path === path);
  }

  // reveal opens the folders above a name and scrolls to it.
  reveal(name) {
    if (this.matches) return;
    const i = this.tree.reveal(name);
    if (i >= 0) {
      this.cursor = i;
      this.rerender();
      this.scrollToCursor();
    }
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  // rerender refreshes the rows in place (an element under the mouse must
  // survive between mousedown and click) and draws the rest.
  rerender() {
    const n = this.length();
    for (const [i, row] of this.rendered) {
      if (i < n) {
        this.fillRow(row, i);
      } else {
        row.remove();
        this.rendered.delete(i);
      }
    }
    this.spacer.style.height = `${this.length() * ROW}px`;
    this.el.setAttribute('aria-rowcount', String(this.length()));
    this.draw();
  }

  draw() {
    const n = this.length();
    const top = this.el.scrollTop;
    const h = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const last = Math.min(n - 1, Math.ceil((top + h) / ROW) + OVERSCAN);
    for (const [i, row] of this.rendered) {
      if (i < first || i > last) {
        row.remove();
        this.rendered.delete(i);
      }
    }
    for (let i = first; i <= last; i++) {
      if (!this.rendered.has(i)) {
        const row = this.makeRow(i);
        this.spacer.append(row);
        this.rendered.set(i, row);
      }
    }
    if (this.cursor >= 0 && this.cursor < n) {
      this.el.setAttribute('aria-activedescendant', `mrow-${this.cursor}`);
    } else {
      this.el.removeAttribute('aria-activedescendant');
    }
  }

  makeRow(i) {
    const row = document.createElement('div');
    this.fillRow(row, i);
    return row;
  }

  fillRow(row, i) {
    const info = this.rowInfo(i);
    row.replaceChildren();
    for (const a of ['aria-expanded', 'aria-selected']) row.removeAttribute(a);
    row.className = 'mrow';
    row.id = `mrow-${i}`;
    row.dataset.index = String(i);
    row.dataset.path = info.path;
    row.setAttribute('role', 'treeitem');
    row.setAttribute('aria-level', String(info.depth + 1));
    row.style.top = `${i * ROW}px`;
    row.style.paddingLeft = `${6 + info.depth * 14}px`;
    if (info.expandable) row.setAttribute('aria-expanded', String(info.expanded));
    if (info.leaf) row.classList.add('leaf');
    if (i === this.cursor) row.classList.add('cursor');
    if (this.selected.has(info.path)) {
      row.classList.add('selected');
      row.setAttribute('aria-selected', 'true');
    }
    const tog = document.createElement('span');
    tog.className = 'mrow-toggle';
    tog.setAttribute('aria-hidden', 'true');
    tog.textContent = info.expandable ? (info.expanded ? '▾' : '▸') : '';
    row.append(tog);
    const label = document.createElement('span');
    label.className = 'mrow-label';
    if (this.matches) highlight(label, info.label, this.terms);
    else label.textContent = info.label;
    label.title = info.path;
    row.append(label);
    if (info.expandable && !this.matches) {
      const count = document.createElement('span');
      count.className = 'mrow-count';
      count.textContent = String(info.node.count || 0);
      count.title = `${info.node.count || 0} metrics inside`;
      row.append(count);
    }
    if (info.leaf) {
      const add = document.createElement('button');
      add.className = 'mrow-add';
      add.type = 'button';
      add.tabIndex = -1;
      add.title = 'Add to the active chart (Shift+click, Shift+Enter)';
      add.setAttribute('aria-label', `Add ${info.path} to the active chart`);
      add.textContent = '+';
      row.append(add);
    }
  }

  click(e) {
    const row = e.target.closest('.mrow');
    if (!row) return;
    const i = +row.dataset.index;
    this.cursor = i;
    const info = this.rowInfo(i);
    if (e.target.closest('.mrow-add')) {
      this.onSelect(info.path, true);
    } else if (e.target.closest('.mrow-toggle') && info.expandable) {
      this.toggle(i);
    } else if (info.leaf) {
      this.onSelect(info.path, e.shiftKey || e.ctrlKey || e.metaKey);
    } else if (info.expandable) {
      this.toggle(i);
    }
    this.el.focus({ preventScroll: true });
    this.rerender();
  }

  toggle(i, open) {
    const info = this.rowInfo(i);
    if (!info.node || !info.node.children) return;
    info.node.expanded = open === undefined ? !info.node.expanded : open;
    this.tree.refreshRows();
    this.rerender();
  }

  moveTo(i) {
    const n = this.length();
    if (n === 0) return;
    this.cursor = Math.max(0, Math.min(n - 1, i));
    this.rerender();
    this.scrollToCursor();
  }

  scrollToCursor() {
    const y = this.cursor * ROW;
    const h = this.el.clientHeight;
    if (y < this.el.scrollTop) this.el.scrollTop = y;
    else if (y + ROW > this.el.scrollTop + h) this.el.scrollTop = y + ROW - h;
  }

  key(e) {
    const n = this.length();
    if (n === 0) return;
    const page = Math.max(1, Math.floor(this.el.clientHeight / ROW) - 1);
    const c = this.cursor < 0 ? 0 : this.cursor;
    const info = this.rowInfo(c);
    let handled = true;
    switch (e.key) {
      case 'ArrowDown': this.moveTo(this.cursor < 0 ? 0 : c + 1); break;
      case 'ArrowUp': this.moveTo(c - 1); break;
      case 'Home': this.moveTo(0); break;
      case 'End': this.moveTo(n - 1); break;
      case 'PageDown': this.moveTo(c + page); break;
      case 'PageUp': this.moveTo(c - page); break;
      case 'ArrowRight':
        if (info.expandable && !info.expanded) this.toggle(c, true);
        else if (info.expandable) this.moveTo(c + 1);
        break;
      case 'ArrowLeft':
        if (info.expandable && info.expanded) this.toggle(c, false);
        else if (info.node && info.node.parent && info.node.parent.path) this.moveTo(this.indexOfName(info.node.parent.path));
        break;
      case 'Enter':
      case ' ':
        if (info.leaf) this.onSelect(info.path, e.shiftKey);
        else this.toggle(c);
        break;
      case '+':
        if (info.leaf) this.onSelect(info.path, true);
        break;
      case 'i':
        if (info.leaf) this.onInfo(info.path);
        break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  }
}

function highlight(el, text, ts) {
  if (!ts.length) {
    el.textContent = text;
    return;
  }
  const lower = text.toLowerCase();
  const marks = new Uint8Array(text.length);
  for (const t of ts) {
    let from = 0;
    for (;;) {
      const at = lower.indexOf(t, from);
      if (at < 0) break;
      marks.fill(1, at, at + t.length);
      from = at + 1;
    }
  }
  let i = 0;
  while (i < text.length) {
    let j = i;
    while (j < text.length && marks[j] === marks[i]) j++;
    const part = text.slice(i, j);
    if (marks[i]) {
      const m = document.createElement('mark');
      m.textContent = part;
      el.append(m);
    } else {
      el.append(document.createTextNode(part));
    }
    i = j;
  }
}
