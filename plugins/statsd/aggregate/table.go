package aggregate

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"strings"
)

// keyTable maps a shard's keys of one metric type to their state for the
// current interval (V: a counter's sum, a timer's or gauge's accumulator).
// It is built for lookups whose keys are mostly already present and whose
// table is larger than the CPU caches:
//
//   - slots is an open-addressed index (linear probing, at most half full):
//     each slot holds 32 bits of the key's hash and the position of its
//     entry, so a probe that meets another key is settled without reading
//     that key's entry;
//   - entries holds, per key, its hash, its state and a copy of the key
//     when it fits (inlineKey bytes, enough for most tagged raw keys): a hit
//     reads one slot and one entry (two adjacent cache lines);
//   - keys holds every key as a string, read only for keys too long to be
//     inline, by the merge at a flush and when the table is rebuilt.
//
// A key is either a plain key (a name, or a key the general path built) or
// a simple tagged line's raw key, name + "|#" + tags as sent (see
// Shard.addTagged): lookups take the name and the tail "|#tags" apart, as
// they are in the line (tail empty for a plain key), so a line's key is
// never copied to be looked up, and the hash of a raw key is rawKeyHash,
// computed from the line where its name's is (lineHashes).
//
// The slot of a hash is its top bits; Dispatcher picks a key's shard from
// the low 32 bits of its name's hash (shardOf), so a shard's keys still
// spread over all its slots.
//
// prefetch reads the slot and entry a later lookup will need, so that the
// cache misses of several keys can overlap (see Shard.addBatch).
type keyTable[V any] struct {
	slots   []uint64
	shift   uint // 64 - log2(len(slots))
	entries []tableEntry[V]
	keys    []string
	// norms holds, per key, the normalised key a raw tagged key stands for
	// (Shard.addTagged), "" when the key is already normalised.
	norms []string
}

// entryBytes is the size of an entry: two 64-byte cache lines, which a hit
// reads together (adjacent lines, fetched at once by most CPUs).
const entryBytes = 128

// inlineKey is how many bytes of key an entry holds: what is left of
// entryBytes after the hash, the 8-byte state, the length and the flag.
const inlineKey = entryBytes - 8 - 8 - 4 - 1

type tableEntry[V any] struct {
	hash    uint64
	val     V // 8 bytes: a float64 or a pointer
	keyLen  uint32
	touched bool
	key     [inlineKey]byte // the key, when keyLen <= inlineKey
}

// minSlots is the smallest index a table has.
const minSlots = 64

func newKeyTable[V any]() keyTable[V] {
	return keyTable[V]{slots: make([]uint64, minSlots), shift: 64 - uint(bits.TrailingZeros(minSlots))}
}

// Len is the number of keys held.
func (t *keyTable[V]) Len() int { return len(t.entries) }

// slotTag is what a slot holds for entry i of a key with hash h: the low 32
// bits of the hash above i+1 (so an empty slot, 0, matches nothing).
func slotTag(h uint64, i int) uint64 { return h<<32 | uint64(i+1) }

// prefetchSlot reads the slot where hash h's search starts and returns it,
// so the read is not optimised away. It changes nothing.
func (t *keyTable[V]) prefetchSlot(h uint64) uint64 { return t.slots[h>>t.shift] }

// prefetch reads the slot where hash h's search starts and both cache
// lines of the entry that slot points to, and returns a value derived from
// them so the reads are not optimised away. It changes nothing.
func (t *keyTable[V]) prefetch(h uint64) uint64 {
	s := t.slots[h>>t.shift]
	if i := uint32(s); i != 0 {
		en := &t.entries[i-1]
		return s + en.hash + uint64(en.key[inlineKey-1])
	}
	return s
}

// find returns the entry index of the key name + tail (tail empty for a
// plain key, "|#" + tags for a raw tagged key), whose hash is h, or -1 and
// the empty slot where it would go.
func (t *keyTable[V]) find(h uint64, name, tail []byte) (entry, slot int) {
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
		if t.keyIs(e, name, tail) {
			return e, int(i)
		}
	}
}

// keyIs reports whether entry e's key is name + tail.
func (t *keyTable[V]) keyIs(e int, name, tail []byte) bool {
	en := &t.entries[e]
	n := len(name) + len(tail)
	if int(en.keyLen) != n {
		return false
	}
	if n <= inlineKey {
		k := en.key[:n]
		return bytes.Equal(k[:len(name)], name) && bytes.Equal(k[len(name):], tail)
	}
	k := t.keys[e]
	return k[:len(name)] == string(name) && k[len(name):] == string(tail)
}

// insert appends a new entry for the key name + tail, with state v and
// norm (see norms), and points slot (found empty by find) at it, growing
// the index first when it would be more than half full. It returns the
// entry's index.
func (t *keyTable[V]) insert(h uint64, name, tail []byte, slot int, v V, norm string) int {
	e := len(t.entries)
	if 2*(e+1) > len(t.slots) {
		t.rebuild(2 * len(t.slots))
		_, slot = t.find(h, name, tail)
	}
	key := string(name) + string(tail)
	en := tableEntry[V]{hash: h, val: v, keyLen: uint32(len(key))}
	copy(en.key[:], key) // all of it when it fits, a prefix otherwise
	t.entries = append(t.entries, en)
	t.keys = append(t.keys, key)
	t.norms = append(t.norms, norm)
	t.slots[slot] = slotTag(h, e)
	return e
}

// rebuild makes an index of n slots (a power of two, more than twice the
// entries) and fills it from the entries' hashes.
func (t *keyTable[V]) rebuild(n int) {
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

// sweep ends an interval: it calls emit with the (normalised) key and the
// state of every key touched since the last sweep, which it marks
// untouched (emit resets the state as it needs); keys not touched since
// the last sweep are dropped. When keys were dropped the index is rebuilt,
// halved while the halved index would be less than a quarter full.
func (t *keyTable[V]) sweep(emit func(key string, v *V)) {
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
		emit(k, &en.val)
		en.touched = false
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
	clear(t.entries[kept:]) // let the dropped states' pointers go
	clear(t.keys[kept:])    // and the dropped keys' strings
	clear(t.norms[kept:])
	t.entries, t.keys, t.norms = t.entries[:kept], t.keys[:kept], t.norms[:kept]
	if cap(t.entries) > 4*minSlots && cap(t.entries) > 4*kept {
		t.entries = append(make([]tableEntry[V], 0, 2*kept), t.entries...)
		t.keys = append(make([]string, 0, 2*kept), t.keys...)
		t.norms = append(make([]string, 0, 2*kept), t.norms...)
	}
	n := len(t.slots)
	for n > minSlots && 8*kept < n {
		n /= 2
	}
	t.rebuild(n)
}

// counterTable is the table of a shard's counters: each key's sum.
type counterTable = keyTable[float64]

func newCounterTable() counterTable { return newKeyTable[float64]() }

// addCount adds v to the sum of the key name + tail (h is its hash, the
// same function of the key on every call) and marks it touched, inserting
// the key when new.
func addCount(t *counterTable, h uint64, name, tail []byte, v float64) {
	e, slot := t.find(h, name, tail)
	if e < 0 {
		e = t.insert(h, name, tail, slot, 0, "")
	}
	en := &t.entries[e]
	en.val += v
	en.touched = true
}

// keyHash is the hash the shards' tables use for a plain key: maphash of
// the key with the aggregator's seed.
func keyHash(seed maphash.Seed, key []byte) uint64 { return maphash.Bytes(seed, key) }

// rawKeyHash is the hash of a raw tagged key (name + tail, tail "|#" +
// tags) from the keyHash of its name and of its tail, so that it is
// computed from the line without copying the key. The rotation keeps a
// name and tail of the same bytes from cancelling out.
func rawKeyHash(nameHash, tailHash uint64) uint64 {
	return nameHash ^ bits.RotateLeft64(tailHash, 31)
}

// storedKeyHash is the hash a table holds a stored key under: rawKeyHash
// for a raw tagged key, keyHash otherwise.
func storedKeyHash(seed maphash.Seed, key string) uint64 {
	if i := strings.Index(key, "|#"); i >= 0 {
		return rawKeyHash(keyHash(seed, []byte(key[:i])), keyHash(seed, []byte(key[i:])))
	}
	return keyHash(seed, []byte(key))
}
