package statsd_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// flushes parses a FileOutput of carbon lines into timestamp → name → value.
func flushes(t *testing.T, path string) (map[int64]map[string]string, []int64) {
	t.Helper()
	b, _ := os.ReadFile(path)
	out := map[int64]map[string]string{}
	var order []int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		ts, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatalf("bad timestamp in %q", line)
		}
		if out[ts] == nil {
			out[ts] = map[string]string{}
			order = append(order, ts)
		}
		out[ts][f[0]] = f[1]
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	return out, order
}

// findFlush returns the first flush where name has a value other than "0".
func findFlush(t *testing.T, path, name string) (int64, map[string]string) {
	t.Helper()
	all, order := flushes(t, path)
	for _, ts := range order {
		if v, ok := all[ts][name]; ok && v != "0" {
			return ts, all[ts]
		}
	}
	return 0, nil
}

type hekad struct {
	p    *testutil.Proc
	out  string
	addr string
	tcp  string
}

// startHekad runs the real hekad with a DreamcatcherStatsdInput section
// (extra options appended) and a FileOutput writing the payloads.
func startHekad(t *testing.T, options string, extraSections string) *hekad {
	t.Helper()
	hd := testutil.NewHekad(t)
	h := &hekad{out: filepath.Join(hd.Dir, "out.txt"),
		addr: hd.Addr(), tcp: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	cfg := hd.WriteConfig(fmt.Sprintf("[DreamcatcherStatsdInput]\naddress = %q\ntcp_address = %q\n%s\n", h.addr, h.tcp, options) +
		testutil.PayloadFileOutput("Type == 'heka.statmetric'", h.out) + extraSections)
	h.p = hd.Start(cfg, "Input started: DreamcatcherStatsdInput")
	testutil.WaitTCPListening(t, h.tcp, 10*time.Second)
	return h
}

func expectValues(t *testing.T, flush map[string]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if flush[k] != w {
			t.Errorf("%s = %q, want %q", k, flush[k], w)
		}
	}
}

// TestEndToEnd drives the real hekad over UDP and TCP on 127.0.0.1 and
// checks a flush's names and values, then a clean SIGTERM.
func TestEndToEnd(t *testing.T) {
	h := startHekad(t, "flush_interval = 1\npercent_thresholds = [90, 50]", "")
	testutil.SendUDP(t, h.addr,
		"e2e.hits:1|c\ne2e.hits:2|c\ne2e.hits:3|c|@0.5",
		"e2e.lat:10|ms\ne2e.lat:20|ms:30|ms",
		"e2e.temp:21|g\ne2e.temp:+4|g",
		"e2e.users:a|s\ne2e.users:b|s\ne2e.users:a|s",
		"e2e.tagged:5|c|#env:prod,zone:a",
		"garbage line\n\n")
	testutil.SendTCP(t, h.tcp, "e2e.hits:1|c\ne2e.tcp:7|c\ne2e.tcp:1|c") // last line without '\n'
	var flush map[string]string
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, flush = findFlush(t, h.out, "stats_counts.e2e.tcp")
		_, f2 := findFlush(t, h.out, "stats_counts.e2e.hits")
		if flush == nil || f2 == nil {
			return false
		}
		return true
	}, "no flush with e2e metrics in %s", h.out)
	// UDP and TCP may land in different flushes: sum the counter over all.
	all, _ := flushes(t, h.out)
	hits := 0.0
	for _, f := range all {
		v, _ := strconv.ParseFloat(f["stats_counts.e2e.hits"], 64)
		hits += v
	}
	if hits != 1+2+6+1 {
		t.Errorf("stats_counts.e2e.hits summed over flushes = %v, want 10", hits)
	}
	expectValues(t, flush, map[string]string{"stats_counts.e2e.tcp": "8", "stats.e2e.tcp": "8"})
	// Each datagram is aggregated whole; look each name up in the first
	// flush where it is non-zero.
	for name, want := range map[string]string{
		"stats.timers.e2e.lat.count":              "3",
		"stats.timers.e2e.lat.lower":              "10",
		"stats.timers.e2e.lat.upper":              "30",
		"stats.timers.e2e.lat.upper_50":           "20",
		"stats.timers.e2e.lat.mean":               "20",
		"stats.timers.e2e.lat.sum":                "60",
		"stats.gauges.e2e.temp":                   "25",
		"stats.sets.e2e.users.count":              "2",
		"stats_counts.e2e.tagged;env=prod;zone=a": "5",
	} {
		if _, f := findFlush(t, h.out, name); f == nil || f[name] != want {
			t.Errorf("%s = %q, want %q", name, f[name], want)
		}
	}
	bad := 0.0
	for _, f := range all {
		v, _ := strconv.ParseFloat(f["stats_counts.statsd.bad_lines_seen"], 64)
		bad += v
	}
	if bad != 1 {
		t.Errorf("bad_lines_seen summed = %v, want 1", bad)
	}
	h.p.StopClean(syscall.SIGTERM, 15*time.Second)
	if !strings.Contains(h.p.Output(), "Shutdown complete") {
		t.Errorf("no clean shutdown in the log")
	}
}

// TestIPv6 listens on [::1] when the machine has IPv6 loopback.
func TestIPv6(t *testing.T) {
	probe, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	h := startHekad(t, "flush_interval = 1", fmt.Sprintf(`
[statsd6]
type = "DreamcatcherStatsdInput"
address = "[::1]:%d"
flush_interval = 1
prefix_stats = "statsd6"
`, port))
	h.p.WaitOutput("Input started: statsd6", 10*time.Second)
	testutil.SendUDP(t, fmt.Sprintf("[::1]:%d", port), "v6.hits:3|c")
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, f := findFlush(t, h.out, "stats_counts.v6.hits")
		return f != nil && f["stats_counts.v6.hits"] == "3"
	}, "no v6.hits=3 in %s", h.out)
}

// TestShutdownFlush: metrics received after the last regular flush are
// flushed on SIGTERM, stamped with the next regular flush's time, so they
// do not overwrite that last flush's point; the injected messages reach
// the output before Heka stops it.
func TestShutdownFlush(t *testing.T) {
	h := startHekad(t, "flush_interval = 3", "")
	var first int64
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, order := flushes(t, h.out)
		if len(order) > 0 {
			first = order[len(order)-1]
		}
		return len(order) > 0
	}, "no regular flush in %s", h.out)
	testutil.SendUDP(t, h.addr, "bye.count:42|c\nbye.lat:5|ms\nbye.g:3|g")
	testutil.SendTCP(t, h.tcp, "bye.tcp:9|c\n")
	h.p.StopClean(syscall.SIGTERM, 20*time.Second)
	all, order := flushes(t, h.out)
	ts, f := findFlush(t, h.out, "stats_counts.bye.count")
	if f == nil {
		t.Fatalf("pending counter lost on shutdown; flushes %v; log:\n%s", order, h.p.Output())
	}
	expectValues(t, f, map[string]string{"stats_counts.bye.count": "42", "stats_counts.bye.tcp": "9",
		"stats.timers.bye.lat.count": "1", "stats.gauges.bye.g": "3"})
	last := order[len(order)-1]
	if ts != last {
		t.Errorf("the pending data is in flush %d, the last flush is %d", ts, last)
	}
	// The final flush takes the next slot: previous regular flush + 3 s.
	if len(order) < 2 || order[len(order)-2]+3 != ts {
		t.Errorf("final flush at %d, flushes %v (first seen %d): want previous + 3", ts, order, first)
	}
	if _, ok := all[order[len(order)-2]]["stats_counts.bye.count"]; ok && all[order[len(order)-2]]["stats_counts.bye.count"] != "0" {
		t.Errorf("previous flush overwritten")
	}
	if !strings.Contains(h.p.Output(), "final flush stamped") {
		t.Errorf("no final flush in the log")
	}
}

// TestLargeFlush: a flush of 100,000 names is far over Heka's 64 KiB
// message limit; every name must still reach the output.
func TestLargeFlush(t *testing.T) {
	h := startHekad(t, "flush_interval = 1\nreaders = 1", "")
	const names = 100000
	c, err := net.Dial("udp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	for i := 0; i < names; i++ {
		fmt.Fprintf(&b, "big.n%06d:1|c\n", i)
		if (i+1)%50 == 0 {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(b.String())); err != nil {
				t.Fatal(err)
			}
			b.Reset()
			if (i+1)%5000 == 0 {
				time.Sleep(time.Millisecond) // keep well under the receive buffer
			}
		}
	}
	testutil.Eventually(t, 60*time.Second, func() bool {
		all, _ := flushes(t, h.out)
		seen := map[string]bool{}
		for _, f := range all {
			for k, v := range f {
				if strings.HasPrefix(k, "stats_counts.big.n") && v == "1" {
					seen[k] = true
				}
			}
		}
		return len(seen) == names
	}, "not all %d names arrived", names)
	st, err := os.Stat(h.out)
	if err != nil || st.Size() < 4<<20 {
		t.Fatalf("output %v bytes, want several MiB (many messages): %v", st.Size(), err)
	}
}

// TestBadInput: garbage never crashes the input; it is counted.
func TestBadInput(t *testing.T) {
	h := startHekad(t, "flush_interval = 1", "")
	garbage := []string{
		"\x00\x01\x02", ":", "a:", "a:|", "a:x|c", "a:1|c|@", "a:1|c|@-1", "a:-5|ms", "|||",
		strings.Repeat("x", 60000), "a:1e999|g", "\xff\xfe:1|c|#\xff",
	}
	testutil.SendUDP(t, h.addr, garbage...)
	testutil.SendTCP(t, h.tcp, strings.Repeat("y", 70000)+"\nok.after:1|c\n")
	testutil.SendUDP(t, h.addr, "ok.metric:1|c")
	testutil.Eventually(t, 20*time.Second, func() bool {
		all, _ := flushes(t, h.out)
		bad, okm, oka := 0.0, false, false
		for _, f := range all {
			v, _ := strconv.ParseFloat(f["stats_counts.statsd.bad_lines_seen"], 64)
			bad += v
			okm = okm || f["stats_counts.ok.metric"] == "1"
			oka = oka || f["stats_counts.ok.after"] == "1"
		}
		// "\xff\xfe:1|c|#\xff" parses as an empty-named counter, as in
		// Etsy; no whisper file can hold it, so it is refused and counted too.
		return okm && oka && bad == 13
	}, "bad lines not counted as expected in %s", h.out)
	h.p.StopClean(syscall.SIGTERM, 15*time.Second)
}

// TestConfigErrors: bad options stop hekad with a message naming them.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ opt, want string }{
		{`tags = "maybe"`, "tags"},
		{`percent_thresholds = [0]`, "percent_thresholds"},
		{`flush_intervall = 3`, "flush_intervall"},
		{`max_datagram_size = 10`, "max_datagram_size"},
		{`histogram = [{metric = "x", bins = ["lots"]}]`, "histogram"},
		{`calculated_timer_metrics = ["p99"]`, "calculated_timer_metrics"},
	} {
		h := testutil.NewHekad(t)
		code, out := h.Run(h.WriteConfig(fmt.Sprintf("[DreamcatcherStatsdInput]\naddress = %q\n%s\n", h.Addr(), c.opt)), 15*time.Second)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, output lacks %q:\n%s", c.opt, code, c.want, out)
		}
	}
}

// TestPortInUse: a second instance on a busy port fails instead of sharing
// it through SO_REUSEPORT.
func TestPortInUse(t *testing.T) {
	h := startHekad(t, "flush_interval = 1", "")
	second := testutil.NewHekad(t)
	cfg := second.WriteConfig(fmt.Sprintf("[DreamcatcherStatsdInput]\naddress = %q\n", h.addr))
	p := testutil.Start(t, second.Bin, "-config", cfg)
	// The second hekad stops by itself, with status 1 and the reason.
	if code := p.Wait(20 * time.Second); code != 1 {
		t.Fatalf("second hekad on the same port: exit status %d, want 1:\n%s", code, p.Output())
	}
	if !strings.Contains(p.Output(), "address already in use") {
		t.Fatalf("second hekad on the same port did not say why:\n%s", p.Output())
	}
}
