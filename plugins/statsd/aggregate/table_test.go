package aggregate

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"testing"
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
		name, tags := splitStored(k)
		if got, _ := tb.find(tb.entries[e].hash, name, tags); got != e {
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

// splitStored splits a stored key into the name and tags a lookup takes
// (tags nil for a plain key).
func splitStored(k string) (name, tags []byte) {
	if i := strings.Index(k, "|#"); i >= 0 {
		return []byte(k[:i]), []byte(k[i+2:])
	}
	return []byte(k), nil
}
