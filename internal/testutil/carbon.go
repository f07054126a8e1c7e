package testutil

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// FakeCarbon is a loopback TCP server standing in for a carbon daemon (or
// relay): it accepts every connection and hands each, on its own goroutine,
// to the test's handler (a handler that holds its connection can wait on
// t.Context()). The test's cleanup closes the listener and every
// open connection and waits for the handlers.
type FakeCarbon struct {
	l      net.Listener
	handle func(net.Conn)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// StartFakeCarbon listens on addr ("" for a free loopback port; a given
// port is retried for two seconds, as it may be in TIME_WAIT) and serves
// each connection with handle.
func StartFakeCarbon(t testing.TB, addr string, handle func(net.Conn)) *FakeCarbon {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("fake carbon on %s: %v", addr, err)
	}
	s := &FakeCarbon{l: l, handle: handle, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

// Addr is the host:port it listens on.
func (s *FakeCarbon) Addr() string { return s.l.Addr().String() }

// Port is the port it listens on.
func (s *FakeCarbon) Port() int { return s.l.Addr().(*net.TCPAddr).Port }

func (s *FakeCarbon) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *FakeCarbon) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	s.handle(c)
}

func (s *FakeCarbon) close() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// ScanLines calls fn with each line read from r (at most 64 MiB, lines up
// to 1 MiB) until r ends or fails.
func ScanLines(r io.Reader, fn func(line string)) {
	sc := bufio.NewScanner(io.LimitReader(r, 64<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
}

// ScanCarbonLines is ScanLines for carbon plaintext: it calls fn with the
// fields of each "name value timestamp" line and ignores other lines.
func ScanCarbonLines(r io.Reader, fn func(name, value, timestamp string)) {
	ScanLines(r, func(line string) {
		if f := strings.Fields(line); len(f) == 3 {
			fn(f[0], f[1], f[2])
		}
	})
}
