package aggregate

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestDispatcherKeepsOrderPerName: one reader's gauge sets and deltas for a
// name, spread over many datagrams and chunks, are applied in the order they
// arrived (the last absolute value plus the deltas after it), while the
// names are spread over every shard.
func TestDispatcherKeepsOrderPerName(t *testing.T) {
	a := New(DefaultConfig(), 4)
	d := a.NewDispatcher()
	w := d.NewWriter()
	const names, rounds = 200, 300
	for r := 1; r <= rounds; r++ {
		var b strings.Builder
		for n := 0; n < names; n++ {
			fmt.Fprintf(&b, "g%d:%d|g\ng%d:+1|g\n", n, r*1000+n, n)
		}
		w.AddPacket([]byte(b.String()))
		if r%7 == 0 {
			w.Flush()
		}
	}
	w.Flush()
	d.Close()
	for i, s := range a.Shards() {
		if len(s.gauges) == 0 {
			t.Errorf("shard %d got no gauge: names are not spread", i)
		}
	}
	got := flush(t, a, 100)
	for n := 0; n < names; n++ {
		expect(t, got, map[string]float64{fmt.Sprintf("stats.gauges.g%d", n): float64(rounds*1000 + n + 1)})
	}
}

// TestDispatcherCountsEverything: several writers at once (run with -race),
// every line and every packet is counted once, over chunk boundaries, with
// empty packets and lines without a name.
func TestDispatcherCountsEverything(t *testing.T) {
	a := New(DefaultConfig(), 3)
	d := a.NewDispatcher()
	const writers, packets, lines = 4, 500, 20
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w := d.NewWriter()
			defer w.Flush()
			for p := 0; p < packets; p++ {
				var b strings.Builder
				for l := 0; l < lines; l++ {
					fmt.Fprintf(&b, "c.w%d.n%d:1|c\n", i, l)
				}
				w.AddPacket([]byte(b.String()))
			}
			w.AddPacket(nil)
			w.AddPacket([]byte("\n\n"))
			w.AddPacket([]byte("no_colon_here\n"))
		}(i)
	}
	wg.Wait()
	d.Close()
	got := flush(t, a, 100)
	want := map[string]float64{
		"stats_counts.statsd.packets_received": writers * (packets + 3),
		"stats_counts.statsd.metrics_received": writers * (packets*lines + 1),
		"stats_counts.statsd.bad_lines_seen":   writers,
	}
	for i := 0; i < writers; i++ {
		for l := 0; l < lines; l++ {
			want[fmt.Sprintf("stats_counts.c.w%d.n%d", i, l)] = packets
		}
	}
	expect(t, got, want)
}
