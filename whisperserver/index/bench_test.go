package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFind globs over an index of 20,000 names in 100 folders.
func BenchmarkFind(b *testing.B) {
	root := b.TempDir()
	for d := 0; d < 100; d++ {
		dir := filepath.Join(root, "bench", fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for m := 0; m < 200; m++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%04d.wsp", m)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Folders as they are in production: last changed a while ago (a
	// folder changed in the last seconds is re-read on each query).
	old := time.Now().Add(-time.Hour)
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			return os.Chtimes(p, old, old)
		}
		return err
	})
	x, err := New(root, Options{RescanInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ms, err := x.Find(ctx, "bench.*.m000*", 0)
		if err != nil || len(ms) != 1000 {
			b.Fatalf("%v %d", err, len(ms))
		}
	}
}
