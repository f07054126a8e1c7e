// The model behind the metric list: a tree of dotted names, its visible
// rows (expanded folders), and the in-memory filter (whitespace-separated
// terms, all must match, case-insensitive substring). No DOM.

export class NameTree {
  constructor(names) {
    this.names = names;
    this.lower = names.map((n) => n.toLowerCase());
    this.nameSet = new Set(names);
    this.root = { name: '', path: '', depth: -1, leaf: false, children: [], expanded: true };
    const byPath = new Map();
    for (const name of names) {
      let parent = this.root;
      let start = 0;
      let depth = 0;
      for (;;) {
        const dot = name.indexOf('.', start);
        const end = dot < 0 ? name.length : dot;
        const path = name.slice(0, end);
        let node = byPath.get(path);
        if (!node) {
          node = { name: name.slice(start, end), path, depth, leaf: false, children: null, expanded: false, parent };
          byPath.set(path, node);
          (parent.children ||= []).push(node);
        }
        if (dot < 0) {
          node.leaf = true;
          break;
        }
        parent = node;
        start = dot + 1;
        depth++;
      }
    }
    this.byPath = byPath;
    sortChildren(this.root);
    this.rows = [];
    this.refreshRows();
  }

  // refreshRows recomputes the visible rows: every child of an expanded node.
  refreshRows() {
    const rows = [];
    const stack = [[this.root.children || [], 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [list, i] = top;
      if (i >= list.length) {
        stack.pop();
        continue;
      }
      top[1] = i + 1;
      const node = list[i];
      rows.push(node);
      if (node.expanded && node.children) stack.push([node.children, 0]);
    }
    this.rows = rows;
  }

  expandedPaths() {
    const out = [];
    for (const node of this.byPath.values()) if (node.expanded) out.push(node.path);
    return out;
  }

  setExpanded(paths) {
    for (const p of paths) {
      const n = this.byPath.get(p);
      if (n && n.children) n.expanded = true;
    }
    this.refreshRows();
  }

  // reveal expands the ancestors of path so its row is visible; returns
  // the row index or -1.
  reveal(path) {
    const node = this.byPath.get(path);
    if (!node) return -1;
    for (let p = node.parent; p && p !== this.root; p = p.parent) p.expanded = true;
    this.refreshRows();
    return this.rows.indexOf(node);
  }
}

function sortChildren(node) {
  const stack = [node];
  while (stack.length) {
    const n = stack.pop();
    if (!n.children) continue;
    n.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of n.children) if (c.children) stack.push(c);
  }
}

export function terms(q) {
  return q.toLowerCase().split(/\s+/).filter(Boolean);
}

// Filter keeps the last result so that typing more of a query only scans
// the previous matches. A fresh query searches one lower-cased string of
// all names for its longest term (indexOf over one string is much faster
// than 100,000 includes calls) and checks the other terms on those hits.
export class Filter {
  constructor(tree) {
    this.tree = tree;
    this.lastTerms = [];
    this.last = null; // indices into tree.names, or null for "all"
    this.blob = null;
    this.starts = null;
  }

  index() {
    if (this.blob !== null) return;
    const lower = this.tree.lower;
    this.starts = new Int32Array(lower.length + 1);
    let off = 0;
    for (let i = 0; i < lower.length; i++) {
      this.starts[i] = off;
      off += lower[i].length + 1;
    }
    this.starts[lower.length] = off;
    this.blob = lower.join('\n');
  }

  // scan returns the indices of the names that contain term, in order.
  scan(term) {
    this.index();
    const { blob, starts } = this;
    const out = [];
    let i = 0;
    let pos = blob.indexOf(term);
    while (pos !== -1) {
      while (starts[i + 1] <= pos) i++;
      out.push(i);
      pos = blob.indexOf(term, starts[i + 1]);
    }
    return out;
  }

  run(q) {
    const t = terms(q);
    if (t.length === 0) {
      this.lastTerms = [];
      this.last = null;
      return null;
    }
    const lower = this.tree.lower;
    const refines = this.last !== null && t.length >= this.lastTerms.length &&
      this.lastTerms.every((old, i) => t[i].includes(old));
    let out;
    if (refines) {
      out = [];
      for (const i of this.last) if (matches(lower[i], t)) out.push(i);
    } else {
      const longest = t.reduce((a, b) => (b.length > a.length ? b : a));
      const rest = t.filter((x) => x !== longest);
      out = this.scan(longest);
      if (rest.length) out = out.filter((i) => matches(lower[i], rest));
    }
    this.lastTerms = t;
    this.last = out;
    return out;
  }
}

function matches(s, t) {
  for (let j = 0; j < t.length; j++) if (!s.includes(t[j])) return false;
  return true;
}
