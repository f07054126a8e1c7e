package persist

import (
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// errOutside is wrapped by errors about a folder whose path leads outside
// the data folder (through a symlink).
var errOutside = errors.New("path leads outside the data folder")

// maxOpenFolders bounds the folder descriptors all writers hold together
// (and a quarter of the process's file limit, whichever is smaller).
const maxOpenFolders = 4096

// folders holds one writer's open metric folders, least recently used
// first out when more than max are open, so an update opens its file
// relative to its folder: the kernel then walks one path component instead
// of every component from / (with a million files that walk was a fifth of
// the machine's time). A folder is opened only beneath the data folder
// (openat2's RESOLVE_BENEATH: no component, symlinks included, may lead
// out), and reopened after recheckAfter, so a folder later moved or
// swapped is used at most that long. Not safe for concurrent use.
type folders struct {
	base   string
	baseFd int // the data folder, owned by the Persister
	max    int
	open   map[string]*list.Element // folder relative to base → its *folder in lru
	lru    list.List                // most recently used at the front
}

type folder struct {
	rel    string
	abs    string // its full path, for errors
	fd     int
	opened int64 // Unix seconds
}

func newFolders(base string, baseFd, max int) *folders {
	return &folders{base: base, baseFd: baseFd, max: max, open: map[string]*list.Element{}}
}

// get returns the folder rel (relative to the data folder; "." for the
// data folder itself), opening it if needed. The error wraps
// fs.ErrNotExist when the folder does not exist and errOutside when its
// path leads outside the data folder.
func (f *folders) get(rel string, now int64) (*folder, error) {
	if e, ok := f.open[rel]; ok {
		d := e.Value.(*folder)
		if d.opened > now-recheckAfter {
			f.lru.MoveToFront(e)
			return d, nil
		}
		f.drop(e)
	}
	fd, err := f.openBeneath(rel)
	if err != nil {
		return nil, err
	}
	d := &folder{rel: rel, abs: filepath.Join(f.base, rel), fd: fd, opened: now}
	f.open[rel] = f.lru.PushFront(d)
	for len(f.open) > f.max {
		f.drop(f.lru.Back())
	}
	return d, nil
}

// forget closes rel's descriptor, if open (its folder may have been
// removed and made again).
func (f *folders) forget(rel string) {
	if e, ok := f.open[rel]; ok {
		f.drop(e)
	}
}

// closeAll closes every descriptor.
func (f *folders) closeAll() {
	for e := f.lru.Front(); e != nil; e = f.lru.Front() {
		f.drop(e)
	}
}

func (f *folders) drop(e *list.Element) {
	d := f.lru.Remove(e).(*folder)
	delete(f.open, d.rel)
	_ = unix.Close(d.fd)
}

// openBeneath opens the folder rel of the data folder. The kernel refuses
// (EXDEV) any resolution that leaves the data folder, and also every
// absolute symlink, even one leading back inside; such paths, and all of
// them on kernels before 5.6 (ENOSYS), are checked by resolving them
// (metricpath.Within) before a plain open.
func (f *folders) openBeneath(rel string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	path := filepath.Join(f.base, rel)
	fd, err := unix.Openat2(f.baseFd, rel, &unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS})
	if err == unix.EXDEV || err == unix.ENOSYS {
		inside, werr := metricpath.Within(f.base, path)
		if werr != nil || !inside {
			return -1, fmt.Errorf("folder %s: %w %v", path, errOutside, errOrNil(werr))
		}
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		return -1, &fs.PathError{Op: "open folder", Path: path, Err: err}
	}
	return fd, nil
}
