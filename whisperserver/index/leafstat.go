package index

import (
	"os"
	"sync/atomic"
	"syscall"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// FileID is what identifies one version of a metric file: its device and
// inode with its size and modification time (whisper-resize and
// whisper-set-aggregation-method rewrite or replace the file, which
// changes them).
type FileID struct {
	Dev, Ino uint64
	Size     int64
	MTime    int64 // nanoseconds since the epoch
}

// leafInfo is the index's record of one leaf file. seq is bumped by every
// event or folder read that may have changed the file; stat is the last
// lstat, valid while its seq and generation are current.
type leafInfo struct {
	seq  atomic.Uint64
	stat atomic.Pointer[leafStat]
}

// leafStat is one lstat of a leaf, taken at seq and generation gen.
type leafStat struct {
	id       FileID
	seq, gen uint64
	regular  bool // a regular file (not a symlink, not gone)
}

// invalidate marks the file as possibly changed: the next LeafStat looks.
func (l *leafInfo) invalidate() {
	if l != nil {
		l.seq.Add(1)
	}
}

// LeafStat returns the identity of a matched leaf's file, as of the last
// event or rescan that could have changed it: from the index's record
// without a system call while no fsnotify event for the file, no read of
// its folder and no rescan happened since it was last taken (an lstat,
// then remembered). regular is false for anything but a regular file
// (a symlink, a vanished file): the caller must then open and check the
// path in full. A Match not made by Find is looked at every time.
func (x *Index) LeafStat(m Match) (id FileID, regular bool) {
	li := m.leaf
	if li == nil {
		return x.lstatLeaf(m.Path)
	}
	gen, seq := x.statGen.Load(), li.seq.Load()
	if st := li.stat.Load(); st != nil && st.gen == gen && st.seq == seq {
		return st.id, st.regular
	}
	// seq and gen were read before the lstat: a change reported while it
	// runs bumps one of them, so this result is not trusted past it.
	id, regular = x.lstatLeaf(m.Path)
	li.stat.Store(&leafStat{id: id, seq: seq, gen: gen, regular: regular})
	return id, regular
}

// lstatLeaf is the identity of the regular file behind a metric name, not
// following a final symlink.
func (x *Index) lstatLeaf(name string) (FileID, bool) {
	path, err := metricpath.Path(x.root, name)
	if err != nil {
		return FileID{}, false
	}
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return FileID{}, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, false
	}
	return FileID{Dev: uint64(sys.Dev), Ino: uint64(sys.Ino), Size: st.Size(), MTime: st.ModTime().UnixNano()}, true
}

// invalidateLeaf bumps the record of the leaf file at parts/file, if
// indexed (file is the base name with its extension).
func (x *Index) invalidateLeaf(parts []string, file string) {
	leaf, ok := cutExt(file)
	if !ok {
		return
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := x.top
	for _, p := range parts {
		if n = n.dirs[p]; n == nil {
			return
		}
	}
	n.leaves[leaf].invalidate()
}

func cutExt(file string) (string, bool) {
	if len(file) <= len(metricpath.Ext) || file[len(file)-len(metricpath.Ext):] != metricpath.Ext {
		return "", false
	}
	return file[:len(file)-len(metricpath.Ext)], true
}
