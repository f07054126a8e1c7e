package cache

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"unsafe"
)

func TestAddTakeRequeue(t *testing.T) {
	c := New(5)
	name := []byte("a.b")
	for i := 0; i < 3; i++ {
		if !c.Add(name, int64(10*i), float64(i)) {
			t.Fatal("refused below the bound")
		}
	}
	c.Add([]byte("x"), 5, 5)
	c.Add([]byte("y"), 5, 5)
	if c.Add([]byte("z"), 5, 5) {
		t.Fatal("accepted over the bound")
	}
	st := c.Stats()
	if st.Points != 5 || st.Metrics != 3 || st.DroppedFull != 1 || st.Added != 5 {
		t.Fatalf("stats %+v", st)
	}
	var got []Batch
	for i := 0; i < Shards; i++ {
		got = c.Take(i, got)
	}
	if len(got) != 3 || c.Size() != 0 {
		t.Fatalf("took %d batches, size %d", len(got), c.Size())
	}
	var ab Batch
	for _, b := range got {
		if b.Name == "a.b" {
			ab = b
		}
	}
	if len(ab.Points) != 3 || ab.Points[2] != MakePoint(20, 2) {
		t.Fatalf("a.b points %v", ab.Points)
	}
	// A newer point arrives while the batch is out; a failed write requeues
	// the old ones in front of it.
	c.Add(name, 30, 3)
	c.Requeue(ab)
	if c.Size() != 4 {
		t.Fatalf("size after requeue %d", c.Size())
	}
	again := c.Take(ShardOf(name), nil)
	if len(again) != 1 || len(again[0].Points) != 4 || again[0].Points[0].Time() != 0 || again[0].Points[3].Time() != 30 {
		t.Fatalf("after requeue: %+v", again)
	}
}

func TestConcurrent(t *testing.T) {
	c := New(0)
	var wg sync.WaitGroup
	const adders, per = 4, 20000
	for a := 0; a < adders; a++ {
		wg.Add(1)
		go func(a int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				c.Add([]byte(fmt.Sprintf("m.%d", i%1000)), int64(i), 1)
			}
		}(a)
	}
	taken := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		for i := 0; i < Shards; i++ {
			for _, b := range c.Take(i, nil) {
				taken += len(b.Points)
			}
		}
	}
	for i := 0; i < Shards; i++ {
		for _, b := range c.Take(i, nil) {
			taken += len(b.Points)
		}
	}
	if taken != adders*per || c.Size() != 0 {
		t.Fatalf("taken %d of %d, size %d", taken, adders*per, c.Size())
	}
}

func BenchmarkAdd(b *testing.B) {
	for _, metrics := range []int{10000, 1000000} {
		b.Run(fmt.Sprint(metrics), func(b *testing.B) {
			names := make([][]byte, metrics)
			for i := range names {
				names[i] = []byte(fmt.Sprintf("stats.timers.service%d.request.upper_90", i))
			}
			c := New(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c.Add(names[i%metrics], int64(i), 1)
				if i%metrics == metrics-1 {
					b.StopTimer()
					for s := 0; s < Shards; s++ {
						c.Take(s, nil)
					}
					b.StartTimer()
				}
			}
		})
	}
}

func BenchmarkAddParallel(b *testing.B) {
	names := make([][]byte, 100000)
	for i := range names {
		names[i] = []byte(fmt.Sprintf("stats.counters.host%d.hits.count", i))
	}
	c := New(0)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Add(names[i%len(names)], int64(i), 1)
			i++
		}
	})
}

// TestPointPacking: a point takes 12 bytes and gives back its time and the
// exact bits of its value; times outside whisper's 32 bits are clamped to
// its ends, where the writers refuse them (too old, too far ahead).
func TestPointPacking(t *testing.T) {
	if n := unsafe.Sizeof(Point{}); n != 12 {
		t.Fatalf("a Point takes %d bytes, want 12", n)
	}
	for _, v := range []float64{0, math.Copysign(0, -1), 1.5, -0.1, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(-1), math.NaN()} {
		for _, tm := range []int64{0, 1, 1796301520, math.MaxUint32} {
			p := MakePoint(tm, v)
			if p.Time() != tm || math.Float64bits(p.Value()) != math.Float64bits(v) {
				t.Errorf("MakePoint(%d, %v) gives back (%d, %v)", tm, v, p.Time(), p.Value())
			}
		}
	}
	if got := MakePoint(-5, 1).Time(); got != 0 {
		t.Errorf("time -5 kept as %d, want 0", got)
	}
	if got := MakePoint(1<<40, 1).Time(); got != math.MaxUint32 {
		t.Errorf("time 2^40 kept as %d, want %d", got, uint32(math.MaxUint32))
	}
}

// TestDeep: Deep compares the points waiting with the metrics holding them.
func TestDeep(t *testing.T) {
	c := New(0)
	if c.Deep(2) {
		t.Error("an empty cache is deep")
	}
	c.Add([]byte("a"), 1, 1)
	c.Add([]byte("b"), 1, 1)
	c.Add([]byte("a"), 2, 1)
	if c.Deep(2) {
		t.Error("3 points over 2 metrics is 2 a metric")
	}
	c.Add([]byte("b"), 2, 1)
	if !c.Deep(2) {
		t.Error("4 points over 2 metrics is not 2 a metric")
	}
	var all []Batch
	for i := 0; i < Shards; i++ {
		all = c.Take(i, all)
	}
	if c.Deep(1) || c.metrics.Load() != 0 {
		t.Errorf("after taking everything: deep, %d metrics", c.metrics.Load())
	}
	c.Requeue(all[0])
	if !c.Deep(2) || c.Deep(3) || c.metrics.Load() != 1 {
		t.Errorf("requeued 2 points of 1 metric: %d metrics", c.metrics.Load())
	}
}
