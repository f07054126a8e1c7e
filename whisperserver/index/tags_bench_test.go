package index

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// benchTagged is the number of tagged series of the tag benchmarks: 50
// names × 2,000 hosts, each with env (3 values) and dc (5 values).
const benchTagged = 100_000

// tagBenchIndex writes the benchmark's tagged series as (empty) files in
// carbon's _tagged layout and indexes the folder.
func tagBenchIndex(b *testing.B) *Index {
	b.Helper()
	root := b.TempDir()
	envs := []string{"prod", "dev", "staging"}
	for i := 0; i < benchTagged; i++ {
		name := fmt.Sprintf("app.metric%02d;dc=dc%d;env=%s;host=host%04d", i%50, (i/50)%5, envs[(i/50)%3], i/50)
		rel, err := metricpath.Rel(name)
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	x, err := New(root, Options{RescanInterval: -1, NoWatch: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = x.Close() })
	if x.TaggedCount() != benchTagged {
		b.Fatalf("indexed %d tagged series, want %d", x.TaggedCount(), benchTagged)
	}
	return x
}

// reportP99 times each call of fn and reports the 99th percentile.
func reportP99(b *testing.B, fn func() int, want func(int) bool) {
	b.Helper()
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		n := fn()
		durs = append(durs, time.Since(t0))
		if !want(n) {
			b.Fatalf("unexpected result size %d", n)
		}
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkTags100k: seriesByTag's lookup (two expressions) and the
// autoComplete calls Grafana's tag editor makes, at 100,000 tagged series.
func BenchmarkTags100k(b *testing.B) {
	x := tagBenchIndex(b)
	find := func(exprs ...string) func() int {
		return func() int {
			s, err := x.FindSeries(exprs)
			if err != nil {
				b.Fatal(err)
			}
			return len(s)
		}
	}
	b.Run("seriesByTag/name=,env=", func(b *testing.B) {
		reportP99(b, find("name=app.metric07", "env=prod"), func(n int) bool { return n > 600 && n < 700 })
	})
	b.Run("seriesByTag/name=~,dc!=", func(b *testing.B) {
		reportP99(b, find("name=~app.metric0[0-4]", "dc!=dc1"), func(n int) bool { return n == 8000 })
	})
	b.Run("seriesByTag/env=,host=~", func(b *testing.B) {
		reportP99(b, find("env=prod", "host=~host1"), func(n int) bool { return n > 10000 })
	})
	// A new series between queries (a live system): the query then first
	// merges it into the sorted order.
	added := 0
	b.Run("seriesByTag/name=,env=/after-new-series", func(b *testing.B) {
		q := find("name=app.metric07", "env=prod")
		reportP99(b, func() int {
			x.mu.Lock()
			x.tags.add(fmt.Sprintf("app.metric07;env=prod;host=new%06d", added))
			x.mu.Unlock()
			added++
			return q()
		}, func(n int) bool { return n > 600 })
	})
	x.mu.Lock()
	for i := 0; i < added; i++ {
		x.tags.remove(fmt.Sprintf("app.metric07;env=prod;host=new%06d", i))
	}
	x.mu.Unlock()
	b.Run("autoComplete/tags/expr", func(b *testing.B) {
		reportP99(b, func() int {
			t, err := x.AutoCompleteTags([]string{"env=prod"}, "", 0)
			if err != nil {
				b.Fatal(err)
			}
			return len(t)
		}, func(n int) bool { return n == 3 })
	})
	b.Run("autoComplete/values/expr", func(b *testing.B) {
		reportP99(b, func() int {
			v, err := x.AutoCompleteValues([]string{"name=app.metric07", "dc=dc2"}, "host", "host1", 0)
			if err != nil {
				b.Fatal(err)
			}
			return len(v)
		}, func(n int) bool { return n == 100 })
	})
	b.Run("autoComplete/values/prefix", func(b *testing.B) {
		reportP99(b, func() int {
			v, err := x.AutoCompleteValues(nil, "host", "host1", 0)
			if err != nil {
				b.Fatal(err)
			}
			return len(v)
		}, func(n int) bool { return n == 100 })
	})
}
