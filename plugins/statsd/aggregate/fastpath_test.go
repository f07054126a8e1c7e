package aggregate

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomTags returns a DogStatsD tag list drawn from pieces that exercise
// the normalisation: duplicates, tags out of order, bare tags, empty keys
// or values, characters to sanitise ('/', spaces, non-ASCII, '='), a ':'
// or ';' inside a value.
func randomTags(r *rand.Rand) string {
	pieces := []string{"env:prod", "env:dev", "dc:eu-1", "host:web-042", "zone:a", "canary", "a", "b:1",
		"x/y:z w", "k:v:w", "k=v", "k;q:1", "é:ü", "env:", ":prod", "", "long:" + strings.Repeat("v", 40),
		"n.dot:1.5", "_u:-", "Z:9"}
	n := r.IntN(6)
	var tags []string
	for range n {
		tags = append(tags, pieces[r.IntN(len(pieces))])
	}
	return strings.Join(tags, ",")
}

// randomTaggedLines returns n lines of the simple tagged shape
// ("name:value|type|#tags", some with a bare "|#") over a few names, one
// in five with a DogStatsD field after the tags (which makes it a line for
// the general path).
func randomTaggedLines(r *rand.Rand, n int) []string {
	types := []string{"c", "ms", "g"}
	values := []string{"1", "2.5", "+3", "-1", "0", "17"}
	var lines []string
	for range n {
		typ := types[r.IntN(len(types))]
		v := values[r.IntN(len(values))]
		if typ == "ms" && v == "-1" {
			v = "1" // a negative timer is a bad line on either path
		}
		line := fmt.Sprintf("m.%s%d:%s|%s|#%s", typ, r.IntN(4), v, typ, randomTags(r))
		switch r.IntN(10) {
		case 0:
			line += "|c:container42" // DogStatsD 1.2's container id: no longer simple
		case 1:
			line += "|T1700000000" // and 1.3's timestamp
		}
		lines = append(lines, line)
	}
	return lines
}

// TestSimpleTaggedPathMatchesGeneral: random simple tagged lines, kept
// under their raw keys (Shard.addTagged), flush to exactly what the same
// lines give on the general path (Shard.lineKey: forced here by a sample
// rate of 1, which changes no value), bad tags counted alike; through a
// Dispatcher too, over several intervals.
func TestSimpleTaggedPathMatchesGeneral(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 20))
	cfg := DefaultConfig()
	cfg.LegacyNamespace = false
	simple, general, viaDisp := New(cfg, 1), New(cfg, 1), New(cfg, 3)
	rawKeys := 0
	for interval := int64(1); interval <= 3; interval++ {
		lines := randomTaggedLines(r, 2000)
		var fast, slow bytes.Buffer
		for _, l := range lines {
			fast.WriteString(l + "\n")
			i := strings.Index(l, "|#")
			slow.WriteString(l[:i] + "|@1" + l[i:] + "\n")
		}
		simple.Shards()[0].AddPacket(fast.Bytes())
		general.Shards()[0].AddPacket(slow.Bytes())
		d := viaDisp.NewDispatcher()
		w := d.NewWriter()
		w.AddPacket(fast.Bytes())
		w.Flush()
		d.Close()
		for _, k := range simple.Shards()[0].counters.keys {
			if i := strings.Index(k, "|#"); i >= 0 {
				rawKeys++
				if strings.Contains(k[i+1:], "|") {
					t.Errorf("raw key %q kept with a field after its tags", k)
				}
			}
		}
		want := flushLines(t, general, 10*interval)
		wantBad, _ := general.TakeBadTags()
		if wantBad == 0 {
			t.Fatalf("interval %d: no bad tags drawn", interval)
		}
		for name, a := range map[string]*Aggregator{"simple path": simple, "dispatcher": viaDisp} {
			got := flushLines(t, a, 10*interval)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("interval %d, %s: %s = %q, general path %q", interval, name, k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("interval %d, %s: %s = %q, not on the general path", interval, name, k, v)
				}
			}
			if n, _ := a.TakeBadTags(); n != wantBad {
				t.Errorf("interval %d, %s: %d bad tags, general path %d", interval, name, n, wantBad)
			}
		}
	}
	if rawKeys == 0 {
		t.Error("no raw tagged key kept: the simple path was not taken")
	}
}

// flushLines flushes a and returns its lines' values as text, by name,
// without the timing lines (which differ from run to run).
func flushLines(t *testing.T, a *Aggregator, ts int64) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(a.Flush(ts))), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("bad line %q", l)
		}
		if strings.Contains(f[0], "calculationtime") || strings.Contains(f[0], "processing_time") {
			continue
		}
		m[f[0]] = f[1]
	}
	return m
}
