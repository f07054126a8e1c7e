package store

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
)

// MaxCachedHeaders bounds the header cache: about 100 bytes and the path
// per entry, so roughly 15 MB at the bound.
const MaxCachedHeaders = 100_000

// fileID is what must be unchanged for a cached header to hold: the same
// inode with the same size and modification time (whisper-resize and
// whisper-set-aggregation-method rewrite or replace the file, which changes
// them).
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64 // nanoseconds
}

type cachedHeader struct {
	id           fileID
	maxRetention int64
}

// headerCache remembers each file's maximum retention, keyed by path and
// checked against the file's identity on every use. At the bound an
// arbitrary entry is dropped for each new one.
type headerCache struct {
	mu sync.Mutex
	m  map[string]cachedHeader
}

func (c *headerCache) get(path string, id fileID) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[path]
	if !ok || h.id != id {
		return 0, false
	}
	return h.maxRetention, true
}

func (c *headerCache) put(path string, h cachedHeader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedHeader)
	}
	if _, ok := c.m[path]; !ok && len(c.m) >= MaxCachedHeaders {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[path] = h
}

func (c *headerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// regularID is the identity of the regular file at path, not following a
// final symlink; ok is false for anything else (a symlink is resolved and
// checked by With every time).
func regularID(path string) (fileID, os.FileInfo, bool) {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return fileID{}, nil, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, nil, false
	}
	return fileID{dev: uint64(sys.Dev), ino: uint64(sys.Ino), size: st.Size(), mtime: st.ModTime().UnixNano()}, st, true
}

// Intervals returns the metric file's longest retention in seconds and
// its modification time: what graphite-web's find reports as a leaf's
// interval. A regular file whose header was read before (same inode,
// size and mtime) is answered from a bounded cache with one lstat instead
// of an open, a path check with symlinks resolved, a header read and a
// close; anything else goes through With.
func (s *Store) Intervals(ctx context.Context, name string) (maxRetention int64, mtime time.Time, err error) {
	path, err := metricpath.Path(s.Root, name)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%w: %v", ErrBadName, err)
	}
	id, st, regular := regularID(path)
	if regular {
		if r, ok := s.headers.get(path, id); ok {
			return r, st.ModTime(), nil
		}
	}
	err = s.With(ctx, name, func(f *whisperfile.File) error {
		maxRetention = int64(f.MaxRetention)
		fst, err := os.Stat(path)
		if err != nil {
			return err
		}
		mtime = fst.ModTime()
		return nil
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	if regular {
		// The identity was taken before the read: a file changed in
		// between no longer matches it, so it is read again next time.
		s.headers.put(path, cachedHeader{id: id, maxRetention: maxRetention})
	}
	return maxRetention, mtime, nil
}
