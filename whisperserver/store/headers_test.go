package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server/servertest"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// leaf is the index's match for the metric name.
func leaf(t *testing.T, ix *index.Index, name string) index.Match {
	t.Helper()
	ms, err := ix.Find(context.Background(), name, 0)
	if err != nil || len(ms) != 1 || !ms[0].Leaf {
		t.Fatalf("find %s: %+v, %v; want one leaf", name, ms, err)
	}
	return ms[0]
}

// TestIntervalsCache: the second lookup of an unchanged file is answered
// from the cache (its bytes were overwritten in place and its mtime put
// back, and the old retention still comes back); the file's identity comes
// from the index, so a change is seen once the index saw it (here: a
// rescan, with no watcher) and not before (no system call per lookup);
// then a new mtime and a replaced file are read again, and a symlink
// leaving the folder is refused every time.
func TestIntervalsCache(t *testing.T) {
	dir := t.TempDir()
	servertest.WriteMetric(t, dir, "a.b", "average", []servertest.Archive{{Step: 60, Points: 100}}, nil)
	ix, err := index.New(dir, index.Options{NoWatch: true, RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	st := store.New(ix, 4, nil)
	ctx := context.Background()
	path := filepath.Join(dir, "a", "b.wsp")
	m := leaf(t, ix, "a.b")

	r, mtime, err := st.Intervals(ctx, m)
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
	// can still answer 6000, even after a rescan looked at the file.
	garbage := make([]byte, fi.Size())
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	ix.Rescan()
	if r, _, err := st.Intervals(ctx, m); err != nil || r != 6000 {
		t.Fatalf("unchanged identity: retention %d, %v; want the cached 6000", r, err)
	}

	// A new mtime: not seen before the index looks again (the answer is
	// up to one rescan old), then read again, and the garbage reported.
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if r, mt, err := st.Intervals(ctx, m); err != nil || r != 6000 || !mt.Equal(fi.ModTime()) {
		t.Fatalf("before a rescan: retention %d, mtime %v, %v; want the index's 6000 at %v", r, mt, err, fi.ModTime())
	}
	ix.Rescan()
	if _, _, err := st.Intervals(ctx, m); err == nil {
		t.Fatal("changed mtime after a rescan: answered from the cache, want the file read (and fail)")
	}

	// Replaced by another file (new inode) with another retention.
	other := t.TempDir()
	servertest.WriteMetric(t, other, "a.b", "average", []servertest.Archive{{Step: 10, Points: 30}}, nil)
	if err := os.Rename(filepath.Join(other, "a", "b.wsp"), path); err != nil {
		t.Fatal(err)
	}
	ix.Rescan()
	if r, _, err := st.Intervals(ctx, m); err != nil || r != 300 {
		t.Fatalf("replaced file: retention %d, %v; want 300", r, err)
	}
	if r, mt, err := st.Intervals(ctx, leaf(t, ix, "a.b")); err != nil || r != 300 || mt.IsZero() {
		t.Fatalf("replaced file, found again: retention %d, mtime %v, %v; want 300", r, mt, err)
	}

	// A symlink leaving the folder is never cached and always refused.
	servertest.WriteMetric(t, other, "x", "average", []servertest.Archive{{Step: 60, Points: 10}}, nil)
	if err := os.Symlink(filepath.Join(other, "x.wsp"), filepath.Join(dir, "a", "out.wsp")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if r, _, err := st.Intervals(ctx, index.Match{Path: "a.out", Leaf: true}); err == nil {
			t.Fatalf("lookup %d of a symlink out of the folder: retention %d, want an error", i, r)
		}
	}
}

// TestIntervalsSymlinkRetargeted: a symlink the index listed (it pointed
// inside the folder) and then re-pointed outside is refused at once, with
// no rescan or event: a symlink's identity is never trusted from the index.
func TestIntervalsSymlinkRetargeted(t *testing.T) {
	dir := t.TempDir()
	servertest.WriteMetric(t, dir, "a.b", "average", []servertest.Archive{{Step: 60, Points: 100}}, nil)
	link := filepath.Join(dir, "a", "in.wsp")
	if err := os.Symlink(filepath.Join(dir, "a", "b.wsp"), link); err != nil {
		t.Fatal(err)
	}
	ix, err := index.New(dir, index.Options{NoWatch: true, RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	st := store.New(ix, 4, nil)
	ctx := context.Background()
	m := leaf(t, ix, "a.in")
	for i := 0; i < 2; i++ {
		if r, _, err := st.Intervals(ctx, m); err != nil || r != 6000 {
			t.Fatalf("lookup %d of a symlink inside: retention %d, %v; want 6000", i, r, err)
		}
	}
	other := t.TempDir()
	servertest.WriteMetric(t, other, "x", "average", []servertest.Archive{{Step: 60, Points: 10}}, nil)
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, "x.wsp"), link); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if r, _, err := st.Intervals(ctx, m); err == nil {
			t.Fatalf("lookup %d of a symlink re-pointed out of the folder: retention %d, want an error", i, r)
		}
	}
}

// TestIntervalsWatched: with the watcher, a write to the file (new mtime)
// and a file renamed over it are seen without a rescan, once their events
// arrive.
func TestIntervalsWatched(t *testing.T) {
	dir := t.TempDir()
	servertest.WriteMetric(t, dir, "a.b", "average", []servertest.Archive{{Step: 60, Points: 100}}, nil)
	ix, err := index.New(dir, index.Options{RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	st := store.New(ix, 4, nil)
	ctx := context.Background()
	path := filepath.Join(dir, "a", "b.wsp")
	m := leaf(t, ix, "a.b")
	if r, _, err := st.Intervals(ctx, m); err != nil || r != 6000 {
		t.Fatalf("first lookup: retention %d, %v; want 6000", r, err)
	}

	later := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new mtime", func() bool {
		_, mt, err := st.Intervals(ctx, m)
		return err == nil && mt.Equal(later)
	})

	other := t.TempDir()
	servertest.WriteMetric(t, other, "a.b", "average", []servertest.Archive{{Step: 10, Points: 30}}, nil)
	if err := os.Rename(filepath.Join(other, "a", "b.wsp"), path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replaced file's retention", func() bool {
		r, _, err := st.Intervals(ctx, m)
		return err == nil && r == 300
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not seen within 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIntervalsConcurrent: lookups racing with rescans and watcher events
// (run under -race) always answer the file's retention.
func TestIntervalsConcurrent(t *testing.T) {
	dir := t.TempDir()
	servertest.WriteMetric(t, dir, "a.b", "average", []servertest.Archive{{Step: 60, Points: 100}}, nil)
	ix, err := index.New(dir, index.Options{RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	st := store.New(ix, 4, nil)
	m := leaf(t, ix, "a.b")
	path := filepath.Join(dir, "a", "b.wsp")
	done := make(chan struct{})
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if r, _, err := st.Intervals(context.Background(), m); err != nil || r != 6000 {
					errs <- fmt.Errorf("retention %d, %v; want 6000", r, err)
					return
				}
			}
		}()
	}
	base := time.Now().Truncate(time.Second)
	for i := 0; i < 50; i++ {
		at := base.Add(time.Duration(i) * time.Second)
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
		ix.Rescan()
	}
	close(done)
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	last := base.Add(49 * time.Second)
	if _, mt, err := st.Intervals(context.Background(), m); err != nil || !mt.Equal(last) {
		t.Fatalf("after the last rescan: mtime %v, %v; want %v", mt, err, last)
	}
}
