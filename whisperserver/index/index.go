// Package index keeps the tree of metric names under a whisper folder in
// memory, for globbing (/metrics/find, /render targets) and listing. It is
// built by one walk at start, then kept current incrementally: fsnotify
// events update single folders, every folder a query enumerates is checked
// by its mtime (one stat), and a periodic mtime-driven rescan (only folders
// whose mtime changed are read again) catches anything the watcher missed.
// No request ever walks the whole folder.
package index

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/fsnotify/fsnotify"
)

// racyWindow is how long after its last change a folder's mtime is not
// trusted to reveal further changes.
const racyWindow = 2 * time.Second

// ErrTooMany is returned when a query matches more nodes than allowed.
var ErrTooMany = errors.New("too many matches")

// ErrBadPattern is returned for a pattern that is not valid glob syntax.
var ErrBadPattern = errors.New("bad pattern")

type node struct {
	dirs   map[string]*node
	leaves map[string]*leafInfo
	mtime  time.Time
	read   bool
	racy   bool // read so soon after a change that a later one may share the mtime
	// kids is the sorted union of dirs and leaves, nil when stale. It is
	// never changed in place, only replaced, so a reader may keep it.
	kids []Entry
}

func newNode() *node { return &node{dirs: map[string]*node{}, leaves: map[string]*leafInfo{}} }

// Options tunes an Index.
type Options struct {
	// RescanInterval is the period of the mtime-driven fallback rescan
	// (0: 60 s; negative: never).
	RescanInterval time.Duration
	// NoWatch disables fsnotify (the rescan and per-query checks remain).
	NoWatch bool
	Logger  *slog.Logger
}

// Index is the in-memory name tree of one whisper folder.
type Index struct {
	root string
	opts Options
	log  *slog.Logger

	mu    sync.RWMutex
	top   *node
	names []string // sorted leaf names; nil until first asked for
	// Changes since names was built, merged in by the next Names().
	pendingAdd []string
	pendingDel map[string]struct{}
	count      int
	// statGen is bumped by every rescan: a leaf's remembered lstat is
	// taken again after one (see LeafStat).
	statGen atomic.Uint64
	tags    *tagIndex // series under _tagged/, by tag and value

	watcher       *fsnotify.Watcher
	watchFailures atomic.Int64
	rootMissing   atomic.Bool // the folder itself is gone (polled for)
	cancel        context.CancelFunc
	done          chan struct{}
}

// New builds the index of root (one walk) and starts watching it.
func New(root string, opts Options) (*Index, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	// A folder that does not exist yet (whisperserver started before
	// hekad wrote anything) is no error: the index is empty until the
	// folder appears (refreshDir logs it; loop polls for it).
	st, err := os.Stat(abs)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("whisper folder: %w", err)
	}
	if err == nil && !st.IsDir() {
		return nil, fmt.Errorf("whisper folder %s is not a folder", abs)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RescanInterval == 0 {
		opts.RescanInterval = time.Minute
	}
	x := &Index{root: abs, opts: opts, log: opts.Logger, top: newNode(), tags: newTagIndex(), done: make(chan struct{})}
	if !opts.NoWatch {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			x.log.Warn("fsnotify unavailable; relying on rescans", "error", err)
		} else {
			x.watcher = w
		}
	}
	x.refreshTree(x.top, nil, true)
	ctx, cancel := context.WithCancel(context.Background())
	x.cancel = cancel
	go x.loop(ctx)
	return x, nil
}

// Root is the indexed folder.
func (x *Index) Root() string { return x.root }

// Close stops the watcher and the rescans.
func (x *Index) Close() error {
	x.cancel()
	<-x.done
	if x.watcher != nil {
		return x.watcher.Close()
	}
	return nil
}

func (x *Index) dirPath(parts []string) string {
	return filepath.Join(append([]string{x.root}, parts...)...)
}

// refreshDir reads folder parts again if its mtime changed (or force).
// It returns the node's child folders to descend into.
func (x *Index) refreshDir(n *node, parts []string, force bool) map[string]*node {
	path := x.dirPath(parts)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if len(parts) == 0 && !x.rootMissing.Swap(true) {
			x.log.Warn("whisper folder does not exist (yet); serving empty answers until it appears", "path", path)
		}
		// Removed (the watcher's event may still be on its way): the
		// folder's names go now, so no query answers with them.
		x.mu.Lock()
		x.apply(n, parts, nil, nil)
		n.read, n.racy, n.mtime = false, false, time.Time{}
		x.mu.Unlock()
		return nil
	}
	if err != nil {
		return nil
	}
	if len(parts) == 0 && x.rootMissing.Swap(false) {
		x.log.Info("whisper folder appeared; indexing it", "path", path)
	}
	x.mu.RLock()
	fresh := n.read && !n.racy && st.ModTime().Equal(n.mtime)
	firstRead := !n.read
	x.mu.RUnlock()
	if fresh && !force {
		return nil
	}
	// Watch a folder before its first read: a file created between the read
	// and the watch would otherwise go unseen until the next rescan.
	if x.watcher != nil && firstRead {
		if err := x.watcher.Add(path); err != nil && x.watchFailures.Add(1) == 1 {
			// Logged once: typically fs.inotify.max_user_watches is too low
			// for the folder count; queries and rescans keep the index live.
			x.log.Warn("index: cannot watch some folders; relying on per-query checks and rescans (raise fs.inotify.max_user_watches)",
				"path", path, "error", err)
		}
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		x.log.Warn("index: reading folder", "path", path, "error", err)
		return nil
	}
	dirs := map[string]struct{}{}
	leaves := map[string]struct{}{}
	for _, e := range entries {
		name := e.Name()
		typ := e.Type()
		if typ&fs.ModeSymlink != 0 {
			full := filepath.Join(path, name)
			if ok, err := metricpath.Within(x.root, full); err != nil || !ok {
				continue
			}
			tst, err := os.Stat(full)
			if err != nil || tst.IsDir() {
				continue // symlinked folders are not followed (loops)
			}
			typ = tst.Mode().Type()
		}
		switch {
		case typ.IsDir():
			if validComponent(name) {
				dirs[name] = struct{}{}
			}
		case typ.IsRegular():
			if leaf, ok := strings.CutSuffix(name, metricpath.Ext); ok && validComponent(leaf) {
				leaves[leaf] = struct{}{}
			}
		}
	}
	x.mu.Lock()
	n.read = true
	n.mtime = st.ModTime()
	// File systems stamp mtimes with a coarse clock: a change right after
	// this read could leave the mtime equal. Until the mtime is old
	// enough, the folder is read again rather than trusted (as git does
	// with "racy" index entries).
	n.racy = time.Since(st.ModTime()) < racyWindow
	added := x.apply(n, parts, dirs, leaves)
	sub := make(map[string]*node, len(n.dirs))
	for k, v := range n.dirs {
		sub[k] = v
	}
	x.mu.Unlock()
	for _, d := range added {
		x.refreshTree(sub[d], append(append([]string{}, parts...), d), true)
	}
	return sub
}

// apply makes node n (folder parts) hold exactly the child folders dirs
// and the leaves leaves, keeping the count and the pending name-list
// changes in step, and returns the child folders it added. x.mu must be
// held for writing.
func (x *Index) apply(n *node, parts []string, dirs, leaves map[string]struct{}) (added []string) {
	prefix := ""
	if len(parts) > 0 {
		prefix = strings.Join(parts, ".") + "."
	}
	if len(parts) > 0 && parts[0] == TaggedDir {
		return x.applyTagged(n, parts, dirs, leaves)
	}
	track := x.names != nil
	del := func(name string) {
		if !track {
			return
		}
		if x.pendingDel == nil {
			x.pendingDel = map[string]struct{}{}
		}
		x.pendingDel[name] = struct{}{}
	}
	changed := false
	for d := range n.dirs {
		if _, ok := dirs[d]; !ok && len(parts) == 0 && d == TaggedDir {
			x.dropTagged(n.dirs[d], TaggedDir)
			delete(n.dirs, d)
			changed = true
			continue
		}
		if _, ok := dirs[d]; !ok {
			x.count -= countLeaves(n.dirs[d])
			walkNames(n.dirs[d], prefix+d+".", del)
			delete(n.dirs, d)
			changed = true
		}
	}
	for d := range dirs {
		if _, ok := n.dirs[d]; !ok {
			n.dirs[d] = newNode()
			added = append(added, d)
			changed = true
		}
	}
	for l := range n.leaves {
		if _, ok := leaves[l]; !ok {
			delete(n.leaves, l)
			x.count--
			changed = true
			del(prefix + l)
		}
	}
	for l := range leaves {
		if li, ok := n.leaves[l]; ok {
			li.invalidate() // the folder changed: the file may have been replaced
		} else {
			n.leaves[l] = &leafInfo{}
			x.count++
			changed = true
			if track {
				x.pendingAdd = append(x.pendingAdd, prefix+l)
			}
		}
	}
	if changed || n.kids == nil {
		n.kids = buildKids(n, len(parts) == 0)
	}
	return added
}

// applyTagged is apply for a folder under _tagged/: its leaves are tagged
// series (metricpath.Name decodes them), kept in the tag index rather than
// the name list and count. x.mu must be held for writing.
func (x *Index) applyTagged(n *node, parts []string, dirs, leaves map[string]struct{}) (added []string) {
	rel := strings.Join(parts, "/") + "/"
	for d, c := range n.dirs {
		if _, ok := dirs[d]; !ok {
			x.dropTagged(c, rel+d)
			delete(n.dirs, d)
		}
	}
	for d := range dirs {
		if _, ok := n.dirs[d]; !ok {
			n.dirs[d] = newNode()
			added = append(added, d)
		}
	}
	for l := range n.leaves {
		if _, ok := leaves[l]; !ok {
			delete(n.leaves, l)
			if name, ok := metricpath.Name(rel + l + metricpath.Ext); ok {
				x.tags.remove(name)
			}
		}
	}
	for l := range leaves {
		if _, ok := n.leaves[l]; !ok {
			n.leaves[l] = &leafInfo{}
			if name, ok := metricpath.Name(rel + l + metricpath.Ext); ok {
				x.tags.add(name)
			}
		}
	}
	n.kids = buildKids(n, false)
	return added
}

// dropTagged removes the tagged series of a removed folder (rel, below
// the data folder) from the tag index; x.mu held for writing.
func (x *Index) dropTagged(n *node, rel string) {
	for l := range n.leaves {
		if name, ok := metricpath.Name(rel + "/" + l + metricpath.Ext); ok {
			x.tags.remove(name)
		}
	}
	for d, c := range n.dirs {
		x.dropTagged(c, rel+"/"+d)
	}
}

// refreshTree refreshes a folder and, recursively, every folder below it,
// reading only those whose mtime changed (all when force).
func (x *Index) refreshTree(n *node, parts []string, force bool) {
	sub := x.refreshDir(n, parts, force)
	if sub == nil {
		x.mu.RLock()
		sub = make(map[string]*node, len(n.dirs))
		for k, v := range n.dirs {
			sub[k] = v
		}
		x.mu.RUnlock()
	}
	for name, child := range sub {
		x.refreshTree(child, append(append([]string{}, parts...), name), false)
	}
}

// Rescan runs the mtime-driven rescan now. It also makes every leaf's
// remembered lstat stale (LeafStat takes it again), so a file changed
// without an event (no watcher, a folder it could not watch, an overflow)
// is seen at the latest one rescan later.
func (x *Index) Rescan() {
	x.statGen.Add(1)
	x.refreshTree(x.top, nil, false)
}

func (x *Index) loop(ctx context.Context) {
	defer close(x.done)
	var tick <-chan time.Time
	if x.opts.RescanInterval > 0 {
		t := time.NewTicker(x.opts.RescanInterval)
		defer t.Stop()
		tick = t.C
	}
	// While the folder itself is missing nothing can watch it: look for
	// it every second.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if x.watcher != nil {
		events, errs = x.watcher.Events, x.watcher.Errors
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			x.Rescan()
		case <-poll.C:
			x.pollRoot()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			x.onEvent(ev)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			x.log.Warn("index: watcher error; rescanning", "error", err)
			x.Rescan()
		}
	}
}

// pollRoot picks the folder up once it exists.
func (x *Index) pollRoot() {
	if !x.rootMissing.Load() {
		return
	}
	if st, err := os.Stat(x.root); err != nil || !st.IsDir() {
		return
	}
	x.Rescan()
}

// onEvent applies one watcher event: any event on a leaf file (a write,
// a chmod or chtimes, a create, a rename over it) makes its remembered
// lstat stale; a create, remove or rename also reads its folder again.
func (x *Index) onEvent(ev fsnotify.Event) {
	rel, err := filepath.Rel(x.root, filepath.Dir(ev.Name))
	if err != nil || strings.HasPrefix(rel, "..") {
		return
	}
	var parts []string
	if rel != "." {
		parts = strings.Split(filepath.ToSlash(rel), "/")
	}
	x.invalidateLeaf(parts, filepath.Base(ev.Name))
	if ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) == 0 {
		return
	}
	n := x.lookupDir(parts)
	if n == nil {
		return
	}
	x.refreshDir(n, parts, true)
}

func (x *Index) lookupDir(parts []string) *node {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := x.top
	for _, p := range parts {
		n = n.dirs[p]
		if n == nil {
			return nil
		}
	}
	return n
}

func validComponent(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".\x00\\/")
}

func countLeaves(n *node) int {
	c := len(n.leaves)
	for _, d := range n.dirs {
		c += countLeaves(d)
	}
	return c
}

// buildKids returns the node's children, sorted by name; x.mu must be held.
// The top level leaves out _tagged: tagged series are not path fragments.
func buildKids(n *node, top bool) []Entry {
	kids := make([]Entry, 0, len(n.dirs)+len(n.leaves))
	for d := range n.dirs {
		if top && d == TaggedDir {
			continue
		}
		leaf := n.leaves[d]
		kids = append(kids, Entry{Name: d, Leaf: leaf != nil, Branch: true, dir: n.dirs[d], leaf: leaf})
	}
	for l, li := range n.leaves {
		if _, dup := n.dirs[l]; !dup {
			kids = append(kids, Entry{Name: l, Leaf: true, leaf: li})
		}
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].Name < kids[j].Name })
	return kids
}

// Match is one node found by a pattern.
type Match struct {
	Path   string
	Leaf   bool // a metric (whisper file)
	Branch bool // has children
	leaf   *leafInfo
}

// AsLeaf is the match's leaf node alone (Branch false), keeping what
// LeafStat needs; AsBranch is its branch node alone.
func (m Match) AsLeaf() Match { return Match{Path: m.Path, Leaf: true, leaf: m.leaf} }

// AsBranch is the match's branch node alone (Leaf false).
func (m Match) AsBranch() Match { return Match{Path: m.Path, Branch: true} }

// Name is the last component of the path.
func (m Match) Name() string {
	if i := strings.LastIndexByte(m.Path, '.'); i >= 0 {
		return m.Path[i+1:]
	}
	return m.Path
}

// Find returns the nodes matching a Graphite path pattern, sorted by path.
// limit > 0 bounds the number of matches (ErrTooMany beyond it).
func (x *Index) Find(ctx context.Context, pattern string, limit int) ([]Match, error) {
	comps, err := compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPattern, err)
	}
	f := finder{x: x, ctx: ctx, comps: comps, limit: limit, pattern: pattern}
	if err := f.walk(x.top, nil, 0); err != nil {
		return nil, err
	}
	// The walk goes through each folder in name order, which is path
	// order unless a name sorts before '.' against a sibling it prefixes.
	byPath := func(a, b Match) int { return strings.Compare(a.Path, b.Path) }
	if !slices.IsSortedFunc(f.out, byPath) {
		slices.SortFunc(f.out, byPath)
	}
	return f.out, nil
}

// finder is one Find's walk down the tree.
type finder struct {
	x       *Index
	ctx     context.Context
	comps   []component
	limit   int
	pattern string
	out     []Match
	scratch []step
}

// step is a child of a folder that matched the pattern's component.
type step struct {
	name  string
	child *node     // nil unless a folder
	leaf  *leafInfo // nil unless a metric
}

func (f *finder) walk(n *node, parts []string, depth int) error {
	if err := f.ctx.Err(); err != nil {
		return err
	}
	c := &f.comps[depth]
	f.x.refreshFor(n, parts, c)
	if depth == len(f.comps)-1 {
		// The last level's steps are used up at once: one buffer serves
		// every folder.
		f.scratch = f.x.matchKids(n, c, depth == 0, f.scratch)
		return f.emit(parts, f.scratch)
	}
	steps := f.x.matchKids(n, c, depth == 0, nil)
	for _, s := range steps {
		if s.child == nil {
			continue
		}
		// The full slice expression makes append copy: siblings never
		// share a backing array.
		if err := f.walk(s.child, append(parts[:len(parts):len(parts)], s.name), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// emit adds the matches of the pattern's last component.
func (f *finder) emit(parts []string, steps []step) error {
	prefix := ""
	if len(parts) > 0 {
		prefix = strings.Join(parts, ".") + "."
	}
	if f.out == nil {
		f.out = make([]Match, 0, len(steps))
	}
	// The folder's paths are cut from one string: one allocation per
	// folder, not per match.
	var all strings.Builder
	all.Grow(len(steps) * (len(prefix) + 8))
	for _, s := range steps {
		all.WriteString(prefix)
		all.WriteString(s.name)
	}
	paths := all.String()
	for _, s := range steps {
		n := len(prefix) + len(s.name)
		f.out = append(f.out, Match{Path: paths[:n], Leaf: s.leaf != nil, Branch: s.child != nil, leaf: s.leaf})
		paths = paths[n:]
		if f.limit > 0 && len(f.out) > f.limit {
			return fmt.Errorf("%w: pattern %q matches more than %d nodes", ErrTooMany, f.pattern, f.limit)
		}
	}
	return nil
}

// refreshFor makes sure folder n is current enough to match c against:
// checked (one stat) for a wildcard, only when the name is unknown for a
// literal.
func (x *Index) refreshFor(n *node, parts []string, c *component) {
	if !c.wild {
		x.mu.RLock()
		_, isDir := n.dirs[c.literal]
		_, isLeaf := n.leaves[c.literal]
		x.mu.RUnlock()
		if isDir || isLeaf {
			return
		}
		// Not known (yet): make sure the folder did not change.
	}
	x.refreshDir(n, parts, false)
}

// matchKids returns the children of n that c matches, in name order,
// appended to buf[:0]; top is the top level, where _tagged is no path
// fragment.
func (x *Index) matchKids(n *node, c *component, top bool, buf []step) []step {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !c.wild {
		child, leaf := n.dirs[c.literal], n.leaves[c.literal]
		if top && c.literal == TaggedDir {
			child = nil
		}
		if child == nil && leaf == nil {
			return nil
		}
		return append(buf[:0], step{c.literal, child, leaf})
	}
	// kids is sorted by name: a literal prefix ("m000*") narrows the
	// scan to its range.
	kids := n.kids
	pre := c.prefix()
	if pre != "" {
		kids = kids[sort.Search(len(kids), func(i int) bool { return kids[i].Name >= pre }):]
	}
	steps := buf[:0]
	for _, k := range kids {
		if c.match(k.Name) {
			steps = append(steps, step{k.Name, k.dir, k.leaf})
		} else if !strings.HasPrefix(k.Name, pre) {
			break
		}
	}
	return steps
}

// Leaves returns the metric names matching pattern (leaves only), sorted.
func (x *Index) Leaves(ctx context.Context, pattern string, limit int) ([]string, error) {
	if !HasWildcard(pattern) {
		if strings.HasPrefix(pattern, TaggedDir+".") {
			return nil, nil // tagged series go by their names, not _tagged paths
		}
		// An exact name: the file system is the truth, no index needed.
		p, err := metricpath.Path(x.root, pattern)
		if err != nil {
			return nil, nil
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return []string{pattern}, nil
		}
		return nil, nil
	}
	ms, err := x.Find(ctx, pattern, limit)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.Leaf {
			out = append(out, m.Path)
		}
	}
	return out, nil
}

// Count is the number of metrics indexed.
func (x *Index) Count() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count
}

// Names returns every metric name, sorted. The slice is shared: do not
// modify it. The list is built once (a walk of the in-memory tree and a
// sort); after that, names added or removed since are merged in, so the
// cost is linear in the names and not a sort per change.
func (x *Index) Names() []string {
	x.mu.RLock()
	if x.names != nil && len(x.pendingAdd) == 0 && len(x.pendingDel) == 0 {
		defer x.mu.RUnlock()
		return x.names
	}
	x.mu.RUnlock()
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.names == nil || len(x.pendingAdd)+len(x.pendingDel) > len(x.names)/2:
		names := make([]string, 0, x.count)
		walkNames(x.top, "", func(n string) { names = append(names, n) })
		sort.Strings(names)
		x.names = names
	case len(x.pendingAdd) > 0 || len(x.pendingDel) > 0:
		x.names = x.mergePending()
	}
	x.pendingAdd, x.pendingDel = nil, nil
	return x.names
}

// mergePending merges the sorted list with the pending changes; x.mu held.
func (x *Index) mergePending() []string {
	adds := x.pendingAdd
	sort.Strings(adds)
	keep := func(name string) bool {
		if _, touched := x.pendingDel[name]; !touched {
			return true
		}
		return x.isLeaf(name)
	}
	old := x.names
	out := make([]string, 0, len(old)+len(adds))
	push := func(name string) {
		if len(out) > 0 && out[len(out)-1] == name {
			return
		}
		if keep(name) {
			out = append(out, name)
		}
	}
	i, j := 0, 0
	for i < len(old) || j < len(adds) {
		if j >= len(adds) || (i < len(old) && old[i] <= adds[j]) {
			push(old[i])
			i++
		} else {
			if x.isLeaf(adds[j]) {
				push(adds[j])
			}
			j++
		}
	}
	return out
}

// isLeaf reports whether name is a metric in the tree; x.mu held.
func (x *Index) isLeaf(name string) bool {
	parts := strings.Split(name, ".")
	n := x.top
	for _, p := range parts[:len(parts)-1] {
		if n = n.dirs[p]; n == nil {
			return false
		}
	}
	_, ok := n.leaves[parts[len(parts)-1]]
	return ok
}

func walkNames(n *node, prefix string, fn func(string)) {
	for l := range n.leaves {
		fn(prefix + l)
	}
	for d, c := range n.dirs {
		if prefix == "" && d == TaggedDir {
			continue // tagged series are listed by TaggedNames
		}
		walkNames(c, prefix+d+".", fn)
	}
}

// Entry is one child of a tree level.
type Entry struct {
	Name   string
	Leaf   bool // a metric (whisper file)
	Branch bool // a folder (has children)
	// The child's records, for Find: kids is rebuilt whenever a child
	// is added or removed, so they are those of n.dirs and n.leaves.
	dir  *node
	leaf *leafInfo
}

// Children lists the children of a dotted prefix ("" is the top level),
// sorted by name. ok is false when the prefix is not a folder. The slice
// is the index's own, shared by every caller and replaced (never changed)
// when the folder changes: do not modify it. Paging it is slicing it, so
// a page of a folder of 300,000 names costs the page.
func (x *Index) Children(prefix string) (kids []Entry, ok bool) {
	var parts []string
	if prefix != "" {
		parts = strings.Split(prefix, ".")
		if parts[0] == TaggedDir {
			return nil, false
		}
		for _, p := range parts {
			if !validComponent(p) {
				return nil, false
			}
		}
	}
	n := x.lookupDir(parts)
	if n == nil {
		return nil, false
	}
	x.refreshDir(n, parts, false)
	x.mu.RLock()
	defer x.mu.RUnlock()
	return n.kids, true
}
