package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
	"github.com/gorilla/mux"
)

// BenchmarkTreePage pages /api/tree over a folder of 300,000 metrics (the
// issue-15 shape): a page of 100 should cost the page, not the folder.
// Run: go test ./whisperserver/api -run '^$' -bench TreePage -benchmem
func BenchmarkTreePage(b *testing.B) {
	const n = 300_000
	root := b.TempDir()
	dir := filepath.Join(root, "big")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("m%06d.wsp", i)))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	old := time.Now().Add(-time.Hour) // not "racy": read once, then trusted
	if err := os.Chtimes(dir, old, old); err != nil {
		b.Fatal(err)
	}
	ix, err := index.New(root, index.Options{RescanInterval: -1, NoWatch: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	r := mux.NewRouter()
	New(Config{Store: store.New(ix, 0, nil), MaxFind: 200_000}).Register(r)
	for _, page := range []struct{ name, query string }{
		{"limit100", "prefix=big&offset=150000&limit=100"},
		{"limit10000", "prefix=big&offset=0&limit=10000"},
	} {
		b.Run(page.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/tree?"+page.query, nil)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body.String())
				}
			}
		})
	}
}

// TestTreePageCostsThePage: a page of 10 from a folder of 5,000 names
// allocates for the page, not for the folder (the folder's child list is
// the index's own, not copied per request).
func TestTreePageCostsThePage(t *testing.T) {
	const n = 5_000
	root := t.TempDir()
	dir := filepath.Join(root, "big")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%05d.wsp", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	ix, err := index.New(root, index.Options{RescanInterval: -1, NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	r := mux.NewRouter()
	New(Config{Store: store.New(ix, 0, nil), MaxFind: 200_000}).Register(r)
	req := httptest.NewRequest(http.MethodGet, "/api/tree?prefix=big&offset=10000&limit=10", nil)
	allocs := testing.AllocsPerRun(20, func() {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
	if allocs > 500 {
		t.Errorf("a page of 10 from %d names: %.0f allocations, want < 500 (the list is copied?)", n, allocs)
	}
}
