package sender

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// sink is a real TCP carbon destination on 127.0.0.1 that records lines.
type sink struct {
	carbon *testutil.FakeCarbon
	mu     sync.Mutex
	lines  []string
	conns  int
}

func newSink(t *testing.T, addr string) *sink {
	t.Helper()
	s := &sink{}
	s.carbon = testutil.StartFakeCarbon(t, addr, s.serve)
	return s
}

func (s *sink) serve(c net.Conn) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	testutil.ScanLines(c, func(line string) {
		s.mu.Lock()
		s.lines = append(s.lines, line)
		s.mu.Unlock()
	})
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func payload(prefix string, from, n int) []byte {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "%s.m%d %d 1700000000\n", prefix, i, i)
	}
	return []byte(b.String())
}

func newSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestForwardsLines(t *testing.T) {
	k := newSink(t, "127.0.0.1:0")
	s := newSender(t, Config{Address: k.carbon.Addr()})
	for i := 0; i < 100; i++ {
		s.Send(payload("fw", i*10, 10), 10)
	}
	eventually(t, "1000 lines", func() bool { return len(k.got()) == 1000 })
	if got := k.got(); got[0] != "fw.m0 0 1700000000" || got[999] != "fw.m999 999 1700000000" {
		t.Errorf("order or content wrong: %q … %q", got[0], got[999])
	}
	st := s.Stats()
	if st.SentLines != 1000 || st.Connects != 1 || st.DroppedLines != 0 || st.QueuedLines != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestBuffersWhileDownThenDelivers(t *testing.T) {
	addr := freeAddr(t)
	var logs []string
	var logMu sync.Mutex
	s := newSender(t, Config{Address: addr, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Log: func(m string) { logMu.Lock(); logs = append(logs, m); logMu.Unlock() }})
	s.Send(payload("down", 0, 50), 50)
	eventually(t, "failed attempts", func() bool { return s.Stats().ConnectFailures >= 3 })
	if st := s.Stats(); st.QueuedLines != 50 || st.Connected {
		t.Fatalf("while down: %+v", st)
	}
	k := newSink(t, addr)
	eventually(t, "delivery after the destination came up", func() bool { return len(k.got()) == 50 })
	logMu.Lock()
	defer logMu.Unlock()
	if len(logs) != 2 || !strings.Contains(logs[0], "cannot connect") || !strings.Contains(logs[1], "connected") {
		t.Errorf("log: one line per state change expected, got %q", logs)
	}
}

func TestReconnectsWhenPeerCloses(t *testing.T) {
	// A destination that closes each connection after its first line,
	// as a restarting relay would.
	var mu sync.Mutex
	var lines []string
	l := testutil.StartFakeCarbon(t, "", func(c net.Conn) {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil {
			mu.Lock()
			lines = append(lines, strings.TrimSpace(line))
			mu.Unlock()
		}
	})
	s := newSender(t, Config{Address: l.Addr(), ReconnectMin: 10 * time.Millisecond})
	for i := 0; i < 5; i++ {
		s.Send(payload("rc", i, 1), 1)
		eventually(t, "line delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(lines) == i+1 })
		// Let the sender notice the close before the next line.
		eventually(t, "close noticed", func() bool { return !s.Stats().Connected })
	}
	if st := s.Stats(); st.Connects < 5 {
		t.Errorf("Connects = %d, want ≥ 5", st.Connects)
	}
}

func TestOverflowDropsOldest(t *testing.T) {
	addr := freeAddr(t)
	one := len(payload("ov", 0, 10))
	s := newSender(t, Config{Address: addr, BufferBytes: 3 * one, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 50 * time.Millisecond})
	for i := 0; i < 5; i++ {
		s.Send(payload("ov", i*10, 10), 10) // same length each (names m0..m49 differ: keep sizes equal)
	}
	st := s.Stats()
	if st.DroppedLines == 0 || st.QueuedBytes > 3*one {
		t.Fatalf("after overflow: %+v (one chunk %d bytes)", st, one)
	}
	k := newSink(t, addr)
	eventually(t, "queued lines delivered", func() bool { return s.Stats().QueuedLines == 0 })
	eventually(t, "lines received", func() bool { return uint64(len(k.got())) == s.Stats().SentLines })
	got := k.got()
	if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "ov.m49 ") {
		t.Errorf("newest line not kept: %q", got)
	}
	for _, l := range got {
		if strings.HasPrefix(l, "ov.m0 ") {
			t.Errorf("oldest line kept: %q", got)
		}
	}
	if total := s.Stats().SentLines + s.Stats().DroppedLines; total != 50 {
		t.Errorf("sent+dropped = %d, want 50", total)
	}
}

func TestCloseFlushes(t *testing.T) {
	k := newSink(t, "127.0.0.1:0")
	s, err := New(Config{Address: k.carbon.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		s.Send(payload("cl", i*50, 50), 50)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every line", func() bool { return len(k.got()) == 10000 })
	s.Send(payload("late", 0, 1), 1)
	if st := s.Stats(); st.DroppedLines != 1 {
		t.Errorf("send after Close not counted as dropped: %+v", st)
	}
}

func TestCloseGivesUpAfterStopTimeout(t *testing.T) {
	s, err := New(Config{Address: freeAddr(t), StopTimeout: 300 * time.Millisecond, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.Send(payload("lost", 0, 7), 7)
	eventually(t, "a failed attempt", func() bool { return s.Stats().ConnectFailures > 0 })
	start := time.Now()
	err = s.Close()
	if err == nil || !strings.Contains(err.Error(), "7 lines") {
		t.Fatalf("Close = %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %s with a 300ms stop timeout", took)
	}
	if st := s.Stats(); st.DroppedLines != 7 {
		t.Errorf("dropped %d, want 7", st.DroppedLines)
	}
}

func TestStalledDestinationTimesOut(t *testing.T) {
	// Accepts but never reads: writes must time out instead of hanging.
	ctx := t.Context() // done when the test ends, before its cleanups
	l := testutil.StartFakeCarbon(t, "", func(net.Conn) { <-ctx.Done() })
	s := newSender(t, Config{Address: l.Addr(), WriteTimeout: 200 * time.Millisecond, BufferBytes: 64 << 20, StopTimeout: 100 * time.Millisecond})
	big := payload("stall", 0, 20000) // ~0.5 MB a chunk
	for i := 0; i < 60; i++ {
		s.Send(big, 20000)
	}
	eventually(t, "a write timeout", func() bool { return s.Stats().WriteErrors > 0 })
}

func TestConfigErrors(t *testing.T) {
	for _, addr := range []string{"", "no-port", "a:b:c"} {
		if _, err := New(Config{Address: addr}); err == nil {
			t.Errorf("address %q accepted", addr)
		}
	}
}
