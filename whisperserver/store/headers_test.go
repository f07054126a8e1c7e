package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server/servertest"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// TestIntervalsCache: the second lookup of an unchanged file is answered
// from the cache (its bytes were overwritten in place and its mtime put
// back, and the old retention still comes back); a new mtime, a replaced
// file and a symlink leaving the folder are all read (and checked) again.
func TestIntervalsCache(t *testing.T) {
	dir := t.TempDir()
	servertest.WriteMetric(t, dir, "a.b", "average", []servertest.Archive{{Step: 60, Points: 100}}, nil)
	ix, err := index.New(dir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	st := store.New(ix, 4, nil)
	ctx := context.Background()
	path := filepath.Join(dir, "a", "b.wsp")

	r, mtime, err := st.Intervals(ctx, "a.b")
	if err != nil || r != 6000 {
		t.Fatalf("first lookup: retention %d, %v; want 6000", r, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !mtime.Equal(fi.ModTime()) {
		t.Fatalf("mtime %v, file says %v", mtime, fi.ModTime())
	}

	// Same inode, size and mtime, unreadable content: only a cache hit
	// can still answer 6000.
	garbage := make([]byte, fi.Size())
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if r, _, err := st.Intervals(ctx, "a.b"); err != nil || r != 6000 {
		t.Fatalf("unchanged identity: retention %d, %v; want the cached 6000", r, err)
	}

	// A new mtime: read again, and the garbage is reported.
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Intervals(ctx, "a.b"); err == nil {
		t.Fatal("changed mtime: answered from the cache, want the file read (and fail)")
	}

	// Replaced by another file (new inode) with another retention.
	other := t.TempDir()
	servertest.WriteMetric(t, other, "a.b", "average", []servertest.Archive{{Step: 10, Points: 30}}, nil)
	if err := os.Rename(filepath.Join(other, "a", "b.wsp"), path); err != nil {
		t.Fatal(err)
	}
	if r, _, err := st.Intervals(ctx, "a.b"); err != nil || r != 300 {
		t.Fatalf("replaced file: retention %d, %v; want 300", r, err)
	}

	// A symlink leaving the folder is never cached and always refused.
	servertest.WriteMetric(t, other, "x", "average", []servertest.Archive{{Step: 60, Points: 10}}, nil)
	if err := os.Symlink(filepath.Join(other, "x.wsp"), filepath.Join(dir, "a", "out.wsp")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if r, _, err := st.Intervals(ctx, "a.out"); err == nil {
			t.Fatalf("lookup %d of a symlink out of the folder: retention %d, want an error", i, r)
		}
	}
}
