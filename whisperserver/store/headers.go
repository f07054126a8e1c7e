package store

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
)

// MaxCachedHeaders bounds the header cache: about 100 bytes and the path
// per entry, so roughly 15 MB at the bound.
const MaxCachedHeaders = 100_000

type cachedHeader struct {
	id           index.FileID
	maxRetention int64
}

// headerCache remembers each file's maximum retention, keyed by metric
// name and checked against the file's identity on every use. At the bound
// an arbitrary entry is dropped for each new one.
type headerCache struct {
	mu sync.RWMutex
	m  map[string]cachedHeader
}

func (c *headerCache) get(name string, id index.FileID) (int64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, ok := c.m[name]
	if !ok || h.id != id {
		return 0, false
	}
	return h.maxRetention, true
}

func (c *headerCache) put(name string, h cachedHeader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedHeader)
	}
	if _, ok := c.m[name]; !ok && len(c.m) >= MaxCachedHeaders {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[name] = h
}

func (c *headerCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Intervals returns the metric file's longest retention in seconds and
// its modification time: what graphite-web's find reports as a leaf's
// interval. m is a leaf found by the index, which knows the file's
// identity (inode, size, mtime) as of its last event or rescan
// (index.LeafStat): a regular file whose header was read before under
// that identity is answered from a bounded cache without a system call;
// anything else (a symlink, checked in full every time; a file not read
// yet or changed) is opened through With.
func (s *Store) Intervals(ctx context.Context, m index.Match) (maxRetention int64, mtime time.Time, err error) {
	id, regular := s.Index.LeafStat(m)
	if regular {
		if r, ok := s.headers.get(m.Path, id); ok {
			return r, time.Unix(0, id.MTime), nil
		}
	}
	path, err := metricpath.Path(s.Root, m.Path)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%w: %v", ErrBadName, err)
	}
	err = s.With(ctx, m.Path, func(f *whisperfile.File) error {
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
		s.headers.put(m.Path, cachedHeader{id: id, maxRetention: maxRetention})
	}
	return maxRetention, mtime, nil
}
