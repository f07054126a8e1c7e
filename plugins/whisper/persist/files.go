package persist

import (
	"container/list"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
)

// revalidateAfter is how long a kept-open file is trusted to still be the
// one its path names: an update more than this after the last check first
// compares the path's device and inode (one fstatat relative to the
// folder, no open) with the descriptor's, and on a mismatch (the file
// replaced, as whisper-resize.py does, or deleted) closes it and opens (or
// creates) the file the path now names. So points written to a file
// replaced or deleted under a running writer are those of at most this
// long after the change; those written later land in the new file.
const revalidateAfter = 0 * time.Second

// idleAfter: a kept-open file not updated for this long is closed at the
// writer's next pass, so a deleted file's space is not held by a metric
// that stopped.
const idleAfter = 60 * time.Second

// openFiles holds one writer's open whisper files (descriptor, parsed
// header, archives' offsets and base intervals), least recently used first
// out when more than max are open, so that an update through one costs no
// open, header read or close: with 100,000 metrics these were a third of
// the writers' time. Points are still written with pwrite as they are
// updated, nothing is buffered: a crash loses no more than without it.
// Not safe for concurrent use.
type openFiles struct {
	max  int
	open map[string]*list.Element // metric name → its *openFile in lru
	lru  list.List                // most recently used at the front
}

type openFile struct {
	name    string
	f       *whisperfile.Writable
	checked int64 // Unix nanoseconds of the last check that its path names it
	used    int64 // Unix nanoseconds of its last update
}

// newOpenFiles returns a cache of at most max files; nil (no cache) for
// max <= 0.
func newOpenFiles(max int) *openFiles {
	if max <= 0 {
		return nil
	}
	return &openFiles{max: max, open: map[string]*list.Element{}}
}

// get returns the open file of the metric name, if kept, checked against
// its path within revalidateAfter: otherwise the check is made with
// check, and a file failing it is closed and forgotten.
func (o *openFiles) get(name string, now int64, check func(*whisperfile.Writable) bool) *whisperfile.Writable {
	e, ok := o.open[name]
	if !ok {
		return nil
	}
	of := e.Value.(*openFile)
	if now-of.checked >= int64(revalidateAfter) {
		if !check(of.f) {
			o.drop(e)
			return nil
		}
		of.checked = now
	}
	of.used = now
	o.lru.MoveToFront(e)
	return of.f
}

// add keeps f open as the metric name's file, closing the least recently
// used beyond max.
func (o *openFiles) add(name string, f *whisperfile.Writable, now int64) {
	o.forget(name)
	o.open[name] = o.lru.PushFront(&openFile{name: name, f: f, checked: now, used: now})
	for len(o.open) > o.max {
		o.drop(o.lru.Back())
	}
}

// forget closes the metric name's file, if kept.
func (o *openFiles) forget(name string) {
	if e, ok := o.open[name]; ok {
		o.drop(e)
	}
}

// closeIdle closes the files not updated since before.
func (o *openFiles) closeIdle(before int64) {
	for e := o.lru.Back(); e != nil && e.Value.(*openFile).used < before; e = o.lru.Back() {
		o.drop(e)
	}
}

// closeAll closes every file.
func (o *openFiles) closeAll() {
	for e := o.lru.Front(); e != nil; e = o.lru.Front() {
		o.drop(e)
	}
}

func (o *openFiles) drop(e *list.Element) {
	of := o.lru.Remove(e).(*openFile)
	delete(o.open, of.name)
	_ = of.f.Close()
}

// sameFile reports whether the file name in the folder dirfd is still f
// (same device and inode; the name itself, not a symlink's target).
func sameFile(dirfd int, name string, f *whisperfile.Writable) bool {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false
	}
	return uint64(st.Dev) == f.Dev && uint64(st.Ino) == f.Ino //nolint:unconvert // Dev is uint32 on some platforms
}

// fileBudget is how many whisper files the writers may keep open
// together: want, or half the open-file limit if that is smaller (the
// folders take up to a quarter, see folderBudget). Go raises the soft
// limit to the hard one at start, so limit is the hard limit unless the
// process's soft limit was raised above it by other means.
func fileBudget(want int) (n int, limit uint64) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return min(want, 256), 0
	}
	if uint64(want) > lim.Cur/2 {
		want = int(lim.Cur / 2)
	}
	return want, lim.Cur
}
