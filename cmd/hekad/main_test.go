package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestStockStatsdPipeline drives the real hekad: Heka's stock StatsdInput →
// StatAccumInput → FileOutput with PayloadEncoder, statsd over real UDP.
func TestStockStatsdPipeline(t *testing.T) {
	h := testutil.NewHekad(t)
	out := filepath.Join(h.Dir, "out.txt")
	// The first keys belong to StockStatsd's [StatAccumInput].
	cfg := h.WriteConfig(h.StockStatsd() + "emit_in_fields = false\n" +
		testutil.PayloadFileOutput("Type == 'heka.statmetric'", out))

	p := h.Start(cfg, "Input started: StatsdInput")
	testutil.SendUDP(t, h.Addr(),
		"app.hits:1|c\napp.hits:2|c\napp.hits:3|c|@0.5",
		"app.latency:10|ms\napp.latency:20|ms\napp.latency:30|ms",
		"app.temp:21|g")

	// Wait for the flush that carries the counter, then check every value
	// of that same flush.
	var flush map[string]string
	testutil.Eventually(t, 10*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		flush = flushWith(string(b), "stats.counters.app.hits.count")
		return flush != nil
	}, "no flush with app.hits in %s", out)

	want := map[string]string{
		"stats.counters.app.hits.count":  "9", // 1 + 2 + 3/0.5
		"stats.counters.app.hits.rate":   "9.000000",
		"stats.timers.app.latency.count": "3",
		"stats.timers.app.latency.lower": "10.000000",
		"stats.timers.app.latency.upper": "30.000000",
		"stats.timers.app.latency.sum":   "60.000000",
		"stats.timers.app.latency.mean":  "20.000000",
		"stats.gauges.app.temp":          "21.000000",
	}
	for name, v := range want {
		if flush[name] != v {
			t.Errorf("%s = %q, want %q", name, flush[name], v)
		}
	}

	p.StopClean(syscall.SIGTERM, 5*time.Second)
	if !strings.Contains(p.Output(), "Shutdown complete") {
		t.Errorf("no clean shutdown in the log")
	}
}

// flushWith returns the values of the first flush (lines sharing one
// timestamp) that contains name.
func flushWith(text, name string) map[string]string {
	byTS := map[string]map[string]string{}
	var order []string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		if byTS[f[2]] == nil {
			byTS[f[2]] = map[string]string{}
			order = append(order, f[2])
		}
		byTS[f[2]][f[0]] = f[1]
	}
	for _, ts := range order {
		if v, ok := byTS[ts][name]; ok && v != "0" {
			return byTS[ts]
		}
	}
	return nil
}

func TestVersion(t *testing.T) {
	code, out := testutil.Run(t, 10*time.Second, testutil.Binary(t, "hekad"), "-version")
	if code != 0 || !strings.Contains(out, "Heka 0.10.0") {
		t.Fatalf("-version: code %d, output %q", code, out)
	}
}

// TestBadConfig checks that each kind of bad configuration stops hekad with a
// non-zero exit and one message naming the file, section and key.
func TestBadConfig(t *testing.T) {
	bin := testutil.Binary(t, "hekad")
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	// A base_dir below a regular file can be neither created nor written,
	// even by root (tests may run as root, where permission bits do not bite).
	notADir := testutil.WriteFile(t, dir, "plain-file", "x")
	good := func(extra string) string {
		return fmt.Sprintf("[hekad]\nbase_dir = %q\n[StatsdInput]\naddress = \"127.0.0.1:%d\"\n%s",
			base, testutil.FreePort(t), extra)
	}
	cases := []struct {
		name, config string
		path         string // overrides the config path when set
		want         []string
	}{
		{name: "invalid TOML", config: "[StatsdInput\naddress = 1\n",
			want: []string{"bad.toml", "invalid TOML"}},
		{name: "unknown plugin type", config: good("[Mystery]\ntype = \"NoSuchInput\"\n"),
			want: []string{"bad.toml", "[Mystery]", "unknown plugin type \"NoSuchInput\""}},
		{name: "unknown key", config: good("[StatAccumInput]\nticker_intervall = 5\n"),
			want: []string{"bad.toml", "[StatAccumInput]", "ticker_intervall"}},
		{name: "unknown hekad key", config: strings.Replace(good(""), "[hekad]\n", "[hekad]\nmaxproc = 2\n", 1),
			want: []string{"bad.toml", "[hekad]", "maxproc"}},
		{name: "missing config path", path: filepath.Join(dir, "nowhere.toml"),
			want: []string{"nowhere.toml", "does not exist"}},
		{name: "unwritable base_dir",
			config: strings.Replace(good(""), base, filepath.Join(notADir, "sub"), 1),
			want:   []string{"base_dir", filepath.Join(notADir, "sub")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = testutil.WriteFile(t, t.TempDir(), "bad.toml", c.config)
			}
			code, out := testutil.Run(t, 10*time.Second, bin, "-config", path)
			testutil.ExpectFailure(t, code, out, c.want...)
			if n := strings.Count(out, "hekad: error:"); n != 1 {
				t.Errorf("%d error messages, want 1:\n%s", n, out)
			}
		})
	}
}

// TestConfigFolder loads every *.toml of a folder, as Heka does.
func TestConfigFolder(t *testing.T) {
	h := testutil.NewHekad(t)
	dir := filepath.Join(h.Dir, "conf.d")
	testutil.WriteFile(t, dir, "00-hekad.toml", fmt.Sprintf("[hekad]\nbase_dir = %q\n", h.BaseDir()))
	testutil.WriteFile(t, dir, "10-input.toml", fmt.Sprintf("[StatsdInput]\naddress = %q\n", h.Addr()))
	testutil.WriteFile(t, dir, "20-accum.toml", "[StatAccumInput]\nticker_interval = 1\n")
	testutil.WriteFile(t, dir, "README.txt", "not a config file [")
	h.Start(dir, "Input started: StatsdInput").StopClean(syscall.SIGINT, 5*time.Second)
}

// TestInitFailureNamesFileAndSection: a setting that decodes but that the
// plugin's Init refuses (a bad listen address) still yields one message
// naming the file and the section.
func TestInitFailureNamesFileAndSection(t *testing.T) {
	h := testutil.NewHekad(t)
	cfg := testutil.WriteFile(t, h.Dir, "init.toml", fmt.Sprintf(`
[hekad]
base_dir = %q
[StatsdInput]
address = "not-an-address"
`, h.BaseDir()))
	code, out := h.Run(cfg, 10*time.Second)
	testutil.ExpectFailure(t, code, out, "hekad: error:", "init.toml: [StatsdInput]")
}

// TestProfilesWrittenOnShutdown: cpuprof and memprof hold a profile after a
// SIGTERM, although Heka's pipeline ends the process with os.Exit.
func TestProfilesWrittenOnShutdown(t *testing.T) {
	h := testutil.NewHekad(t)
	cpu, mem := filepath.Join(h.Dir, "cpu.prof"), filepath.Join(h.Dir, "mem.prof")
	// cpuprof and memprof belong to WriteConfig's [hekad] section.
	cfg := h.WriteConfig(fmt.Sprintf("cpuprof = %q\nmemprof = %q\n", cpu, mem) + h.StockStatsd())
	h.Start(cfg, "Input started: StatsdInput").StopClean(syscall.SIGTERM, 10*time.Second)
	for _, f := range []string{cpu, mem} {
		fi, err := os.Stat(f)
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
}
