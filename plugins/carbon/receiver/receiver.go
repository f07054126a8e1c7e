// Package receiver is the core of the carbon input: it accepts Graphite's
// plaintext protocol ("path value timestamp\n") over TCP and UDP on one
// address, checks every line (field count, number, timestamp, a metric name
// that maps to a safe whisper path), and hands the good lines, normalised, to
// its consumer in bounded batches. When the consumer is slow the batch queue
// fills, the connections stop being read and TCP's flow control pushes back
// on the senders: memory stays bounded. It imports nothing of Heka.
package receiver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/plaintext"
)

// Config is the receiver's configuration. Zero values take the defaults
// documented on each field.
type Config struct {
	// Address is host:port for both the TCP and the UDP listener. With port
	// 0 the TCP listener picks a port and UDP binds the same one.
	Address string
	// TCP and UDP switch the listeners; at least one must be on.
	TCP, UDP bool
	// IdleTimeout closes a TCP connection that sent nothing for this long
	// (it also ends half-open connections). 0 means never.
	IdleTimeout time.Duration
	// MaxLineLength drops longer lines (default 8192 bytes).
	MaxLineLength int
	// MaxConnections caps open TCP connections; more are closed at once and
	// counted (default 1024).
	MaxConnections int
	// BatchBytes hands a batch to the consumer once it holds this many
	// bytes (default 60 KiB).
	BatchBytes int
	// FlushInterval hands over a partial batch at the latest after this
	// long (default 200ms).
	FlushInterval time.Duration
	// QueueBatches bounds the batches waiting for the consumer (default 16).
	// When the queue is full, no socket is read until the consumer catches up.
	QueueBatches int
	// UDPReadBuffer sets the UDP socket's receive buffer in bytes (0 keeps
	// the system default).
	UDPReadBuffer int
	// Now is the clock for lines whose timestamp is negative ("now", as in
	// carbon). Default time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.MaxLineLength <= 0 {
		c.MaxLineLength = 8192
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 1024
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 60 * 1024
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 200 * time.Millisecond
	}
	if c.QueueBatches <= 0 {
		c.QueueBatches = 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Stats is a snapshot of the receiver's counters. All but Active and Queued
// count since the start.
type Stats struct {
	TCPLines, UDPLines uint64 // good lines accepted
	BadFields          uint64 // not "path value timestamp"
	BadValue           uint64 // value not a finite number
	BadTimestamp       uint64 // timestamp not a Unix time
	BadPath            uint64 // name refused by metricpath.Rel
	BadTag             uint64 // malformed Graphite 1.1 tags (metricpath.ErrTag)
	TooLong            uint64 // line longer than MaxLineLength
	Incomplete         uint64 // TCP connection ended inside a line
	Connections        uint64 // TCP connections accepted
	Refused            uint64 // TCP connections over MaxConnections
	IdleClosed         uint64 // TCP connections closed by IdleTimeout
	Batches            uint64 // batches handed to the consumer
	QueueFull          uint64 // times a batch had to wait for queue space
	Active             int64  // TCP connections open now
	Queued             int    // batches waiting now
}

// BadLines is the total of the dropped lines.
func (s Stats) BadLines() uint64 {
	return s.BadFields + s.BadValue + s.BadTimestamp + s.BadPath + s.BadTag + s.TooLong + s.Incomplete
}

type counters struct {
	tcpLines, udpLines, badFields, badValue, badTimestamp, badPath, badTag atomic.Uint64
	tooLong, incomplete, connections, refused, idleClosed, batches         atomic.Uint64
	queueFull                                                              atomic.Uint64
	active                                                                 atomic.Int64
}

// lineCounts is a reader's local tally, merged into counters once per chunk
// so that busy connections do not contend on shared counters per line.
type lineCounts struct {
	ok, fields, value, timestamp, path, tag, tooLong uint64
}

// BadLine is a sample of a dropped line, for the log.
type BadLine struct {
	Line   string
	Reason string
}

// Receiver listens and batches. Create it with Listen, start it with Serve,
// consume Batches until it is closed, stop it with Close.
type Receiver struct {
	cfg   Config
	tcp   net.Listener
	udp   net.PacketConn
	out   chan []byte
	free  chan []byte
	c     counters
	bad   atomic.Pointer[BadLine]
	batch batcher

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closing  bool
	stop     chan struct{}
	readers  sync.WaitGroup // accept loop, UDP loop, connections
	flusherW sync.WaitGroup
}

// Listen binds the configured sockets. Nothing is read before Serve.
func Listen(cfg Config) (*Receiver, error) {
	cfg.defaults()
	if !cfg.TCP && !cfg.UDP {
		return nil, errors.New("carbon receiver: neither TCP nor UDP enabled")
	}
	r := &Receiver{
		cfg:   cfg,
		out:   make(chan []byte, cfg.QueueBatches),
		free:  make(chan []byte, cfg.QueueBatches+2),
		conns: map[net.Conn]struct{}{},
		stop:  make(chan struct{}),
	}
	r.batch = batcher{r: r, limit: cfg.BatchBytes}
	addr := cfg.Address
	if cfg.TCP {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("carbon receiver: listening on tcp %s: %w", addr, err)
		}
		r.tcp = l
		addr = l.Addr().String()
	}
	if cfg.UDP {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			if r.tcp != nil {
				r.tcp.Close()
			}
			return nil, fmt.Errorf("carbon receiver: listening on udp %s: %w", addr, err)
		}
		if cfg.UDPReadBuffer > 0 {
			if uc, ok := pc.(*net.UDPConn); ok {
				if err := uc.SetReadBuffer(cfg.UDPReadBuffer); err != nil {
					pc.Close()
					if r.tcp != nil {
						r.tcp.Close()
					}
					return nil, fmt.Errorf("carbon receiver: udp read buffer %d: %w", cfg.UDPReadBuffer, err)
				}
			}
		}
		r.udp = pc
	}
	return r, nil
}

// TCPAddr is the TCP listener's address (nil when TCP is off).
func (r *Receiver) TCPAddr() net.Addr {
	if r.tcp == nil {
		return nil
	}
	return r.tcp.Addr()
}

// UDPAddr is the UDP socket's address (nil when UDP is off).
func (r *Receiver) UDPAddr() net.Addr {
	if r.udp == nil {
		return nil
	}
	return r.udp.LocalAddr()
}

// Serve starts the listeners' goroutines and returns.
func (r *Receiver) Serve() {
	if r.tcp != nil {
		r.readers.Add(1)
		go r.acceptLoop()
	}
	if r.udp != nil {
		r.readers.Add(1)
		go r.udpLoop()
	}
	r.flusherW.Add(1)
	go r.flusher()
}

// Batches delivers batches of normalised lines ("name value timestamp\n",
// the timestamp made absolute). The channel is closed after Close, once
// every line read has been delivered. A consumer done with a batch may hand
// it back with Recycle.
func (r *Receiver) Batches() <-chan []byte { return r.out }

// Recycle returns a consumed batch's memory for reuse.
func (r *Receiver) Recycle(b []byte) {
	select {
	case r.free <- b[:0]:
	default:
	}
}

// Close stops listening and closes every connection. Lines already read are
// still delivered: the consumer must keep reading Batches until it is closed.
// Close does not wait for that; Done does.
func (r *Receiver) Close() {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return
	}
	r.closing = true
	close(r.stop)
	if r.tcp != nil {
		r.tcp.Close()
	}
	if r.udp != nil {
		r.udp.Close()
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	go func() {
		r.readers.Wait()
		r.flusherW.Wait()
		r.batch.flush()
		close(r.out)
	}()
}

// Stats returns the counters now.
func (r *Receiver) Stats() Stats {
	return Stats{
		TCPLines:     r.c.tcpLines.Load(),
		UDPLines:     r.c.udpLines.Load(),
		BadFields:    r.c.badFields.Load(),
		BadValue:     r.c.badValue.Load(),
		BadTimestamp: r.c.badTimestamp.Load(),
		BadPath:      r.c.badPath.Load(),
		BadTag:       r.c.badTag.Load(),
		TooLong:      r.c.tooLong.Load(),
		Incomplete:   r.c.incomplete.Load(),
		Connections:  r.c.connections.Load(),
		Refused:      r.c.refused.Load(),
		IdleClosed:   r.c.idleClosed.Load(),
		Batches:      r.c.batches.Load(),
		QueueFull:    r.c.queueFull.Load(),
		Active:       r.c.active.Load(),
		Queued:       len(r.out),
	}
}

// TakeBadLine returns one dropped line seen since the last call, or nil.
func (r *Receiver) TakeBadLine() *BadLine { return r.bad.Swap(nil) }

func (r *Receiver) sampleBad(line []byte, reason string) {
	if r.bad.Load() != nil {
		return
	}
	if len(line) > 200 {
		line = line[:200]
	}
	r.bad.CompareAndSwap(nil, &BadLine{Line: string(line), Reason: reason})
}

func (r *Receiver) acceptLoop() {
	defer r.readers.Done()
	var backoff time.Duration
	for {
		c, err := r.tcp.Accept()
		if err != nil {
			select {
			case <-r.stop:
				return
			default:
			}
			// Temporary failures such as EMFILE: wait a little, as net/http does.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			select {
			case <-r.stop:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		r.mu.Lock()
		if r.closing {
			r.mu.Unlock()
			c.Close()
			return
		}
		if len(r.conns) >= r.cfg.MaxConnections {
			r.mu.Unlock()
			r.c.refused.Add(1)
			c.Close()
			continue
		}
		r.conns[c] = struct{}{}
		r.c.connections.Add(1)
		r.c.active.Add(1)
		r.readers.Add(1)
		r.mu.Unlock()
		go r.serveConn(c)
	}
}

// deadlineReader renews the idle deadline before every read.
type deadlineReader struct {
	c    net.Conn
	idle time.Duration
}

func (d deadlineReader) Read(p []byte) (int, error) {
	if d.idle > 0 {
		_ = d.c.SetReadDeadline(time.Now().Add(d.idle))
	}
	return d.c.Read(p)
}

// chunkBytes is how much a reader gathers before taking the batch lock.
const chunkBytes = 16 * 1024

func (r *Receiver) serveConn(c net.Conn) {
	defer func() {
		c.Close()
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		r.c.active.Add(-1)
		r.readers.Done()
	}()
	size := r.cfg.MaxLineLength + 1
	if size < 64*1024 {
		size = 64 * 1024
	}
	br := bufio.NewReaderSize(deadlineReader{c: c, idle: r.cfg.IdleTimeout}, size)
	pending := make([]byte, 0, chunkBytes+512)
	var n lineCounts
	hand := func() {
		r.merge(&n, &r.c.tcpLines)
		if len(pending) > 0 {
			r.batch.add(pending)
			pending = pending[:0]
		}
	}
	defer hand()
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			n.tooLong++
			r.sampleBad(line, "line too long")
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err != nil {
				r.connEnd(err, nil)
				return
			}
			continue
		}
		if err != nil {
			r.connEnd(err, line)
			return
		}
		pending = r.appendLine(pending, line[:len(line)-1], &n)
		if len(pending) >= chunkBytes || br.Buffered() == 0 {
			hand()
		}
	}
}

// connEnd counts why a connection ended.
func (r *Receiver) connEnd(err error, partial []byte) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.c.idleClosed.Add(1)
	}
	if len(partial) > 0 && !allSpace(partial) {
		// As carbon's line receiver does, an unterminated last line is
		// dropped: it may be a line cut short by a broken connection.
		r.c.incomplete.Add(1)
		r.sampleBad(partial, "connection closed inside a line")
	}
}

func allSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func (r *Receiver) udpLoop() {
	defer r.readers.Done()
	buf := make([]byte, 64*1024)
	pending := make([]byte, 0, 64*1024)
	var n lineCounts
	for {
		size, _, err := r.udp.ReadFrom(buf)
		if err != nil {
			select {
			case <-r.stop:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		pending = pending[:0]
		plaintext.Lines(buf[:size], func(line []byte) {
			pending = r.appendLine(pending, line, &n)
		})
		r.merge(&n, &r.c.udpLines)
		if len(pending) > 0 {
			r.batch.add(pending)
		}
	}
}

func (r *Receiver) merge(n *lineCounts, ok *atomic.Uint64) {
	if n.ok > 0 {
		ok.Add(n.ok)
	}
	if n.fields > 0 {
		r.c.badFields.Add(n.fields)
	}
	if n.value > 0 {
		r.c.badValue.Add(n.value)
	}
	if n.timestamp > 0 {
		r.c.badTimestamp.Add(n.timestamp)
	}
	if n.path > 0 {
		r.c.badPath.Add(n.path)
	}
	if n.tag > 0 {
		r.c.badTag.Add(n.tag)
	}
	if n.tooLong > 0 {
		r.c.tooLong.Add(n.tooLong)
	}
	*n = lineCounts{}
}

// appendLine checks one line (without '\n') and appends its normalised form
// to dst, or counts why it was dropped. Blank lines are skipped silently.
func (r *Receiver) appendLine(dst, line []byte, n *lineCounts) []byte {
	if len(line) > r.cfg.MaxLineLength {
		n.tooLong++
		r.sampleBad(line, "line too long")
		return dst
	}
	p, err := plaintext.ParseLine(line)
	if err == nil && bytes.IndexByte(line, '\n') >= 0 {
		err = plaintext.ErrFields // only reachable by direct calls: readers split on '\n'
	}
	if err != nil {
		switch {
		case errors.Is(err, plaintext.ErrFields):
			if allSpace(line) {
				return dst
			}
			n.fields++
		case errors.Is(err, plaintext.ErrValue):
			n.value++
		default:
			n.timestamp++
		}
		r.sampleBad(line, err.Error())
		return dst
	}
	name := p.Name
	if bytes.IndexByte(name, ';') >= 0 || bytes.HasSuffix(name, []byte(`"}`)) && bytes.IndexByte(name, '{') >= 0 {
		norm, reason, tagErr := normalizeTagged(name)
		if reason != "" {
			if tagErr {
				n.tag++
			} else {
				n.path++
			}
			r.sampleBad(line, reason)
			return dst
		}
		name = norm
	}
	tagged := bytes.IndexByte(name, ';') >= 0
	if !tagged && !validName(name) {
		n.path++
		reason := "unsafe metric name"
		if _, err := metricpath.Rel(string(name)); err != nil {
			reason = err.Error()
		}
		r.sampleBad(line, reason)
		return dst
	}
	if reason := unaddressable(name, tagged); reason != "" {
		n.path++
		r.sampleBad(line, reason)
		return dst
	}
	ts := p.Timestamp
	if ts < 0 {
		ts = r.cfg.Now().Unix()
	}
	n.ok++
	dst = append(dst, name...)
	dst = append(dst, ' ')
	dst = strconv.AppendFloat(dst, p.Value, 'f', -1, 64)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ts, 10)
	return append(dst, '\n')
}

// normalizeTagged turns a Graphite 1.1 tagged name into carbon's normalised
// form (tags sorted, duplicates resolved), or tells why it is refused: a
// malformed tag (tagErr true), or a name no file can hold. A name whose
// only tag is "name" normalises to the plain name, checked as any other.
func normalizeTagged(name []byte) (norm []byte, reason string, tagErr bool) {
	s, err := metricpath.Normalize(string(name))
	if err != nil {
		return nil, err.Error(), errors.Is(err, metricpath.ErrTag)
	}
	if metricpath.IsTagged(s) {
		if _, err := metricpath.Rel(s); err != nil {
			return nil, err.Error(), false
		}
	}
	return []byte(s), "", false
}

// validName is metricpath.Rel's verdict (nil error) computed without
// allocating, for the hot path: the name is not empty nor longer than
// metricpath.MaxName, holds no NUL, '/' or '\\', and every dot-separated
// component is non-empty and short enough for the filesystem (the last one
// with room for the .wsp extension). FuzzValidName checks that it agrees
// with metricpath.Rel on every input.
func validName(name []byte) bool {
	if len(name) == 0 || len(name) > metricpath.MaxName {
		return false
	}
	if bytes.HasPrefix(name, []byte(metricpath.TaggedDir+".")) {
		return false
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) {
			switch name[i] {
			case 0, '/', '\\':
				return false
			case '.':
			default:
				continue
			}
		}
		part := i - start
		limit := metricpath.MaxComponent
		if i == len(name) {
			limit -= len(metricpath.Ext)
		}
		if part == 0 || part > limit {
			return false
		}
		start = i + 1
	}
	return true
}

// unaddressable tells why a name that could be stored could never be
// queried, or "": names must be valid UTF-8 and hold no control character
// and, unless tagged, no glob character (* ? [ ] { }), which Graphite's
// queries and the server read as patterns. Tagged series are queried by
// seriesByTag's exact or regular-expression matches, so their names and
// values may hold glob characters, as in carbon.
func unaddressable(name []byte, tagged bool) string {
	ascii := true
	for _, c := range name {
		switch {
		case c < 0x20 || c == 0x7f:
			return "control character in metric name"
		case !tagged && (c == '*' || c == '?' || c == '[' || c == ']' || c == '{' || c == '}'):
			return "glob character (* ? [ ] { }) in metric name"
		case c >= 0x80:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(name) {
		return "metric name is not valid UTF-8"
	}
	return ""
}

// batcher gathers lines from every reader into one batch. Its lock is held
// while a full batch waits for queue space, so every reader stops with it:
// that is the back-pressure, and memory stays within QueueBatches+1 batches
// plus each reader's buffer.
type batcher struct {
	r     *Receiver
	mu    sync.Mutex
	buf   []byte
	since time.Time
	limit int
}

func (b *batcher) add(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		select {
		case b.buf = <-b.r.free:
		default:
			b.buf = make([]byte, 0, b.limit+chunkBytes+1024)
		}
	}
	if len(b.buf) == 0 {
		b.since = time.Now()
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= b.limit {
		b.sendLocked()
	}
}

func (b *batcher) sendLocked() {
	if len(b.buf) == 0 {
		return
	}
	full := b.buf
	b.buf = nil
	select {
	case b.r.out <- full:
	default:
		b.r.c.queueFull.Add(1)
		b.r.out <- full
	}
	b.r.c.batches.Add(1)
}

// flush hands over the partial batch.
func (b *batcher) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sendLocked()
}

// flushOld hands over the partial batch if it is older than age.
func (b *batcher) flushOld(age time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > 0 && time.Since(b.since) >= age {
		b.sendLocked()
	}
}

func (r *Receiver) flusher() {
	defer r.flusherW.Done()
	tick := time.NewTicker(r.cfg.FlushInterval / 2)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
			r.batch.flushOld(r.cfg.FlushInterval)
		}
	}
}
