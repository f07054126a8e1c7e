package aggregate

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd/protocol"
)

// tableSums sweeps t and returns what it emitted.
func tableSums(t *testing.T, tb *counterTable) map[string]float64 {
	t.Helper()
	got := map[string]float64{}
	tb.sweep(func(k string, v *float64) {
		if _, dup := got[k]; dup {
			t.Errorf("key %q emitted twice", k)
		}
		got[k] = *v
		*v = 0
	})
	return got
}

// checkTable checks the table's invariants: the index is a power of two,
// at most half full, and every entry is reachable from its hash through
// exactly one slot.
func checkTable[V any](t *testing.T, tb *keyTable[V]) {
	t.Helper()
	n := len(tb.slots)
	if n < minSlots || bits.OnesCount(uint(n)) != 1 || tb.shift != 64-uint(bits.TrailingZeros(uint(n))) {
		t.Fatalf("index of %d slots, shift %d", n, tb.shift)
	}
	if 2*len(tb.entries) > n {
		t.Fatalf("%d entries in %d slots: more than half full", len(tb.entries), n)
	}
	if len(tb.keys) != len(tb.entries) {
		t.Fatalf("%d keys for %d entries", len(tb.keys), len(tb.entries))
	}
	seen := make([]bool, len(tb.entries))
	used := 0
	for _, s := range tb.slots {
		if s == 0 {
			continue
		}
		used++
		e := int(uint32(s)) - 1
		if e >= len(tb.entries) || seen[e] {
			t.Fatalf("slot %#x points at entry %d of %d (or twice)", s, e, len(tb.entries))
		}
		seen[e] = true
		if s>>32 != tb.entries[e].hash&0xffffffff {
			t.Fatalf("slot %#x: tag does not match entry hash %#x", s, tb.entries[e].hash)
		}
	}
	if used != len(tb.entries) {
		t.Fatalf("%d slots used for %d entries", used, len(tb.entries))
	}
	for e, k := range tb.keys {
		name, tail := splitStored(k)
		if got, _ := tb.find(tb.entries[e].hash, name, tail); got != e {
			t.Fatalf("key %q: found entry %d, want %d", k, got, e)
		}
	}
}

func TestCounterTableGrowsAndShrinks(t *testing.T) {
	seed := maphash.MakeSeed()
	tb := newCounterTable()
	const n = 20000
	for round := 0; round < 3; round++ {
		for i := 0; i < n; i++ {
			k := []byte(fmt.Sprintf("grow.%d", i))
			addCount(&tb, keyHash(seed, k), k, nil, float64(i))
			if i%1000 == 0 {
				k := []byte("grow.0") // an early key, added again while growing
				addCount(&tb, keyHash(seed, k), k, nil, 1)
			}
		}
	}
	checkTable(t, &tb)
	if tb.Len() != n {
		t.Fatalf("Len %d, want %d", tb.Len(), n)
	}
	if len(tb.slots) < 2*n || len(tb.slots) > 4*n {
		t.Fatalf("%d slots for %d keys", len(tb.slots), n)
	}
	got := tableSums(t, &tb)
	if len(got) != n {
		t.Fatalf("%d sums, want %d", len(got), n)
	}
	for i := 0; i < n; i++ {
		want := 3 * float64(i)
		if i == 0 {
			want = 3 * n / 1000
		}
		if g := got[fmt.Sprintf("grow.%d", i)]; g != want {
			t.Fatalf("grow.%d = %v, want %v", i, g, want)
		}
	}
	// All were touched, so all stay, at 0, untouched.
	checkTable(t, &tb)
	if tb.Len() != n {
		t.Fatalf("after the sweep Len %d, want %d", tb.Len(), n)
	}
	// Touch a few: the next sweep emits only them and drops the rest, and
	// the index shrinks.
	for i := 0; i < n; i += 1000 {
		k := []byte(fmt.Sprintf("grow.%d", i))
		addCount(&tb, keyHash(seed, k), k, nil, 2)
	}
	got = tableSums(t, &tb)
	if len(got) != n/1000 {
		t.Fatalf("%d sums after touching %d keys: %v", len(got), n/1000, got)
	}
	for k, v := range got {
		if v != 2 {
			t.Errorf("%s = %v, want 2 (reset by the previous sweep)", k, v)
		}
	}
	checkTable(t, &tb)
	if tb.Len() != n/1000 || len(tb.slots) > 8*minSlots {
		t.Fatalf("after dropping idle keys: Len %d, %d slots", tb.Len(), len(tb.slots))
	}
	// An idle interval drops everything; the table still works.
	if got := tableSums(t, &tb); len(got) != 0 {
		t.Fatalf("idle interval emitted %v", got)
	}
	checkTable(t, &tb)
	if tb.Len() != 0 || len(tb.slots) != minSlots {
		t.Fatalf("after an idle interval: Len %d, %d slots", tb.Len(), len(tb.slots))
	}
	k := []byte("grow.5")
	addCount(&tb, keyHash(seed, k), k, nil, 7)
	if got := tableSums(t, &tb); len(got) != 1 || got["grow.5"] != 7 {
		t.Fatalf("after re-adding: %v", got)
	}
}

// TestCounterTableCollisions gives distinct keys the same hash, hashes that
// share only the slot bits or only the tag bits, and keys that share a long
// prefix: each key keeps its own sum.
func TestCounterTableCollisions(t *testing.T) {
	tb := newCounterTable()
	long := strings.Repeat("x", inlineKey)
	keys := []string{
		"", "a", "b", "ab", "ba",
		long[:inlineKey-1], long, long + "y", long + "z", long + "yy",
		strings.Repeat("long.key.", 100) + "1", strings.Repeat("long.key.", 100) + "2",
	}
	hashes := []uint64{
		0,                   // all keys in one probe chain, same tag
		0xdeadbeef,          // same slot, same tag
		0xffffffff_00000001, // last slot, wraps around
		0x12345678_00000000, // shares the tag with 0
		0x00000000_12345678, // shares the slot with 0
		^uint64(0),          // all bits
		0x80000000_80000000, // middle
		0x7fffffff_ffffffff, // just below
		0xffffffff_ffffffff, // same as ^0
		0x00000001_00000000, // adjacent slot
		0xfffffffe_ffffffff, // adjacent slot at the end
		0x55555555_aaaaaaaa, // another
	}
	want := map[string]float64{}
	for round := 1; round <= 3; round++ {
		for i, k := range keys {
			// Callers always give a key the same hash.
			h := hashes[i%len(hashes)]
			if i%2 == 0 {
				h = 0 // half the keys share one hash
			}
			addCount(&tb, h, []byte(k), nil, float64(round*(i+1)))
			want[k] += float64(round * (i + 1))
		}
	}
	checkTable(t, &tb)
	got := tableSums(t, &tb)
	if len(got) != len(keys) {
		t.Fatalf("%d sums for %d keys: %v", len(got), len(keys), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%q = %v, want %v", k, got[k], w)
		}
	}
}

// TestCounterTableLongKeys: keys longer than an entry holds compare in full.
func TestCounterTableLongKeys(t *testing.T) {
	seed := maphash.MakeSeed()
	tb := newCounterTable()
	prefix := strings.Repeat("p", inlineKey)
	key := func(i int) []byte { return []byte(fmt.Sprintf("%s.%d", prefix, i)) }
	// The same hash for all: every key is in one probe chain, and only the
	// bytes after the inline prefix tell them apart.
	for round := 1; round <= 2; round++ {
		for i := 0; i < 300; i++ {
			addCount(&tb, 42, key(i), nil, float64(i*round))
		}
	}
	checkTable(t, &tb)
	got := tableSums(t, &tb)
	if len(got) != 300 {
		t.Fatalf("%d keys, want 300", len(got))
	}
	for i := 0; i < 300; i++ {
		if g := got[string(key(i))]; g != float64(3*i) {
			t.Errorf("key %d = %v, want %v", i, g, 3*i)
		}
	}
	// Real hashes, lengths around the inline size.
	tb = newCounterTable()
	for n := 0; n <= 3*inlineKey; n++ {
		k := []byte(strings.Repeat("k", n))
		addCount(&tb, keyHash(seed, k), k, nil, float64(n))
		addCount(&tb, keyHash(seed, k), k, nil, 1)
	}
	checkTable(t, &tb)
	got = tableSums(t, &tb)
	for n := 0; n <= 3*inlineKey; n++ {
		if g := got[strings.Repeat("k", n)]; g != float64(n+1) {
			t.Errorf("key of %d bytes = %v, want %v", n, g, n+1)
		}
	}
}

// splitStored splits a stored key into the name and tail a lookup takes
// (tail nil for a plain key).
func splitStored(k string) (name, tail []byte) {
	if i := strings.Index(k, "|#"); i >= 0 {
		return []byte(k[:i]), []byte(k[i:])
	}
	return []byte(k), nil
}

// TestKeyTableRawKeys: raw tagged keys (name + "|#" + tags) looked up as
// name and tail, beside plain keys that are a prefix or the same bytes
// split elsewhere, in tables of each state type, with real hashes and with
// one hash for all; many distinct keys, around and beyond the inline size.
func TestKeyTableRawKeys(t *testing.T) {
	seed := maphash.MakeSeed()
	type key struct{ name, tail string }
	var keys []key
	for i := 0; i < 3000; i++ {
		name := fmt.Sprintf("app.req%d", i%300)
		tail := ""
		switch i % 10 {
		case 0: // plain
			name = fmt.Sprintf("app.req%d", i)
		case 1: // a prefix of the others' tags
			name, tail = fmt.Sprintf("app.req%d", i), "|#env:prod"
		default:
			tail = fmt.Sprintf("|#env:prod,host:web-%03d,%s", i, strings.Repeat("t", i%(2*inlineKey)))
		}
		keys = append(keys, key{name, tail})
	}
	// Plain keys that are a raw key's name, or its name and part of its
	// tail (no name holds '|', but the table does not rely on it).
	keys = append(keys, key{"app.req1", ""}, key{"app.req1|", ""}, key{"app.req11|#env", ""})
	for _, oneHash := range []bool{false, true} {
		counters := newCounterTable()
		timers := newKeyTable[*timerAcc]()
		hash := func(k key) uint64 {
			if oneHash {
				return 7
			}
			return storedKeyHash(seed, k.name+k.tail)
		}
		n := len(keys)
		if oneHash {
			n = 400 // one probe chain: quadratic
		}
		for round := 1; round <= 2; round++ {
			for i, k := range keys[:n] {
				addCount(&counters, hash(k), []byte(k.name), []byte(k.tail), float64(i))
				e, slot := timers.find(hash(k), []byte(k.name), []byte(k.tail))
				if e < 0 {
					if round == 2 {
						t.Fatalf("key %q+%q not found again", k.name, k.tail)
					}
					e = timers.insert(hash(k), []byte(k.name), []byte(k.tail), slot, &timerAcc{}, "")
				}
				timers.entries[e].val.add(protocolTimer(float64(i)))
			}
		}
		checkTable(t, &counters)
		checkTable(t, &timers)
		got := tableSums(t, &counters)
		if len(got) != n {
			t.Fatalf("oneHash %v: %d sums for %d keys", oneHash, len(got), n)
		}
		for i, k := range keys[:n] {
			if g := got[k.name+k.tail]; g != float64(2*i) {
				t.Errorf("oneHash %v: %q = %v, want %v", oneHash, k.name+k.tail, g, 2*i)
			}
		}
		for e := range timers.entries {
			en := &timers.entries[e]
			if len(en.val.values) != 2 || en.val.values[0] != en.val.values[1] {
				t.Fatalf("timer %q: values %v, want one value twice", timers.keys[e], en.val.values)
			}
		}
	}
}

// TestRawKeyHashIsTheLines: the hash lineHashes computes from a line is the
// one storedKeyHash computes from the raw key it is stored under, and the
// name's hash picks the shard whatever the tags.
func TestRawKeyHashIsTheLines(t *testing.T) {
	seed := maphash.MakeSeed()
	for _, c := range []struct {
		line, key string
		kind      byte
	}{
		{"a.b:1|c|#env:prod", "a.b|#env:prod", 'c'},
		{"a.b:1|c", "a.b", 'c'},
		{"a.b:1|c|#", "a.b", 'c'},
		{"a.b:2.5|ms|#x:y,z:w", "a.b|#x:y,z:w", 's'},
		{"a.b:+1|g|#x", "a.b|#x", 'g'},
		{"a.b:3|ms", "a.b", 's'},
	} {
		name, key, kind := lineHashes(seed, []byte(c.line), true)
		if name != keyHash(seed, []byte("a.b")) {
			t.Errorf("%q: name hash is not the name's", c.line)
		}
		if key != storedKeyHash(seed, c.key) {
			t.Errorf("%q: key hash is not the one of %q", c.line, c.key)
		}
		if kind != c.kind {
			t.Errorf("%q: kind %q, want %q", c.line, kind, c.kind)
		}
		if _, k2, _ := lineHashes(seed, []byte(c.line), false); k2 != name {
			t.Errorf("%q without keep-tags: key hash is not the name's", c.line)
		}
	}
}

func protocolTimer(v float64) protocol.Sample {
	return protocol.Sample{Type: protocol.Timer, Value: v, Count: 1}
}
