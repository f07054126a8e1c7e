package aggregate

import (
	"hash/maphash"
	"sync"
)

// Dispatcher spreads lines over the shards by metric name, one worker
// goroutine per shard. Each name is aggregated by one worker, in the order
// its lines arrived from any one reader, whatever socket or connection
// brought them; and the work is shared evenly between the workers however
// few senders there are (the kernel spreads SO_REUSEPORT sockets by sender,
// so one busy sender would otherwise keep a single core busy).
//
// Readers feed it through a Writer each. Lines still queued when the
// Aggregator flushes count in the next interval.
type Dispatcher struct {
	shards   []*Shard
	queues   []chan *chunk
	free     chan *chunk
	seed     maphash.Seed
	keepTags bool
	wg       sync.WaitGroup
}

// chunk is a run of whole lines for one shard, with the hash of each
// line's key and its kind (lineHashes, so the worker need not hash again),
// and how many packets ended in it.
type chunk struct {
	buf     []byte   // the lines back to back, without their newlines
	ends    []uint32 // where each line ends in buf
	hashes  []uint64 // each line's key hash
	kinds   []byte   // each line's kind
	packets int64
}

func newChunk() *chunk {
	return &chunk{buf: make([]byte, 0, chunkBytes),
		ends: make([]uint32, 0, chunkLines), hashes: make([]uint64, 0, chunkLines),
		kinds: make([]byte, 0, chunkLines)}
}

// reset empties c for reuse, dropping buffers a huge line or many tiny
// ones grew.
func (c *chunk) reset() {
	c.buf, c.ends, c.hashes, c.kinds, c.packets = c.buf[:0], c.ends[:0], c.hashes[:0], c.kinds[:0], 0
	if cap(c.buf) > 4*chunkBytes {
		c.buf = make([]byte, 0, chunkBytes)
	}
	if cap(c.ends) > 4*chunkLines {
		c.ends, c.hashes = make([]uint32, 0, chunkLines), make([]uint64, 0, chunkLines)
		c.kinds = make([]byte, 0, chunkLines)
	}
}

const (
	// chunkBytes is the size a chunk is handed on at.
	chunkBytes = 16 << 10
	// chunkLines is the number of lines a new chunk has room for without
	// growing (lines of 16 bytes fill chunkBytes).
	chunkLines = chunkBytes / 16
	// queueChunks bounds the chunks waiting for one worker; a full queue
	// makes its writers wait (the sockets then buffer, as they would for
	// a slow reader).
	queueChunks = 64
)

// NewDispatcher starts one worker per shard of a. Close stops them.
func (a *Aggregator) NewDispatcher() *Dispatcher {
	d := a.newDispatcher()
	for k, s := range a.shards {
		d.wg.Add(1)
		go d.work(s, d.queues[k])
	}
	return d
}

// newDispatcher returns a Dispatcher whose workers are not started.
func (a *Aggregator) newDispatcher() *Dispatcher {
	d := &Dispatcher{
		shards:   a.shards,
		free:     make(chan *chunk, len(a.shards)*(queueChunks+8)),
		seed:     a.seed,
		keepTags: a.cfg.KeepTags,
	}
	for range a.shards {
		d.queues = append(d.queues, make(chan *chunk, queueChunks))
	}
	return d
}

func (d *Dispatcher) work(s *Shard, q <-chan *chunk) {
	defer d.wg.Done()
	for c := range q {
		s.addChunk(c)
		c.reset()
		select {
		case d.free <- c:
		default:
		}
	}
}

func (d *Dispatcher) get() *chunk {
	select {
	case c := <-d.free:
		return c
	default:
		return newChunk()
	}
}

// Close waits until the workers have aggregated everything queued and stops
// them. Every Writer must be flushed and unused by then.
func (d *Dispatcher) Close() {
	for _, q := range d.queues {
		close(q)
	}
	d.wg.Wait()
}

// AddBad counts n bad lines found before dispatching (an over-long TCP line).
func (d *Dispatcher) AddBad(n int64) { d.shards[0].AddBad(n) }

// Writer is one reader's way into the Dispatcher. It is not safe for
// concurrent use.
type Writer struct {
	d       *Dispatcher
	pending []*chunk
}

// NewWriter returns a Writer for one reader.
func (d *Dispatcher) NewWriter() *Writer {
	return &Writer{d: d, pending: make([]*chunk, len(d.shards))}
}

// AddPacket splits one datagram (or one chunk of whole lines from a TCP
// stream) into lines and queues each for the shard of its name. Full chunks
// go to the workers at once; the rest on Flush.
func (w *Writer) AddPacket(p []byte) {
	last := -1
	for len(p) > 0 {
		var line []byte
		line, p = nextLine(p)
		if len(line) == 0 {
			continue
		}
		h, key, kind := lineHashes(w.d.seed, line, w.d.keepTags)
		k := shardOf(h, len(w.pending))
		c := w.pending[k]
		if c == nil {
			c = w.d.get()
			w.pending[k] = c
		} else if len(c.buf)+len(line) > chunkBytes {
			w.send(k)
			c = w.d.get()
			w.pending[k] = c
		}
		c.buf = append(c.buf, line...)
		c.ends = append(c.ends, uint32(len(c.buf)))
		c.hashes = append(c.hashes, key)
		c.kinds = append(c.kinds, kind)
		last = k
	}
	if last < 0 {
		last = 0 // an empty packet still counts as one
		if w.pending[0] == nil {
			w.pending[0] = w.d.get()
		}
	}
	w.pending[last].packets++
}

// shardOf picks the shard of a name hash among n: the low 32 bits of h
// scaled to [0, n), a multiplication where h % n would be a 64-bit
// division (tens of cycles, per line).
func shardOf(h uint64, n int) int { return int(uint64(uint32(h)) * uint64(n) >> 32) }

func (w *Writer) send(k int) {
	w.d.queues[k] <- w.pending[k]
	w.pending[k] = nil
}

// Flush hands every partial chunk to the workers.
func (w *Writer) Flush() {
	for k, c := range w.pending {
		if c != nil {
			w.send(k)
		}
	}
}
