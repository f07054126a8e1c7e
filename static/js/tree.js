// The model behind the metric list: a tree of dotted names, its visible
// rows (expanded folders), and the in-memory filter (whitespace-separated
// terms, all must match, case-insensitive substring). No DOM.

export class NameTree {
  constructor(names) {
    this.names = names;
    this.lower = names.map((n) => n.toLowerCase());
    this.root = { name: '', path: '', depth: -1, leaf: false, children: null, expanded: true, parent: null, kids: null };
    // Sorted neighbours share leading folders: the dots inside the common
    // prefix with the previous name say how many nodes of its chain to
    // reuse; only the rest is looked up (each folder keeps a Map of its
    // children, since "a.b-x" sorts between "a.b" and "a.b.c").
    const chain = [];
    let prev = '';
    for (const name of names) {
      let cp = 0;
      let k = 0;
      const lim = Math.min(name.length, prev.length);
      while (cp < lim && name.charCodeAt(cp) === prev.charCodeAt(cp)) {
        if (name.charCodeAt(cp) === 46) k++;
        cp++;
      }
      let parent = k > 0 ? chain[k - 1] : this.root;
      let start = 0;
      if (k > 0) start = nthDot(name, k) + 1;
      for (let j = k; ; j++) {
        const dot = name.indexOf('.', start);
        const end = dot < 0 ? name.length : dot;
        const part = name.slice(start, end);
        const kids = parent.kids || (parent.kids = new Map());
        let node = kids.get(part);
        if (!node) {
          node = {
            name: part, path: dot < 0 ? name : name.slice(0, end), depth: j, leaf: false,
            children: null, expanded: false, parent, kids: null, count: 0,
          };
          kids.set(part, node);
          (parent.children || (parent.children = [])).push(node);
        }
        chain[j] = node;
        parent = node;
        if (dot < 0) break;
        start = dot + 1;
      }
      parent.leaf = true;
      // Every folder on the way counts this metric (its badge).
      for (let j = 0; j < parent.depth; j++) chain[j].count++;
      prev = name;
    }
    sortChildren(this.root);
    this.rows = [];
    this.refreshRows();
  }

  // find returns the node of a dotted path, or undefined.
  find(path) {
    let node = this.root;
    for (const part of path.split('.')) {
      node = node.kids && node.kids.get(part);
      if (!node) return undefined;
    }
    return node;
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
    const stack = [this.root];
    while (stack.length) {
      const n = stack.pop();
      if (!n.children) continue;
      if (n !== this.root && n.expanded) out.push(n.path);
      for (const c of n.children) if (c.children) stack.push(c);
    }
    return out;
  }

  setExpanded(paths) {
    for (const p of paths) {
      const n = this.find(p);
      if (n && n.children) n.expanded = true;
    }
    this.refreshRows();
  }

  // reveal expands the ancestors of path so its row is visible; returns
  // the row index or -1.
  reveal(path) {
    const node = this.find(path);
    if (!node) return -1;
    for (let p = node.parent; p && p !== this.root; p = p.parent) p.expanded = true;
    this.refreshRows();
    return this.rows.indexOf(node);
  }
}

function nthDot(s, n) {
  let at = -1;
  for (let i = 0; i < n; i++) at = s.indexOf('.', at + 1);
  return at;
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
