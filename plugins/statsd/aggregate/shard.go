package aggregate

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd/protocol"
)

type timerAcc struct {
	values  []float64
	count   float64
	touched bool
}

type gaugeAcc struct {
	set     bool    // an absolute value was seen this interval
	base    float64 // running value since the last absolute value
	delta   float64 // sum of deltas when no absolute value was seen
	touched bool
}

// add applies one gauge sample.
func (g *gaugeAcc) add(smp protocol.Sample) {
	switch {
	case !smp.Delta:
		g.set, g.base, g.delta = true, smp.Value, 0
	case g.set:
		g.base += smp.Value
	default:
		g.delta += smp.Value
	}
	g.touched = true
}

type setAcc struct {
	members map[string]struct{}
	touched bool
}

// Shard accumulates the samples of one reader between two flushes. Its
// methods are safe for concurrent use; one reader per shard keeps its mutex
// uncontended. Steady state (names already seen) allocates nothing per line.
type Shard struct {
	mu       sync.Mutex
	keepTags bool
	seed     maphash.Seed // for nameHash and keyHash
	scratch  []byte

	// The tables of the keys of the interval, plain and raw tagged (see
	// addTagged), one per metric type.
	counters counterTable
	timers   keyTable[*timerAcc]
	// gaugeKeys: each key's accumulator, the one in gauges of its
	// normalised key.
	gaugeKeys keyTable[*gaugeAcc]
	gauges    map[string]*gaugeAcc // normalised key → its accumulator
	sets      map[string]*setAcc

	packets, metrics, bad, ignored int64

	tagWork       []byte // NormalizeTags' output
	memo          map[string]memoKey
	memoID        []byte
	badTags       int64  // lines refused for their tags this interval
	badTagExample string // the first of them, with the reason

	sink uint64 // what addBatch's advance reads sum to, kept so they stay
}

func newShard(keepTags bool, seed maphash.Seed) *Shard {
	return &Shard{
		keepTags:  keepTags,
		seed:      seed,
		scratch:   make([]byte, 0, 256),
		tagWork:   make([]byte, 0, 256),
		counters:  newCounterTable(),
		timers:    newKeyTable[*timerAcc](),
		gaugeKeys: newKeyTable[*gaugeAcc](),
		gauges:    map[string]*gaugeAcc{},
		sets:      map[string]*setAcc{},
	}
}

// AddPacket processes one datagram (or one chunk of whole lines read from a
// TCP stream): lines separated by '\n', empty lines skipped. It counts one
// packet, one metric per non-empty line and each bad sample.
func (s *Shard) AddPacket(p []byte) {
	s.mu.Lock()
	s.addPacket(p)
	s.mu.Unlock()
}

func (s *Shard) addPacket(p []byte) {
	s.packets++
	s.addLines(p)
}

// addLines processes lines separated by '\n', skipping empty ones, in
// batches.
func (s *Shard) addLines(p []byte) {
	var b lineBatch
	for len(p) > 0 {
		var line []byte
		line, p = nextLine(p)
		if len(line) == 0 {
			continue
		}
		b.lines[b.n] = line
		_, b.hashes[b.n], b.kinds[b.n] = lineHashes(s.seed, line, s.keepTags)
		if b.n++; b.n == batchLines {
			s.addBatch(&b)
			b.n = 0
		}
	}
	if b.n > 0 {
		s.addBatch(&b)
	}
}

// batchLines is how many lines addBatch takes at once: enough for the
// cache misses of their counter lookups to overlap, few enough that what
// the first passes read is still cached in the last.
const batchLines = 16

// lineBatch is up to batchLines non-empty lines, their key hashes and
// kinds (see lineHashes).
type lineBatch struct {
	n      int
	lines  [batchLines][]byte
	hashes [batchLines]uint64
	kinds  [batchLines]byte
}

// addBatch processes the lines of b in three passes: the first reads the
// index slot of each line's key hash in the table of its kind, the second
// the entry each slot points to, the third processes the lines. With the
// tables larger than the caches, the reads of the first two passes are
// independent of each other and their misses overlap, where one line after
// the other would wait for each in turn; for lines whose key is not the one
// hashed (the general path's), the reads are wasted but harmless.
func (s *Shard) addBatch(b *lineBatch) {
	hashes, kinds := b.hashes[:b.n], b.kinds[:b.n]
	var sink uint64
	for i, h := range hashes {
		switch kinds[i] {
		case 's':
			sink += s.timers.prefetchSlot(h)
		case 'g':
			sink += s.gaugeKeys.prefetchSlot(h)
		default:
			sink += s.counters.prefetchSlot(h)
		}
	}
	for i, h := range hashes {
		switch kinds[i] {
		case 's':
			sink += s.timers.prefetch(h)
		case 'g':
			sink += s.gaugeKeys.prefetch(h)
		default:
			sink += s.counters.prefetch(h)
		}
	}
	s.sink += sink
	for i, line := range b.lines[:b.n] {
		s.addLine(line, hashes[i])
	}
}

// lineHashes returns the hash of a line's name, the bytes before its first
// ':' (the whole line without one), which picks its shard; the hash of its
// key as the simple paths look it up (the name's keyHash, or with keepTags
// and a DogStatsD tag list at its end, the rawKeyHash of the name and that
// tail "|#tags" right after the type); and its kind, the last byte of its
// type, which tells the table to prefetch from.
//
// For every line that has a value the name is the one protocol.SplitLine
// returns, and for a simple line (protocol.SimpleTaggedLine) the tags are
// its tags. It scans forward: the first '|' after the name (the value is
// short) and at most three bytes of type, never the tag list itself, which
// a tagged line's hash reads once and its lookup compares once. For other
// lines (a sample rate, several samples) the key hash may be wrong, which
// costs only a wasted prefetch: their path hashes its key again.
func lineHashes(seed maphash.Seed, line []byte, keepTags bool) (name, key uint64, kind byte) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		h := keyHash(seed, line)
		return h, h, 0
	}
	name = keyHash(seed, line[:i])
	rest := line[i+1:]
	j := bytes.IndexByte(rest, '|')
	if j < 0 {
		return name, name, 0
	}
	// The type: at most 2 bytes on a simple line, so look no further than 3.
	typ := rest[j+1:]
	k := 0
	for k < len(typ) && k < 3 && typ[k] != '|' {
		k++
	}
	if k > 0 {
		kind = typ[k-1]
	}
	if tail := typ[k:]; keepTags && len(tail) > 2 && tail[0] == '|' && tail[1] == '#' {
		return name, rawKeyHash(name, keyHash(seed, tail)), kind
	}
	return name, name, kind
}

// addChunk processes the lines of a Dispatcher's chunk, in batches, with
// the key hashes and kinds the reader computed, and counts its packets.
func (s *Shard) addChunk(c *chunk) {
	s.mu.Lock()
	var b lineBatch
	start := uint32(0)
	for i, end := range c.ends {
		b.lines[b.n], b.hashes[b.n], b.kinds[b.n] = c.buf[start:end], c.hashes[i], c.kinds[i]
		start = end
		if b.n++; b.n == batchLines {
			s.addBatch(&b)
			b.n = 0
		}
	}
	if b.n > 0 {
		s.addBatch(&b)
	}
	s.packets += c.packets
	s.mu.Unlock()
}

// nextLine splits p at its first '\n': the line before it (without the
// newline) and the rest after it (all of p and nil without a newline).
func nextLine(p []byte) (line, rest []byte) {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, nil
}

// AddBad counts n bad lines (for example an over-long TCP line).
func (s *Shard) AddBad(n int64) {
	s.mu.Lock()
	s.bad += n
	s.metrics += n
	s.mu.Unlock()
}

// Stats returns the counts so far of this interval: packets, lines, bad
// lines and ignored lines.
func (s *Shard) Stats() (packets, metrics, bad, ignored int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets, s.metrics, s.bad, s.ignored
}

// addLine processes one non-empty line; h is its key hash (lineHashes).
func (s *Shard) addLine(line []byte, h uint64) {
	s.metrics++
	if name, tags, smp, ok := protocol.SimpleTaggedLine(line); ok {
		if len(tags) == 0 || !s.keepTags {
			s.addSample(name, h, smp) // the name is the key, h its hash
			return
		}
		s.addTagged(line, name, tags, h, smp)
		return
	}
	l := protocol.SplitLine(line)
	if l.Ignored {
		s.ignored++
		return
	}
	if l.NoValue {
		s.bad++
		return
	}
	key, h, ok := s.lineKey(line, l, h)
	if !ok {
		return
	}
	for v, more := l.Values, true; more; {
		var raw []byte
		raw, v, more = protocol.NextValue(v)
		smp, err := protocol.ParseSample(raw)
		if err != nil {
			s.bad++
			continue
		}
		s.addSample(key, h, smp)
	}
}

// addSample adds one good sample to key's state; h is the key's keyHash.
func (s *Shard) addSample(key []byte, h uint64, smp protocol.Sample) {
	switch smp.Type {
	case protocol.Counter:
		addCount(&s.counters, h, key, nil, smp.Value)
	case protocol.Timer:
		e, slot := s.timers.find(h, key, nil)
		if e < 0 {
			e = s.timers.insert(h, key, nil, slot, &timerAcc{}, "")
		}
		s.timers.entries[e].touched = true
		s.timers.entries[e].val.add(smp)
	case protocol.Gauge:
		e, slot := s.gaugeKeys.find(h, key, nil)
		if e < 0 {
			e = s.gaugeKeys.insert(h, key, nil, slot, s.gaugeOf(string(key)), "")
		}
		s.gaugeKeys.entries[e].touched = true
		s.gaugeKeys.entries[e].val.add(smp)
	case protocol.Set:
		st := s.sets[string(key)]
		if st == nil {
			st = &setAcc{members: map[string]struct{}{}}
			s.sets[string(key)] = st
		}
		if _, ok := st.members[string(smp.Member)]; !ok {
			st.members[string(smp.Member)] = struct{}{}
		}
		st.touched = true
	}
}

// add applies one timer sample.
func (t *timerAcc) add(smp protocol.Sample) {
	t.values = append(t.values, smp.Value)
	t.count += smp.Count
	t.touched = true
}

// gaugeOf returns the accumulator of the gauge of normalised key norm,
// made when new.
func (s *Shard) gaugeOf(norm string) *gaugeAcc {
	g := s.gauges[norm]
	if g == nil {
		g = &gaugeAcc{}
		s.gauges[norm] = g
	}
	return g
}

// sameBytes reports whether a and b are the same bytes in memory (not
// merely equal ones).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// badTag counts a line refused for a tag Graphite cannot keep (a bad line)
// and keeps the first one of the interval for the log.
func (s *Shard) badTag(line []byte, err error) {
	s.bad++
	if s.badTags == 0 {
		s.badTagExample = fmt.Sprintf("%s in %q", err, truncateLine(line))
	}
	s.badTags++
}

func truncateLine(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}

// Tagged keys are remembered per shard: the name and the raw tag text as
// sent (name + "|#" + tags, unambiguous as a name holds no "|#") → the
// normalised key and its hash, so a series' later lines skip sanitising,
// sorting and hashing its key. The memo is bounded (memoEntries, keys of at
// most memoKeyLen bytes); when full it takes no more until the flush after
// which it is emptied.
const (
	memoEntries = 1 << 15
	memoKeyLen  = 256
)

type memoKey struct {
	key  []byte
	hash uint64
}

// lineKey returns the aggregation key of a split line and its hash (h is
// the line's nameHash), or ok false for a line refused for its tags (it is
// counted).
func (s *Shard) lineKey(line []byte, l protocol.Line, h uint64) (key []byte, hash uint64, ok bool) {
	memo := s.keepTags && len(l.Tags) > 0 && len(l.Name)+len(l.Tags)+2 <= memoKeyLen
	if memo {
		s.memoID = append(append(append(s.memoID[:0], l.Name...), '|', '#'), l.Tags...)
		if e, found := s.memo[string(s.memoID)]; found {
			return e.key, e.hash, true
		}
	}
	key, s.scratch = protocol.Key(s.scratch, l.Name, l.Tags, s.keepTags)
	if bytes.IndexByte(key, ';') >= 0 {
		var err error
		key, s.tagWork, err = protocol.NormalizeTags(key, s.tagWork)
		if err != nil {
			s.badTag(line, err)
			return nil, 0, false
		}
	}
	if !sameBytes(key, l.Name) || s.keepTags {
		// The key was rewritten or has tags, or (with keepTags) h may be
		// a raw tagged key's hash (lineHashes).
		h = keyHash(s.seed, key)
	}
	if memo && len(s.memo) < memoEntries {
		if s.memo == nil {
			s.memo = map[string]memoKey{}
		}
		s.memo[string(s.memoID)] = memoKey{key: bytes.Clone(key), hash: h}
	}
	return key, h, true
}

// resetMemo empties a full memo (at a flush), so that the series of the
// next intervals get their turn.
func (s *Shard) resetMemo() {
	if len(s.memo) >= memoEntries {
		clear(s.memo)
	}
}

// addTagged adds the one sample of a simple tagged line (see
// protocol.SimpleTaggedLine); h is the rawKeyHash of its name and tags
// (lineHashes).
// Each series is kept under the raw key as sent (name + "|#" + tags,
// unambiguous as a clean name holds no '|'), so a series' later lines only
// look up those bytes, in place in the line, with the hash the batch's
// first pass computed; the key is normalised (Etsy's cleaning, carbon's
// tag rules) once, when a raw key is new to the shard, and kept with it
// for the merge, where raw keys that normalise alike (tags in another
// order) become one series. A raw key whose tags are refused is not kept:
// each of its lines is normalised again and counted as a bad line, as on
// the general path.
//
// Gauges are last-write: the raw keys of one series share the one
// accumulator kept under its normalised key (gaugeOf), so their writes
// stay in order.
func (s *Shard) addTagged(line, name, tags []byte, h uint64, smp protocol.Sample) {
	tail := line[len(line)-len(tags)-2:] // "|#" + tags: they end the line
	switch smp.Type {
	case protocol.Gauge:
		if e, ok := taggedEntry(s, &s.gaugeKeys, line, name, tail, h, s.gaugeOf); ok {
			e.val.add(smp)
		}
	case protocol.Counter:
		if e, ok := taggedEntry(s, &s.counters, line, name, tail, h, zeroSum); ok {
			e.val += smp.Value
		}
	case protocol.Timer:
		if e, ok := taggedEntry(s, &s.timers, line, name, tail, h, newTimer); ok {
			e.val.add(smp)
		}
	}
}

func zeroSum(string) float64 { return 0 }

func newTimer(string) *timerAcc { return &timerAcc{} }

// taggedEntry returns the entry of t for the raw key name + tail (tail
// "|#" + tags, h its hash), marked touched, inserting it when new with the state mk
// returns for its normalised key; or ok false for tags Graphite cannot keep
// (the line is counted).
func taggedEntry[V any](s *Shard, t *keyTable[V], line, name, tail []byte, h uint64,
	mk func(norm string) V) (en *tableEntry[V], ok bool) {
	e, slot := t.find(h, name, tail)
	if e < 0 {
		norm, ok := s.normalise(line, name, tail[2:])
		if !ok {
			return nil, false
		}
		e = t.insert(h, name, tail, slot, mk(norm), norm)
	}
	en = &t.entries[e]
	en.touched = true
	return en, true
}

// normalise returns the key of a tagged name as the general path builds
// it, or ok false for tags Graphite cannot keep (the line is counted).
func (s *Shard) normalise(line, name, tags []byte) (string, bool) {
	key, scratch := protocol.Key(s.scratch, name, tags, true)
	s.scratch = scratch
	if bytes.IndexByte(key, ';') >= 0 {
		var err error
		key, s.tagWork, err = protocol.NormalizeTags(key, s.tagWork)
		if err != nil {
			s.badTag(line, err)
			return "", false
		}
	}
	return string(key), true
}
