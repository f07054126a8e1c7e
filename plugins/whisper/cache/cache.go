// Package cache buffers metric points in memory between the Heka output's
// message loop and the whisper writers, so that a burst never waits for the
// disk. Points are kept per metric in a sharded map (one lock per shard);
// a writer takes a whole shard at once and writes each metric's points with
// one multi-point update. Memory is bounded: when the cache holds
// MaxPoints points, new points are refused and counted (points already
// accepted are never thrown away). It imports nothing of Heka.
package cache

import (
	"math"
	"sync"
	"sync/atomic"
)

// Point is one value at a Unix time (seconds), packed into 12 bytes (a
// struct of an int64 and a float64 takes 16): the cache holds every point
// of a backlog, so its size is most of the output's memory. Whisper keeps
// 32-bit unsigned times; see MakePoint for times outside them.
type Point struct {
	t  uint32
	lo uint32 // the value's IEEE 754 bits, low half
	hi uint32 // high half
}

// MakePoint packs (t, v). A time before 1970 is kept as 0 and one after
// 2106 as the last 32-bit second: both are still refused by the writers
// (older than any retention, or too far in the future) and counted as such.
func MakePoint(t int64, v float64) Point {
	switch {
	case t < 0:
		t = 0
	case t > math.MaxUint32:
		t = math.MaxUint32
	}
	b := math.Float64bits(v)
	return Point{t: uint32(t), lo: uint32(b), hi: uint32(b >> 32)}
}

// Time is the point's Unix time.
func (p Point) Time() int64 { return int64(p.t) }

// Value is the point's value.
func (p Point) Value() float64 { return math.Float64frombits(uint64(p.hi)<<32 | uint64(p.lo)) }

// Batch is the pending points of one metric, oldest arrival first.
type Batch struct {
	Name   string
	Points []Point
}

// Shards is the number of shards; a power of two.
const Shards = 64

type shard struct {
	mu sync.Mutex
	m  map[string]int32 // name → index in b
	b  []Batch
	_  [32]byte // keep shards on separate cache lines
}

// Cache is safe for concurrent use.
type Cache struct {
	max         int64
	size        atomic.Int64
	metrics     atomic.Int64 // metrics with points in the shards
	added       atomic.Uint64
	droppedFull atomic.Uint64
	shards      [Shards]shard
}

// New returns a cache that holds at most maxPoints points (0: no bound).
func New(maxPoints int64) *Cache {
	c := &Cache{max: maxPoints}
	for i := range c.shards {
		c.shards[i].m = make(map[string]int32)
	}
	return c
}

// ShardOf returns the shard a metric name lives in.
func ShardOf(name []byte) int {
	// FNV-1a.
	h := uint32(2166136261)
	for _, b := range name {
		h ^= uint32(b)
		h *= 16777619
	}
	return int(h & (Shards - 1))
}

// Add buffers one point. It returns false, and counts a drop, when the cache
// is full. name is copied only when the metric is not cached yet.
func (c *Cache) Add(name []byte, t int64, v float64) bool {
	if c.max > 0 && c.size.Load() >= c.max {
		c.droppedFull.Add(1)
		return false
	}
	s := &c.shards[ShardOf(name)]
	s.mu.Lock()
	if i, ok := s.m[string(name)]; ok {
		s.b[i].Points = append(s.b[i].Points, MakePoint(t, v))
	} else {
		key := string(name)
		s.m[key] = int32(len(s.b))
		s.b = append(s.b, Batch{Name: key, Points: []Point{MakePoint(t, v)}})
		c.metrics.Add(1)
	}
	s.mu.Unlock()
	c.size.Add(1)
	c.added.Add(1)
	return true
}

// Take removes every metric of shard i and appends their batches to dst.
func (c *Cache) Take(i int, dst []Batch) []Batch {
	s := &c.shards[i]
	s.mu.Lock()
	if len(s.m) == 0 {
		s.mu.Unlock()
		return dst
	}
	b := s.b
	s.m = make(map[string]int32, len(b))
	s.b = make([]Batch, 0, len(b))
	s.mu.Unlock()
	c.metrics.Add(-int64(len(b)))
	n := 0
	for _, x := range b {
		n += len(x.Points)
	}
	c.size.Add(-int64(n))
	return append(dst, b...)
}

// Requeue puts a batch that could not be written back in front of any
// point that arrived since, so arrival order (last write wins) is kept.
// Requeued points are never refused: they were already accepted.
func (c *Cache) Requeue(b Batch) {
	if len(b.Points) == 0 {
		return
	}
	n := len(b.Points)
	s := &c.shards[ShardOf([]byte(b.Name))]
	s.mu.Lock()
	if i, ok := s.m[b.Name]; ok {
		s.b[i].Points = append(b.Points, s.b[i].Points...)
	} else {
		s.m[b.Name] = int32(len(s.b))
		s.b = append(s.b, b)
		c.metrics.Add(1)
	}
	s.mu.Unlock()
	c.size.Add(int64(n))
}

// Hold counts n points kept outside the shards (by a writer, e.g. waiting
// for their file to be created) in the cache's size, so the bound still
// covers them; Release uncounts them when they leave.
func (c *Cache) Hold(n int) { c.size.Add(int64(n)) }

// Release undoes Hold.
func (c *Cache) Release(n int) { c.size.Add(-int64(n)) }

// Stats is a snapshot of the cache counters.
type Stats struct {
	Points      int64  // points waiting
	Metrics     int64  // metrics with points waiting
	Added       uint64 // points accepted since start
	DroppedFull uint64 // points refused because the cache was full
}

// Stats returns the current counters.
func (c *Cache) Stats() Stats {
	return Stats{Points: c.size.Load(), Metrics: c.metrics.Load(), Added: c.added.Load(), DroppedFull: c.droppedFull.Load()}
}

// Added is the number of points accepted since start.
func (c *Cache) Added() uint64 { return c.added.Load() }

// DroppedFull is the number of points refused because the cache was full.
func (c *Cache) DroppedFull() uint64 { return c.droppedFull.Load() }

// Deep reports whether the metrics waiting hold on average at least
// perMetric points each: a backlog whose updates are already large, so
// that waiting to batch more points into them would save little and hold
// more memory.
func (c *Cache) Deep(perMetric int) bool {
	m := c.metrics.Load()
	return m > 0 && c.size.Load() >= int64(perMetric)*m
}

// Size is the number of points waiting.
func (c *Cache) Size() int64 { return c.size.Load() }
