package aggregate

import (
	"bytes"
	"sync"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd/protocol"
)

type counterAcc struct {
	v       float64
	touched bool
}

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
	scratch  []byte

	counters map[string]*counterAcc
	timers   map[string]*timerAcc
	gauges   map[string]*gaugeAcc
	sets     map[string]*setAcc

	packets, metrics, bad, ignored int64
}

func newShard(keepTags bool) *Shard {
	return &Shard{
		keepTags: keepTags,
		scratch:  make([]byte, 0, 256),
		counters: map[string]*counterAcc{},
		timers:   map[string]*timerAcc{},
		gauges:   map[string]*gaugeAcc{},
		sets:     map[string]*setAcc{},
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

// AddPackets is AddPacket for several datagrams, under one lock.
func (s *Shard) AddPackets(ps [][]byte) {
	s.mu.Lock()
	for _, p := range ps {
		s.addPacket(p)
	}
	s.mu.Unlock()
}

func (s *Shard) addPacket(p []byte) {
	s.packets++
	s.addLines(p)
}

// addLines processes lines separated by '\n', skipping empty ones.
func (s *Shard) addLines(p []byte) {
	for len(p) > 0 {
		var line []byte
		line, p = nextLine(p)
		if len(line) > 0 {
			s.addLine(line)
		}
	}
}

// nextLine splits p at its first '\n': the line before it (without the
// newline) and the rest after it (all of p and nil without a newline).
func nextLine(p []byte) (line, rest []byte) {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, nil
}

// AddLines processes lines separated by '\n' that came in packets
// datagrams (a Dispatcher's chunk).
func (s *Shard) AddLines(lines []byte, packets int64) {
	s.mu.Lock()
	s.addLines(lines)
	s.packets += packets
	s.mu.Unlock()
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

func (s *Shard) addLine(line []byte) {
	s.metrics++
	l := protocol.SplitLine(line)
	if l.Ignored {
		s.ignored++
		return
	}
	if l.NoValue {
		s.bad++
		return
	}
	var key []byte
	key, s.scratch = protocol.Key(s.scratch, l.Name, l.Tags, s.keepTags)
	for v, more := l.Values, true; more; {
		var raw []byte
		raw, v, more = protocol.NextValue(v)
		smp, err := protocol.ParseSample(raw)
		if err != nil {
			s.bad++
			continue
		}
		switch smp.Type {
		case protocol.Counter:
			c := s.counters[string(key)]
			if c == nil {
				c = &counterAcc{}
				s.counters[string(key)] = c
			}
			c.v += smp.Value
			c.touched = true
		case protocol.Timer:
			t := s.timers[string(key)]
			if t == nil {
				t = &timerAcc{}
				s.timers[string(key)] = t
			}
			t.values = append(t.values, smp.Value)
			t.count += smp.Count
			t.touched = true
		case protocol.Gauge:
			g := s.gauges[string(key)]
			if g == nil {
				g = &gaugeAcc{}
				s.gauges[string(key)] = g
			}
			switch {
			case !smp.Delta:
				g.set, g.base, g.delta = true, smp.Value, 0
			case g.set:
				g.base += smp.Value
			default:
				g.delta += smp.Value
			}
			g.touched = true
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
}
