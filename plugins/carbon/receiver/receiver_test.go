package receiver

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/plaintext"
)

var fixedNow = time.Unix(1700000000, 0)

func start(t *testing.T, cfg Config) *Receiver {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	if !cfg.TCP && !cfg.UDP {
		cfg.TCP, cfg.UDP = true, true
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixedNow }
	}
	r, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Serve()
	t.Cleanup(func() {
		r.Close()
		for range r.Batches() {
		}
	})
	return r
}

// collector drains a receiver's batches into a line set.
type collector struct {
	mu    sync.Mutex
	lines []string
}

func collect(r *Receiver) *collector {
	c := &collector{}
	go func() {
		for b := range r.Batches() {
			c.mu.Lock()
			plaintext.Lines(b, func(l []byte) { c.lines = append(c.lines, string(l)) })
			c.mu.Unlock()
			r.Recycle(b)
		}
	}()
	return c
}

func (c *collector) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dial(t *testing.T, r *Receiver) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.TCPAddr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTCPAndUDPLinesNormalised(t *testing.T) {
	r := start(t, Config{})
	col := collect(r)
	c := dial(t, r)
	fmt.Fprint(c, "a.b.c 1.5 1700000001\r\n\n  \nd\t-2e3\t1700000002.9\ne 7 -1\n")
	u, err := net.Dial("udp", r.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write([]byte("u.one 1 1700000003\nu.two 2 1700000004")); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a.b.c 1.5 1700000001",
		"d -2000 1700000002",
		"e 7 1700000000",
		"u.one 1 1700000003",
		"u.two 2 1700000004",
	}
	eventually(t, "5 lines", func() bool { return len(col.get()) == len(want) })
	got := col.get()
	sort.Strings(got)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
	s := r.Stats()
	if s.TCPLines != 3 || s.UDPLines != 2 || s.BadLines() != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestBadLinesDroppedAndCounted(t *testing.T) {
	r := start(t, Config{MaxLineLength: 100})
	col := collect(r)
	c := dial(t, r)
	lines := []string{
		"good.one 1 1700000001",
		"two fields",
		"a b c d",
		"bad.value x 1700000001",
		"bad.nan NaN 1700000001",
		"bad.ts 1 yesterday",
		"../../etc/passwd 1 1700000001",
		"a..b 1 1700000001",
		"a/b 1 1700000001",
		"glob.* 1 1700000001",
		"glob.a?b 1 1700000001",
		"glob.[ab] 1 1700000001",
		"glob.{a,b} 1 1700000001",
		"ctl.a\x01b 1 1700000001",
		"ctl.del\x7f 1 1700000001",
		"utf8.\xff\xfe 1 1700000001",
		"utf8.ok.über 4 1700000004",
		"long." + strings.Repeat("x", 200) + " 1 1700000001",
		"good.two 2 1700000002",
		"unterminated 3 1700000003",
	}
	fmt.Fprint(c, strings.Join(lines, "\n"))
	c.Close()
	eventually(t, "connection end", func() bool { return r.Stats().Incomplete == 1 })
	eventually(t, "3 good lines", func() bool { return len(col.get()) == 3 })
	s := r.Stats()
	if s.TCPLines != 3 || s.BadFields != 2 || s.BadValue != 2 || s.BadTimestamp != 1 ||
		s.BadPath != 10 || s.TooLong != 1 || s.Incomplete != 1 {
		t.Errorf("stats %+v", s)
	}
	if b := r.TakeBadLine(); b == nil || b.Reason == "" {
		t.Errorf("no bad line sample: %+v", b)
	}
	if b := r.TakeBadLine(); b != nil {
		t.Errorf("sample not cleared: %+v", b)
	}
}

func TestOverlongLineInTheMiddleOfAStream(t *testing.T) {
	// Longer than the reader's whole buffer: skipped up to its newline.
	r := start(t, Config{MaxLineLength: 1000})
	col := collect(r)
	c := dial(t, r)
	fmt.Fprintf(c, "before 1 1700000001\n%s 1 1700000001\nafter 2 1700000002\n", strings.Repeat("y", 200*1024))
	eventually(t, "2 lines", func() bool { return len(col.get()) == 2 })
	if s := r.Stats(); s.TooLong != 1 {
		t.Errorf("TooLong = %d", s.TooLong)
	}
}

func TestManyConnectionsAtOnce(t *testing.T) {
	r := start(t, Config{})
	col := collect(r)
	const conns, per = 40, 250
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", r.TCPAddr().String(), 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			var b bytes.Buffer
			for j := 0; j < per; j++ {
				fmt.Fprintf(&b, "conn%d.m%d %d 1700000000\n", i, j, j)
			}
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(b.Bytes()); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	eventually(t, "all lines", func() bool { return len(col.get()) == conns*per })
	seen := map[string]bool{}
	for _, l := range col.get() {
		seen[l] = true
	}
	if len(seen) != conns*per {
		t.Fatalf("%d distinct lines, want %d", len(seen), conns*per)
	}
	eventually(t, "connections closed", func() bool { return r.Stats().Active == 0 })
	if s := r.Stats(); s.Connections != conns {
		t.Errorf("Connections = %d", s.Connections)
	}
}

func TestIdleConnectionClosed(t *testing.T) {
	r := start(t, Config{IdleTimeout: 300 * time.Millisecond})
	col := collect(r)
	c := dial(t, r)
	fmt.Fprint(c, "x 1 1700000000\n")
	eventually(t, "line", func() bool { return len(col.get()) == 1 })
	// Send nothing more: the server must close its end.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after idle = %v, want EOF", err)
	}
	eventually(t, "idle count", func() bool { return r.Stats().IdleClosed == 1 && r.Stats().Active == 0 })
}

func TestMaxConnections(t *testing.T) {
	r := start(t, Config{MaxConnections: 2})
	col := collect(r)
	a, b := dial(t, r), dial(t, r)
	fmt.Fprint(a, "a 1 1700000000\n")
	fmt.Fprint(b, "b 1 1700000000\n")
	eventually(t, "2 active", func() bool { return r.Stats().Active == 2 && len(col.get()) == 2 })
	third := dial(t, r)
	_ = third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatal("third connection not closed")
	}
	if s := r.Stats(); s.Refused != 1 {
		t.Errorf("Refused = %d", s.Refused)
	}
}

// TestBackPressure: with nobody consuming, the receiver stops reading once
// its queue is full, so a sender blocks instead of the receiver buffering
// everything; once consumption resumes, every line arrives.
func TestBackPressure(t *testing.T) {
	r := start(t, Config{BatchBytes: 4096, QueueBatches: 2})
	c := dial(t, r)
	line := "backpressure.metric.with.a.long.enough.name 12345.678 1700000000\n"
	const total = 400000 // ~26 MB, far more than the queue and socket buffers hold
	var payload bytes.Buffer
	for i := 0; i < total; i++ {
		payload.WriteString(line)
	}
	sent := make(chan error, 1)
	go func() {
		_ = c.SetWriteDeadline(time.Now().Add(60 * time.Second))
		_, err := c.Write(payload.Bytes())
		sent <- err
	}()
	eventually(t, "queue full", func() bool { return r.Stats().Queued == 2 && r.Stats().QueueFull > 0 })
	// The receiver holds at most the queue, one batch and a reader buffer.
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-sent:
		t.Fatalf("sender finished (%v) although nothing was consumed", err)
	default:
	}
	if got := r.Stats().TCPLines; got*uint64(len(line)) > 1<<20 {
		t.Fatalf("receiver accepted %d lines (%d bytes) without a consumer", got, got*uint64(len(line)))
	}
	col := collect(r)
	if err := <-sent; err != nil {
		t.Fatalf("sender: %v", err)
	}
	eventually(t, "every line", func() bool { return len(col.get()) == total })
}

func TestCloseDeliversEverythingRead(t *testing.T) {
	cfg := Config{Address: "127.0.0.1:0", TCP: true, FlushInterval: time.Hour, Now: time.Now}
	r, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Serve()
	c := dial(t, r)
	fmt.Fprint(c, "a 1 1700000000\nb 2 1700000000\n")
	eventually(t, "lines read", func() bool { return r.Stats().TCPLines == 2 })
	r.Close()
	var got bytes.Buffer
	for b := range r.Batches() {
		got.Write(b)
	}
	if got.String() != "a 1 1700000000\nb 2 1700000000\n" {
		t.Fatalf("after Close got %q", got.String())
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := Listen(Config{Address: "127.0.0.1:0"}); err == nil {
		t.Error("no protocol accepted")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Listen(Config{Address: l.Addr().String(), TCP: true})
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("busy port: %v", err)
	}
}

func BenchmarkAppendLine(b *testing.B) {
	r := &Receiver{cfg: Config{}}
	r.cfg.defaults()
	line := []byte("servers.web01.cpu.user 12.5 1700000000")
	var n lineCounts
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = r.appendLine(dst[:0], line, &n)
	}
}

// FuzzAppendLine: whatever a sender writes, an accepted line comes out as a
// well-formed carbon line whose name maps to a path inside the data folder.
func FuzzAppendLine(f *testing.F) {
	for _, s := range []string{"a.b 1 2", "a 1e308 -1", "../x 1 2", "a\t1\t1.5", "a..b 1 1", "x  y z", "", "a/b 1 1"} {
		f.Add([]byte(s))
	}
	r := &Receiver{cfg: Config{MaxLineLength: 512, Now: func() time.Time { return fixedNow }}}
	r.cfg.defaults()
	f.Fuzz(func(t *testing.T, line []byte) {
		var n lineCounts
		out := r.appendLine(nil, line, &n)
		if len(out) == 0 {
			if n.ok != 0 {
				t.Fatalf("counted ok without output for %q", line)
			}
			return
		}
		if n.ok != 1 || out[len(out)-1] != '\n' || bytes.Count(out, []byte("\n")) != 1 {
			t.Fatalf("bad output %q for %q", out, line)
		}
		p, err := plaintext.ParseLine(out[:len(out)-1])
		if err != nil || p.Timestamp < 0 {
			t.Fatalf("output %q does not parse: %v", out, err)
		}
		rel, err := metricpath.Rel(string(p.Name))
		if err != nil || strings.HasPrefix(rel, "..") || strings.HasPrefix(rel, "/") {
			t.Fatalf("unsafe name %q accepted (%q, %v)", p.Name, rel, err)
		}
	})
}

// FuzzValidName: the fast name check agrees with metricpath.Rel.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a.b", "", ".", "a..b", "a.", ".a", "a/b", "a\\b", "a\x00", "...", strings.Repeat("x", 252), strings.Repeat("x", 251), strings.Repeat("y", 256) + ".z"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, name []byte) {
		if metricpath.IsTagged(string(name)) {
			return // tagged: checked by metricpath.Normalize and Rel instead
		}
		_, err := metricpath.Rel(string(name))
		if got := validName(name); got != (err == nil) {
			t.Fatalf("validName(%q) = %v, Rel error %v", name, got, err)
		}
	})
}

func TestValidNameLimits(t *testing.T) {
	for _, n := range []string{strings.Repeat("x", 251), strings.Repeat("x", 255) + ".y", strings.Repeat("a.", 2047) + "b"} {
		_, err := metricpath.Rel(n)
		if validName([]byte(n)) != (err == nil) {
			t.Errorf("disagree on %d-byte name: Rel %v", len(n), err)
		}
	}
}

func TestLineSplitAcrossWrites(t *testing.T) {
	r := start(t, Config{})
	col := collect(r)
	c := dial(t, r)
	for _, part := range []string{"split.", "name 1", "2.5 17000", "00000\nnext 1 1700000000", "\n"} {
		if _, err := c.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	eventually(t, "2 lines", func() bool { return len(col.get()) == 2 })
	got := col.get()
	sort.Strings(got)
	if got[0] != "next 1 1700000000" || got[1] != "split.name 12.5 1700000000" {
		t.Errorf("got %q", got)
	}
}

func TestIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	l.Close()
	r := start(t, Config{Address: "[::1]:0"})
	col := collect(r)
	c := dial(t, r)
	fmt.Fprint(c, "v6.tcp 1 1700000000\n")
	u, err := net.Dial("udp", r.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write([]byte("v6.udp 2 1700000000\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "2 lines over IPv6", func() bool { return len(col.get()) == 2 })
}

// BenchmarkReceiverTCP: lines per second through the receiver over real
// loopback TCP (4 connections), parsed, checked and batched, with a
// consumer that only recycles the batches.
func BenchmarkReceiverTCP(b *testing.B) {
	r, err := Listen(Config{Address: "127.0.0.1:0", TCP: true})
	if err != nil {
		b.Fatal(err)
	}
	r.Serve()
	done := make(chan struct{})
	go func() {
		for batch := range r.Batches() {
			r.Recycle(batch)
		}
		close(done)
	}()
	const conns = 4
	var chunk bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&chunk, "bench.receiver.m%04d %d.5 1700000000\n", i, i)
	}
	b.SetBytes(int64(chunk.Len() / 1000))
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/1000/conns + 1
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", r.TCPAddr().String())
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			for i := 0; i < per; i++ {
				if _, err := conn.Write(chunk.Bytes()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := uint64(per * 1000 * conns)
	for r.Stats().TCPLines < want {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "lines/s")
	r.Close()
	<-done
}

func TestTaggedLines(t *testing.T) {
	r := start(t, Config{})
	col := collect(r)
	c := dial(t, r)
	good := map[string]string{
		"app.req;env=prod;dc=eu 1 1700000001":     "app.req;dc=eu;env=prod 1 1700000001",
		"app.req;dc=eu;env=prod 2 1700000002":     "app.req;dc=eu;env=prod 2 1700000002",
		"a;x=1;x=2;name=q 3 1700000003":           "a;x=2 3 1700000003",
		"~b;route=/u/{id}*;v=1.2 4 1700000004":    "b;route=/u/{id}*;v=1.2 4 1700000004",
		"plain.via.tag;name=ignored 5 1700000005": "plain.via.tag 5 1700000005",
		`om.x{b="2",a="x\"y"} 6 1700000006`:       `om.x;a=x"y;b=2 6 1700000006`,
	}
	for in := range good {
		fmt.Fprintln(c, in)
	}
	eventually(t, "good tagged lines", func() bool { return len(col.get()) == len(good) })
	got := map[string]bool{}
	for _, l := range col.get() {
		got[l] = true
	}
	for in, want := range good {
		if !got[want] {
			t.Errorf("%q: %q not in %q", in, want, col.get())
		}
	}
	// Each malformed line alone, so that the sampled reason is its own.
	bad := []struct {
		line, reason string
		tag          bool
	}{
		{"a;=v 1 1700000001", "empty tag key", true},
		{"; 1 1700000001", "empty name", true},
		{"a; 1 1700000001", "'=' missing", true},
		{"a;k 1 1700000001", "'=' missing", true},
		{"a;k^x=v 1 1700000001", "forbidden character in tag key", true},
		{"a;k= 1 1700000001", "empty tag value", true},
		{"a;k=~v 1 1700000001", "starts with '~'", true},
		{"a;k=\xff 1 1700000001", "UTF-8", true},
		{"a;k=" + strings.Repeat("v", 300) + " 1 1700000001", "too long for the filesystem", false},
		{"a;k=\x01 1 1700000001", "control character", false},
		{"_tagged.4c4.263.x 1 1700000001", "_tagged", false},
		{"a..b;name=x 1 1700000001", "empty or dot-only", false},
		{`om{b=""} 1 1700000001`, "OpenMetrics", true},
	}
	tags, paths := uint64(0), uint64(0)
	for _, b := range bad {
		fmt.Fprintln(c, b.line)
		if b.tag {
			tags++
		} else {
			paths++
		}
		eventually(t, "bad line counted", func() bool { s := r.Stats(); return s.BadTag == tags && s.BadPath == paths })
		s := r.TakeBadLine()
		if s == nil || !strings.Contains(s.Reason, b.reason) {
			t.Errorf("%q: sampled %+v, want reason with %q", b.line, s, b.reason)
		}
	}
	if n := len(col.get()); n != len(good) {
		t.Errorf("%d lines passed, want %d", n, len(good))
	}
}
