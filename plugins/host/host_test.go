package host_test

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/plaintext"
)

// fileOutputConfig writes a config for h that runs the host input into
// Heka's FileOutput with the PayloadEncoder, so the file (out) holds exactly
// the injected carbon lines.
func fileOutputConfig(h *testutil.Hekad, hostSection string) (cfg, out string) {
	out = filepath.Join(h.Dir, "out.txt")
	// hostname belongs to WriteConfig's [hekad] section.
	return h.WriteConfig("hostname = \"test.host.example\"\n" + hostSection + "\n" +
		testutil.PayloadFileOutput("Type == 'heka.statmetric' && Logger == 'DreamcatcherHostInput'", out)), out
}

// collections reads the output file and groups its lines by timestamp,
// checking that each is a valid carbon line with a valid metric name.
func collections(t *testing.T, path string) (byTS map[int64]map[string]float64, order []int64) {
	t.Helper()
	b, _ := os.ReadFile(path)
	byTS = map[int64]map[string]float64{}
	// Only complete lines: the file may be read in the middle of a write.
	if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	plaintext.Lines(b, func(line []byte) {
		p, err := plaintext.ParseLine(line)
		if err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		if _, err := metricpath.Rel(string(p.Name)); err != nil {
			t.Fatalf("bad name %q: %v", p.Name, err)
		}
		if byTS[p.Timestamp] == nil {
			byTS[p.Timestamp] = map[string]float64{}
			order = append(order, p.Timestamp)
		}
		byTS[p.Timestamp][string(p.Name)] = p.Value
	})
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	return byTS, order
}

// TestHostInputAllGroups runs the real plugin in the real hekad and checks
// a collection with rates (the second or later) for plausible values.
func TestHostInputAllGroups(t *testing.T) {
	h := testutil.NewHekad(t)
	cfg, out := fileOutputConfig(h, "[DreamcatcherHostInput]\ninterval = 1\n")
	p := h.Start(cfg, "Input started: DreamcatcherHostInput")

	const pre = "hosts.test_host_example."
	var m map[string]float64
	testutil.Eventually(t, 30*time.Second, func() bool {
		byTS, order := collections(t, out)
		for _, ts := range order {
			if _, ok := byTS[ts][pre+"cpu.total.idle"]; ok {
				m = byTS[ts]
				return true
			}
		}
		return false
	}, "no collection with CPU percentages in %s", out)

	for name := range m {
		if !strings.HasPrefix(name, pre) {
			t.Errorf("%s is not under %s", name, pre)
		}
	}
	sum := 0.0
	for _, s := range []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"} {
		v, ok := m[pre+"cpu.total."+s]
		if !ok || v < 0 || v > 100 {
			t.Errorf("cpu.total.%s = %v (present %v)", s, v, ok)
		}
		sum += v
	}
	if math.Abs(sum-100) > 0.01 {
		t.Errorf("CPU states sum to %v", sum)
	}
	for _, l := range []string{"load1", "load5", "load15"} {
		if v, ok := m[pre+"load."+l]; !ok || v < 0 {
			t.Errorf("load.%s = %v (present %v)", l, v, ok)
		}
	}
	total, used := m[pre+"memory.total"], m[pre+"memory.used"]
	if total <= 0 || used <= 0 || used > total {
		t.Errorf("memory used %v of %v", used, total)
	}
	if v := m[pre+"memory.used_percent"]; v <= 0 || v > 100 {
		t.Errorf("memory.used_percent = %v", v)
	}
	if _, ok := m[pre+"swap.total"]; !ok {
		t.Errorf("no swap.total")
	}
	if v := m[pre+"disk.root.total"]; v <= 0 || m[pre+"disk.root.used"] > v {
		t.Errorf("disk.root: used %v of %v", m[pre+"disk.root.used"], v)
	}
	if v := m[pre+"processes.total"]; v < 2 {
		t.Errorf("processes.total = %v", v)
	}
	var groups []string
	for _, g := range []string{"diskio.", "net."} {
		found := false
		for name := range m {
			found = found || strings.HasPrefix(name, pre+g)
		}
		if !found {
			groups = append(groups, g)
		}
	}
	if len(groups) > 0 {
		t.Errorf("no %v metrics in %v", groups, m)
	}

	p.StopClean(syscall.SIGTERM, 10*time.Second)
}

// TestHostInputOptions checks prefix and collect.
func TestHostInputOptions(t *testing.T) {
	h := testutil.NewHekad(t)
	cfg, out := fileOutputConfig(h, `[DreamcatcherHostInput]
interval = 1
prefix = "servers.box-1"
collect = ["load", "mem"]
`)
	p := h.Start(cfg, "Input started: DreamcatcherHostInput")
	var order []int64
	var byTS map[int64]map[string]float64
	testutil.Eventually(t, 30*time.Second, func() bool {
		byTS, order = collections(t, out)
		return len(order) >= 2
	}, "fewer than two collections in %s", out)
	for _, ts := range order {
		for name := range byTS[ts] {
			if !strings.HasPrefix(name, "servers.box-1.load.") && !strings.HasPrefix(name, "servers.box-1.memory.") {
				t.Errorf("unexpected metric %s", name)
			}
		}
		if len(byTS[ts]) != 3+8 {
			t.Errorf("collection at %d has %d metrics, want 11: %v", ts, len(byTS[ts]), byTS[ts])
		}
	}
	if order[1] <= order[0] {
		t.Errorf("timestamps %v", order)
	}
	p.Stop(syscall.SIGTERM, 10*time.Second)
}

// TestHostInputBadConfig checks that bad settings stop hekad at start with
// a message naming the problem.
func TestHostInputBadConfig(t *testing.T) {
	cases := map[string]struct{ section, want string }{
		"unknown group": {`collect = ["cpu", "gpu"]`, `unknown group "gpu"`},
		"zero interval": {`interval = 0`, "interval must be at least 1"},
		"bad prefix":    {`prefix = "a..b"`, `prefix "a..b"`},
		"bad pattern":   {`interfaces = ["eth["]`, `bad name pattern "eth["`},
		"unknown key":   {`intervall = 5`, "intervall"},
		"empty collect": {`collect = []`, "collect is empty"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := testutil.NewHekad(t)
			cfg, _ := fileOutputConfig(h, "[DreamcatcherHostInput]\n"+c.section+"\n")
			code, out := h.Run(cfg, 20*time.Second)
			testutil.ExpectFailure(t, code, out, c.want, "DreamcatcherHostInput")
		})
	}
}
