// Package sender is the core of the carbon output: it forwards carbon
// plaintext lines to one TCP destination (a carbon-c-relay, carbon-cache,
// go-carbon or a storage hekad's carbon input). It keeps one connection,
// reconnects with exponential backoff and jitter, holds what cannot be sent
// yet in a bounded in-memory buffer (dropping the oldest data, counted, when
// it overflows), bounds every dial and write with a timeout, notices a peer
// that closed its end, and on Close tries to send what is buffered within a
// deadline. It imports nothing of Heka.
package sender

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config is the sender's configuration; zero values take the defaults noted.
type Config struct {
	// Address is the destination host:port (required).
	Address string
	// DialTimeout bounds one connection attempt (default 5s).
	DialTimeout time.Duration
	// WriteTimeout bounds one write; a destination that stops reading is
	// treated as down (default 10s).
	WriteTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the wait between failed attempts;
	// it doubles from min to max (defaults 100ms and 10s).
	ReconnectMin, ReconnectMax time.Duration
	// BufferBytes bounds the data waiting to be sent (default 32 MiB).
	BufferBytes int
	// StopTimeout is how long Close keeps trying to send what is buffered
	// (default 5s).
	StopTimeout time.Duration
	// Log receives connection state changes (optional).
	Log func(msg string)
}

func (c *Config) defaults() error {
	if c.Address == "" {
		return errors.New("carbon sender: no address")
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("carbon sender: address %q: %w", c.Address, err)
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = 100 * time.Millisecond
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 10 * time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.BufferBytes <= 0 {
		c.BufferBytes = 32 << 20
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = func(string) {}
	}
	return nil
}

// Stats is a snapshot of the sender's counters (totals since the start,
// except the Queued and Connected state).
type Stats struct {
	SentLines, SentBytes uint64
	DroppedLines         uint64 // buffer overflow or unsent at Close
	Connects             uint64 // successful connections
	ConnectFailures      uint64
	WriteErrors          uint64
	QueuedBytes          int
	QueuedLines          int
	Connected            bool
}

type chunk struct {
	data  []byte
	lines int
}

// Sender forwards lines; create it with New, feed it with Send, end it with
// Close.
type Sender struct {
	cfg Config

	mu          sync.Mutex
	queue       []chunk
	queuedBytes int
	queuedLines int
	closing     bool
	deadline    time.Time // of Close
	cur         *conn     // the connection in use, for its reader
	wake        chan struct{}
	closed      chan struct{} // closed by Close
	done        chan struct{}

	sentLines, sentBytes, dropped        atomic.Uint64
	connects, connectFailures, writeErrs atomic.Uint64
	connected                            atomic.Bool
}

// New starts a sender. It connects lazily, when there is data.
func New(cfg Config) (*Sender, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg, wake: make(chan struct{}, 1), closed: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s, nil
}

// Send queues payload, whole "name value timestamp\n" lines, without
// blocking (the payload is copied). When the buffer would overflow, the
// oldest queued data is dropped and counted: recent points are worth more
// to a monitoring system than old ones. lines is the number of lines in
// payload, for the counters.
func (s *Sender) Send(payload []byte, lines int) {
	if len(payload) == 0 {
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.dropped.Add(uint64(lines))
		return
	}
	if len(payload) > s.cfg.BufferBytes {
		s.mu.Unlock()
		s.dropped.Add(uint64(lines))
		return
	}
	for s.queuedBytes+len(payload) > s.cfg.BufferBytes && len(s.queue) > 0 {
		old := s.queue[0]
		s.queue[0] = chunk{}
		s.queue = s.queue[1:]
		s.queuedBytes -= len(old.data)
		s.queuedLines -= old.lines
		s.dropped.Add(uint64(old.lines))
	}
	s.queue = append(s.queue, chunk{data: append([]byte(nil), payload...), lines: lines})
	s.queuedBytes += len(payload)
	s.queuedLines += lines
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close stops accepting data, tries for up to StopTimeout to send what is
// queued, and returns an error naming what had to be dropped.
func (s *Sender) Close() error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.deadline = time.Now().Add(s.cfg.StopTimeout)
		close(s.closed)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
	s.mu.Lock()
	left := s.queuedLines
	s.queue, s.queuedBytes, s.queuedLines = nil, 0, 0
	s.mu.Unlock()
	if left > 0 {
		s.dropped.Add(uint64(left))
		return fmt.Errorf("carbon sender: %d lines for %s not sent within %s", left, s.cfg.Address, s.cfg.StopTimeout)
	}
	return nil
}

// Stats returns the counters now.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	qb, ql := s.queuedBytes, s.queuedLines
	s.mu.Unlock()
	return Stats{
		SentLines:       s.sentLines.Load(),
		SentBytes:       s.sentBytes.Load(),
		DroppedLines:    s.dropped.Load(),
		Connects:        s.connects.Load(),
		ConnectFailures: s.connectFailures.Load(),
		WriteErrors:     s.writeErrs.Load(),
		QueuedBytes:     qb,
		QueuedLines:     ql,
		Connected:       s.connected.Load(),
	}
}

// next waits for the oldest chunk and returns it still queued (so that an
// overflow while it is being written can drop it); ok is false when closing
// with nothing left, or when Close's deadline has passed.
func (s *Sender) next() (c chunk, ok bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			c = s.queue[0]
			s.mu.Unlock()
			return c, true
		}
		closing := s.closing
		s.mu.Unlock()
		if closing {
			return chunk{}, false
		}
		<-s.wake
	}
}

// sent removes c from the head of the queue if it is still there.
func (s *Sender) sent(c chunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 && len(s.queue[0].data) > 0 && &s.queue[0].data[0] == &c.data[0] {
		s.queue[0] = chunk{}
		s.queue = s.queue[1:]
		s.queuedBytes -= len(c.data)
		s.queuedLines -= c.lines
	}
}

func (s *Sender) closeDeadline() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline, s.closing
}

// conn is one connection and a reader that notices the peer closing it.
type conn struct {
	c    net.Conn
	dead chan struct{}
}

func (s *Sender) dial() (*conn, error) {
	timeout := s.cfg.DialTimeout
	if d, closing := s.closeDeadline(); closing {
		if left := time.Until(d); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return nil, errors.New("stop deadline passed")
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	c, err := d.Dial("tcp", s.cfg.Address)
	if err != nil {
		return nil, err
	}
	cn := &conn{c: c, dead: make(chan struct{})}
	go func() {
		// Carbon peers never answer; any read result means the peer closed
		// or reset the connection.
		_, _ = io.Copy(io.Discard, c)
		close(cn.dead)
		s.mu.Lock()
		if s.cur == cn {
			s.connected.Store(false)
		}
		s.mu.Unlock()
	}()
	return cn, nil
}

func (s *Sender) loop() {
	defer close(s.done)
	var cn *conn
	defer func() {
		if cn != nil {
			cn.c.Close()
		}
		s.connected.Store(false)
	}()
	backoff := time.Duration(0)
	failing := false
	for {
		c, ok := s.next()
		if !ok {
			return
		}
		if d, closing := s.closeDeadline(); closing && time.Now().After(d) {
			return
		}
		if cn != nil {
			select {
			case <-cn.dead:
				cn.c.Close()
				cn = nil
				s.connected.Store(false)
				s.cfg.Log(fmt.Sprintf("connection to %s closed by the peer; reconnecting", s.cfg.Address))
			default:
			}
		}
		if cn == nil {
			var err error
			cn, err = s.dial()
			if err != nil {
				s.connectFailures.Add(1)
				if backoff == 0 {
					backoff = s.cfg.ReconnectMin
				} else if backoff *= 2; backoff > s.cfg.ReconnectMax {
					backoff = s.cfg.ReconnectMax
				}
				if !failing {
					s.cfg.Log(fmt.Sprintf("cannot connect to %s: %v; retrying with backoff up to %s (buffering up to %d bytes)",
						s.cfg.Address, err, s.cfg.ReconnectMax, s.cfg.BufferBytes))
					failing = true
				}
				s.sleep(jitter(backoff))
				continue
			}
			s.connects.Add(1)
			s.mu.Lock()
			s.cur = cn
			s.connected.Store(true)
			s.mu.Unlock()
			backoff = 0
			if failing {
				s.cfg.Log(fmt.Sprintf("connected to %s", s.cfg.Address))
				failing = false
			}
		}
		wd := time.Now().Add(s.cfg.WriteTimeout)
		if d, closing := s.closeDeadline(); closing && d.Before(wd) {
			wd = d
		}
		_ = cn.c.SetWriteDeadline(wd)
		if _, err := cn.c.Write(c.data); err != nil {
			s.writeErrs.Add(1)
			s.cfg.Log(fmt.Sprintf("writing to %s: %v; reconnecting", s.cfg.Address, err))
			cn.c.Close()
			cn = nil
			s.connected.Store(false)
			// The chunk stays queued and is sent again whole on the next
			// connection: a point written twice lands in the same slot.
			continue
		}
		s.sentLines.Add(uint64(c.lines))
		s.sentBytes.Add(uint64(len(c.data)))
		s.sent(c)
	}
}

// sleep waits d, or less when Close's deadline comes first.
func (s *Sender) sleep(d time.Duration) {
	end := time.Now().Add(d)
	if dl, closing := s.closeDeadline(); closing && dl.Before(end) {
		end = dl
	}
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.closed:
		if dl, _ := s.closeDeadline(); dl.Before(end) {
			t.Reset(time.Until(dl))
		}
		<-t.C
	}
}

func jitter(d time.Duration) time.Duration {
	// ±20 %, so that many edges do not reconnect in lockstep.
	return d - d/5 + time.Duration(rand.Int64N(int64(d)*2/5+1))
}
