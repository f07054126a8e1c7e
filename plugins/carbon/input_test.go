package carbon_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// inputSections is the TOML of the carbon input on addr (extra settings,
// self_metrics_interval = 1 unless extra sets it) and Heka's FileOutput
// writing every heka.statmetric payload to out.
func inputSections(addr, out, extra string) string {
	return fmt.Sprintf("[DreamcatcherCarbonInput]\naddress = %q\nself_metrics = \"self.{hostname}\"\n%s\n",
		addr, withDefaults(extra, "self_metrics_interval = 1")) +
		testutil.PayloadFileOutput("Type == 'heka.statmetric'", out)
}

// withDefaults adds each "key = value" default to extra unless extra sets
// that key.
func withDefaults(extra string, defaults ...string) string {
	for _, d := range defaults {
		key := strings.TrimSpace(strings.SplitN(d, "=", 2)[0])
		if !strings.Contains(extra, key+" ") && !strings.Contains(extra, key+"=") {
			extra += "\n" + d
		}
	}
	return extra
}

func readLines(path string) map[string]bool {
	b, _ := os.ReadFile(path)
	m := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			m[l] = true
		}
	}
	return m
}

// startInput starts the real hekad with the carbon input on a free port
// writing to Heka's FileOutput, and waits until the input has started.
func startInput(t *testing.T, extra string) (p *testutil.Proc, addr, out string) {
	t.Helper()
	h := testutil.NewHekad(t)
	out = filepath.Join(h.Dir, "out.txt")
	p = h.Start(h.WriteConfig(inputSections(h.Addr(), out, extra)), "Input started: DreamcatcherCarbonInput")
	return p, h.Addr(), out
}

// TestCarbonInputEndToEnd drives the real hekad: carbon plaintext over real
// TCP (several connections) and UDP → DreamcatcherCarbonInput →
// heka.statmetric → Heka's FileOutput; bad lines are dropped and counted in
// the input's own metrics; SIGTERM loses nothing already received.
func TestCarbonInputEndToEnd(t *testing.T) {
	p, addr, out := startInput(t, "")
	testutil.WaitTCPListening(t, addr, 5*time.Second)

	const conns, per = 4, 2500
	want := map[string]bool{}
	for c := 0; c < conns; c++ {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for i := 0; i < per; i++ {
			line := fmt.Sprintf("e2e.conn%d.metric%d %d.5 %d", c, i, i, 1700000000+i)
			want[line] = true
			b.WriteString(line + "\n")
			if i%500 == 0 {
				b.WriteString("e2e.bad notanumber 1700000000\n../escape 1 1700000000\n")
			}
		}
		_ = conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
		if _, err := conn.Write(b.Bytes()); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	testutil.SendUDP(t, addr, "e2e.udp.one 1 1700000001\ne2e.udp.two 2 1700000002\n", "e2e.udp.bad 1\n")
	want["e2e.udp.one 1 1700000001"] = true
	want["e2e.udp.two 2 1700000002"] = true

	var got map[string]bool
	testutil.Eventually(t, 30*time.Second, func() bool {
		got = readLines(out)
		for l := range want {
			if !got[l] {
				return false
			}
		}
		return true
	}, "not every line reached the FileOutput")
	for l := range got {
		if strings.HasPrefix(l, "e2e.") && !want[l] {
			t.Errorf("unexpected line %q", l)
		}
	}
	// 4 connections × 5 × 2 bad lines + 1 UDP line: 41 dropped, counted in
	// the input's own metric (a per-interval count: sum every report).
	testutil.Eventually(t, 15*time.Second, func() bool {
		return sumSelf(out, ".badLines") == 41
	}, "self metric badLines never summed to 41 (now %v)", func() float64 { return sumSelf(out, ".badLines") }())
	if n := sumSelf(out, ".tcp.metricsReceived"); n != conns*per {
		t.Errorf("tcp.metricsReceived summed to %v, want %d", n, conns*per)
	}
	testutil.Eventually(t, 15*time.Second, func() bool {
		return strings.Contains(p.Output(), "bad lines dropped")
	}, "bad lines never logged")

	p.StopClean(syscall.SIGTERM, 15*time.Second)
}

// TestCarbonInputFlushOnStop: lines read but still in a partial batch (a
// batch delay far longer than the test) are injected on SIGTERM.
func TestCarbonInputFlushOnStop(t *testing.T) {
	p, addr, out := startInput(t, "batch_delay_ms = 600000\nudp = false")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "e2e.last 42 1700000100\n")
	testutil.Eventually(t, 15*time.Second, func() bool {
		return sumSelf(out, ".tcp.metricsReceived") == 1
	}, "line never received")
	if readLines(out)["e2e.last 42 1700000100"] {
		t.Fatal("line delivered before stop: the test does not test the stop flush")
	}
	p.StopClean(syscall.SIGTERM, 15*time.Second)
	if !readLines(out)["e2e.last 42 1700000100"] {
		t.Errorf("line received before SIGTERM lost")
	}
}

func sumSelf(out, suffix string) float64 {
	b, _ := os.ReadFile(out)
	var sum float64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && strings.HasPrefix(f[0], "self.") && strings.HasSuffix(f[0], suffix) {
			var v float64
			fmt.Sscan(f[1], &v)
			sum += v
		}
	}
	return sum
}

// TestCarbonInputConfigErrors: a busy port and bad settings stop hekad with
// one clear message.
func TestCarbonInputConfigErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name, addr, extra string
		want              []string
	}{
		{"busy port", busy.Addr().String(), "", []string{"DreamcatcherCarbonInput", busy.Addr().String()}},
		{"unknown key", "", "idle_timout = 3", []string{"DreamcatcherCarbonInput", "idle_timout"}},
		{"no protocol", "", "tcp = false\nudp = false", []string{"nothing to listen on"}},
		{"negative timeout", "", "idle_timeout = -1", []string{"idle_timeout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := testutil.NewHekad(t)
			addr := c.addr
			if addr == "" {
				addr = h.Addr()
			}
			code, out := h.Run(h.WriteConfig(inputSections(addr, filepath.Join(h.Dir, "out"), c.extra)), 15*time.Second)
			testutil.ExpectFailure(t, code, out, c.want...)
		})
	}
}
