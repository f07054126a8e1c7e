package persist

import (
	"container/list"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
)

// revalidateAfter (nanoseconds) is how long a kept-open file is trusted to
// still be the one its path names: an update more than this after the
// last check first compares the path's device and inode (one fstatat
// relative to the folder, no open, no symlink followed) with the
// descriptor's, and on a mismatch (the file replaced, as whisper-resize.py
// does, deleted, or swapped for a symlink) closes it and opens (creates,
// or refuses) what the path now names. It is 0, every update is checked:
// a window would let the points of that long after a swap go to the old
// file, and during a backlog each file is written about once per
// write_interval_ms (2 s) anyway, so a window of a second would save few checks.
const revalidateAfter = 0 // every update: a replaced or deleted file is noticed at once

// idleAfter: a kept-open file not updated for this long is closed at the
// writer's next pass, so a deleted file's space is not held by a metric
// that stopped.
const idleAfter = 60 * time.Second

// openFiles holds up to max of one writer's whisper files open (descriptor,
// parsed header, archives' offsets and base intervals), so that an update
// through one costs no open, header read or close: with 100,000 metrics
// these were a third of the writers' time. When all max are taken, other
// files are opened for their update only, as without the cache: none is
// closed to make room, since a writer goes through its metrics in the same
// order every pass, so with more metrics than max, closing the least
// recently used for each new one would make every update a miss (measured:
// slower than no cache). A file not updated for idleAfter is closed (the
// least recently used list gives them in order), making room for others.
// Points are still written with pwrite as they are updated, nothing is
// buffered: a crash loses no more than without it. Not safe for
// concurrent use.
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

// room reports whether another file may be kept open.
func (o *openFiles) room() bool { return len(o.open) < o.max }

// add keeps f open as the metric name's file; the caller checked room.
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
// limit to the hard one at start; when that is less than twice want, the
// limit is raised to twice want (at most fs.nr_open) if the process may
// (root, CAP_SYS_RESOURCE): raised says so.
func fileBudget(want int) (n int, limit uint64, raised bool) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return min(want, 256), 0, false
	}
	if need := 2 * uint64(want); need > lim.Cur {
		raised = raiseFileLimit(&lim, need)
	}
	if uint64(want) > lim.Cur/2 {
		want = int(lim.Cur / 2)
	}
	return want, lim.Cur, raised
}

// raiseFileLimit raises the open-file limit lim to need (at most the
// kernel's fs.nr_open), or failing that (no privilege) its soft limit to
// the hard one; lim is updated. It reports whether the limit was raised.
func raiseFileLimit(lim *unix.Rlimit, need uint64) bool {
	nrOpen := uint64(1 << 20)
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			nrOpen = v
		}
	}
	need = min(need, nrOpen)
	for _, try := range []unix.Rlimit{{Cur: need, Max: max(need, lim.Max)}, {Cur: min(need, lim.Max), Max: lim.Max}} {
		if try.Cur <= lim.Cur {
			continue
		}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &try); err == nil {
			*lim = try
			return true
		}
	}
	return false
}
