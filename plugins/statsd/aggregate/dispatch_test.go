package aggregate

import (
	"fmt"
	"hash/maphash"
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

// TestDispatcherMatchesShard: mixed lines (tags, names that need
// sanitising, sample rates, several samples per line, every type, bad and
// ignored lines) give the same flushes through a Dispatcher, whose readers
// hash each name for the workers, as through Shard.AddPacket, over several
// intervals in which names go idle and come back; and every counter entry
// is under its key's own hash, once.
func TestDispatcherMatchesShard(t *testing.T) {
	lines := func(round int) []byte {
		var b strings.Builder
		for n := 0; n < 300; n++ {
			if (n+round)%5 == 0 {
				continue // idle this interval
			}
			fmt.Fprintf(&b, "c.%d:1|c\n", n)
			fmt.Fprintf(&b, "c.%d:2|c|@0.5\n", n)
			fmt.Fprintf(&b, "tagged.%d:3|c|#env:prod,host:h%d\n", n%7, n)
			fmt.Fprintf(&b, "needs sanitising/%d:4|c\n", n%11)
			fmt.Fprintf(&b, "multi.%d:1|c:2|c:5|ms\n", n%13)
			fmt.Fprintf(&b, "t.%d:%d|ms\ng.%d:+%d|g\ns.%d:%d|s\n", n%17, n, n%19, n, n%23, n)
			fmt.Fprintf(&b, "bad.%d\nbad.%d:x|c\n_e{1,1}:a|b\n\n", n, n)
		}
		return []byte(b.String())
	}
	cfg := DefaultConfig()
	cfg.KeepTags = true
	direct, viaDisp := New(cfg, 1), New(cfg, 3)
	strip := func(out []byte) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(l)
			if strings.Contains(f[0], "calculationtime") || strings.Contains(f[0], "processing_time") {
				continue
			}
			m[f[0]] = f[1]
		}
		return m
	}
	for round := 1; round <= 4; round++ {
		pkt := lines(round)
		direct.Shards()[0].AddPacket(pkt)
		d := viaDisp.NewDispatcher()
		w := d.NewWriter()
		// The same lines as datagrams of about 20 lines.
		for rest := pkt; len(rest) > 0; {
			cut := 0
			for i := 0; i < 20 && cut < len(rest); i++ {
				_, after := nextLine(rest[cut:])
				cut = len(rest) - len(after)
			}
			w.AddPacket(rest[:cut])
			rest = rest[cut:]
		}
		w.Flush()
		d.Close()
		for i, s := range viaDisp.Shards() {
			seen := map[string]bool{}
			for e, k := range s.counters.keys {
				if seen[k] {
					t.Fatalf("round %d shard %d: key %q twice", round, i, k)
				}
				seen[k] = true
				if h := s.counters.entries[e].hash; h != storedKeyHash(viaDisp.seed, k) {
					t.Fatalf("round %d shard %d: key %q under hash %#x, not its own", round, i, k, h)
				}
			}
		}
		// The datagrams are counted as packets only through the
		// dispatcher; everything else must agree.
		want := strip(direct.Flush(int64(10 * round)))
		got := strip(viaDisp.Flush(int64(10 * round)))
		delete(want, "stats_counts.statsd.packets_received")
		delete(want, "stats.statsd.packets_received")
		delete(got, "stats_counts.statsd.packets_received")
		delete(got, "stats.statsd.packets_received")
		if len(got) != len(want) || len(got) < 100 {
			t.Errorf("round %d: %d names through the dispatcher, %d direct", round, len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("round %d: %s = %q through the dispatcher, %q direct", round, k, got[k], v)
			}
		}
	}
}

// BenchmarkDispatchCounters reports the CPU cost of a counter line on its
// way through the dispatcher, reader side (split, hash, copy into chunks)
// and worker side (aggregation) together, run one after the other on one
// goroutine: 20 lines per datagram, 1,000 and 100,000 names, 2 shards.
func BenchmarkDispatchCounters(b *testing.B) {
	for _, names := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("names=%d", names), func(b *testing.B) {
			var pkts [][]byte
			for p := 0; p < names/20; p++ {
				var sb strings.Builder
				for i := 0; i < 20; i++ {
					fmt.Fprintf(&sb, "bench.n%06d:1|c\n", p*20+i)
				}
				pkts = append(pkts, []byte(sb.String()))
			}
			a := New(DefaultConfig(), 2)
			d := a.newDispatcher()
			w := d.NewWriter()
			drain := func() {
				for k, q := range d.queues {
					for len(q) > 0 {
						c := <-q
						a.shards[k].addChunk(c)
						c.reset()
						d.free <- c
					}
				}
			}
			for _, p := range pkts {
				w.AddPacket(p)
				drain()
			}
			w.Flush()
			drain()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.AddPacket(pkts[i%len(pkts)])
				if i%64 == 63 {
					w.Flush() // as a reader does after a batch
					drain()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*20), "ns/line")
		})
	}
}

// TestShardOf: every shard gets its share of hashes, and only shards that
// exist are picked.
func TestShardOf(t *testing.T) {
	seed := maphash.MakeSeed()
	for _, n := range []int{1, 2, 3, 4, 7, 16} {
		counts := make([]int, n)
		const names = 70000
		for i := 0; i < names; i++ {
			k := shardOf(keyHash(seed, []byte(fmt.Sprintf("bench.n%06d", i))), n)
			if k < 0 || k >= n {
				t.Fatalf("shardOf(_, %d) = %d", n, k)
			}
			counts[k]++
		}
		for k, c := range counts {
			if c < names/n*9/10 || c > names/n*11/10 {
				t.Errorf("%d shards: shard %d got %d of %d names", n, k, c, names)
			}
		}
		for _, h := range []uint64{0, ^uint64(0), 0xffffffff, 1 << 32} {
			if k := shardOf(h, n); k < 0 || k >= n {
				t.Fatalf("shardOf(%#x, %d) = %d", h, n, k)
			}
		}
	}
}
