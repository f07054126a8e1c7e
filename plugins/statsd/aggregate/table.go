package aggregate

import (
	"bytes"
	"hash/maphash"
	"math/bits"
)

// counterTable maps a shard's counter keys to their sums for the current
// interval. It is built for lookups whose keys are mostly already present
// and whose table is larger than the CPU caches:
//
//   - slots is an open-addressed index (linear probing, at most half full):
//     each slot holds 32 bits of the key's hash and the position of its
//     entry, so a probe that meets another key is settled without reading
//     that key's entry;
//   - entries holds, per key, its hash, its sum and a copy of the key when
//     it fits (inlineKey bytes): a hit reads one slot and one 64-byte entry;
//   - keys holds every key as a string, read only for keys too long to be
//     inline, by the merge at a flush and when the table is rebuilt.
//
// The slot of a hash is its top bits; Dispatcher picks a key's shard from
// the low 32 bits (shardOf), so a shard's keys still spread over all its
// slots.
//
// prefetch reads the slot and entry a later add will need, so that the
// cache misses of several keys can overlap (see Shard.addBatch).
type counterTable struct {
	slots   []uint64
	shift   uint // 64 - log2(len(slots))
	entries []counterEntry
	keys    []string
	// norms holds, per key, the normalised key a raw tagged key stands for
	// (Shard.addTagged), "" when the key is already normalised.
	norms []string
}

// inlineKey is how many bytes of key an entry holds, sized so that an
// entry is 64 bytes (one cache line on the machines this runs on).
const inlineKey = 43

type counterEntry struct {
	hash    uint64
	sum     float64
	keyLen  uint32
	touched bool
	key     [inlineKey]byte // the key, when keyLen <= inlineKey
}

// minSlots is the smallest index a table has.
const minSlots = 64

func newCounterTable() counterTable {
	return counterTable{slots: make([]uint64, minSlots), shift: 64 - uint(bits.TrailingZeros(minSlots))}
}

// Len is the number of keys held.
func (t *counterTable) Len() int { return len(t.entries) }

// slotTag is what a slot holds for entry i of a key with hash h: the low 32
// bits of the hash above i+1 (so an empty slot, 0, matches nothing).
func slotTag(h uint64, i int) uint64 { return h<<32 | uint64(i+1) }

// prefetch reads the slot where hash h's search starts and the entry that
// slot points to, and returns a value derived from both so the reads are
// not optimised away. It changes nothing.
func (t *counterTable) prefetch(h uint64) uint64 {
	s := t.slots[h>>t.shift]
	if i := uint32(s); i != 0 {
		return s + t.entries[i-1].hash
	}
	return s
}

// find returns the entry index of key (whose hash is h), or -1 and the
// empty slot where it would go.
func (t *counterTable) find(h uint64, key []byte) (entry, slot int) {
	mask := uint64(len(t.slots) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return -1, int(i)
		}
		if s>>32 != h&0xffffffff {
			continue
		}
		e := int(uint32(s)) - 1
		if t.keyIs(e, key) {
			return e, int(i)
		}
	}
}

// keyIs reports whether entry e's key is key.
func (t *counterTable) keyIs(e int, key []byte) bool {
	en := &t.entries[e]
	if int(en.keyLen) != len(key) {
		return false
	}
	if len(key) <= inlineKey {
		return bytes.Equal(en.key[:len(key)], key)
	}
	return t.keys[e] == string(key)
}

// add adds v to key's sum (h is the key's hash, the same function of the
// key on every call) and marks it touched, inserting the key when new.
func (t *counterTable) add(h uint64, key []byte, v float64) {
	e, slot := t.find(h, key)
	if e < 0 {
		e = t.insert(h, key, slot)
	}
	en := &t.entries[e]
	en.sum += v
	en.touched = true
}

// insert appends a new entry for key and points slot (found empty by find)
// at it, growing the index first when it would be more than half full.
func (t *counterTable) insert(h uint64, key []byte, slot int) int {
	e := len(t.entries)
	if 2*(e+1) > len(t.slots) {
		t.rebuild(2 * len(t.slots))
		_, slot = t.find(h, key)
	}
	en := counterEntry{hash: h, keyLen: uint32(len(key))}
	copy(en.key[:], key) // all of it when it fits, a prefix otherwise
	t.entries = append(t.entries, en)
	t.keys = append(t.keys, string(key))
	t.norms = append(t.norms, "")
	t.slots[slot] = slotTag(h, e)
	return e
}

// rebuild makes an index of n slots (a power of two, more than twice the
// entries) and fills it from the entries' hashes.
func (t *counterTable) rebuild(n int) {
	if n == len(t.slots) {
		clear(t.slots)
	} else {
		t.slots = make([]uint64, n)
		t.shift = 64 - uint(bits.TrailingZeros(uint(n)))
	}
	mask := uint64(n - 1)
	for e := range t.entries {
		h := t.entries[e].hash
		i := h >> t.shift
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = slotTag(h, e)
	}
}

// sweep ends an interval: it calls emit with the (normalised) key and sum of every key
// touched since the last sweep and resets it to 0, untouched; keys not
// touched since the last sweep are dropped. When keys were dropped the
// index is rebuilt, halved while the halved index would be less than a
// quarter full.
func (t *counterTable) sweep(emit func(key string, sum float64)) {
	kept := 0
	for e := range t.entries {
		en := &t.entries[e]
		if !en.touched {
			continue
		}
		k := t.keys[e]
		if t.norms[e] != "" {
			k = t.norms[e]
		}
		emit(k, en.sum)
		en.sum, en.touched = 0, false
		if kept != e {
			t.entries[kept] = *en
			t.keys[kept] = t.keys[e]
			t.norms[kept] = t.norms[e]
		}
		kept++
	}
	if kept == len(t.entries) {
		return
	}
	clear(t.keys[kept:]) // let the dropped keys' strings go
	clear(t.norms[kept:])
	t.entries, t.keys, t.norms = t.entries[:kept], t.keys[:kept], t.norms[:kept]
	if cap(t.entries) > 4*minSlots && cap(t.entries) > 4*kept {
		t.entries = append(make([]counterEntry, 0, 2*kept), t.entries...)
		t.keys = append(make([]string, 0, 2*kept), t.keys...)
		t.norms = append(make([]string, 0, 2*kept), t.norms...)
	}
	n := len(t.slots)
	for n > minSlots && 8*kept < n {
		n /= 2
	}
	t.rebuild(n)
}

// keyHash is the hash the shards' tables use: maphash of the key with the
// aggregator's seed. nameHash computes the same for a line whose key is its
// name.
func keyHash(seed maphash.Seed, key []byte) uint64 { return maphash.Bytes(seed, key) }
