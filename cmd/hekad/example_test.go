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

// TestExampleConfig runs the real hekad on hekad.toml.example (the config
// `make run` uses), with only its port and folders moved into the test's
// temp dir: statsd over UDP must end up in whisper files, also after SIGTERM.
func TestExampleConfig(t *testing.T) {
	bin := testutil.Binary(t, "hekad")
	example, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "hekad.toml.example"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := testutil.FreePort(t)
	cfg := string(example)
	for old, new := range map[string]string{
		`"127.0.0.1:8125"`: fmt.Sprintf(`"127.0.0.1:%d"`, port),
		// base_path = "whisper" is relative to base_dir, as in Heka.
		`base_dir = "data"`: fmt.Sprintf("base_dir = %q", dir),
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("hekad.toml.example no longer holds %s", old)
		}
		cfg = strings.ReplaceAll(cfg, old, new)
	}
	path := testutil.WriteFile(t, dir, "hekad.toml", cfg)

	p := testutil.Start(t, bin, "-config", path)
	p.WaitOutput("Input started: DreamcatcherStatsdInput", 20*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testutil.SendUDP(t, addr, "example.hits:3|c\nexample.temp:21.5|g")

	// The host input is on by default: its load file appears without any
	// traffic (it collects once at start).
	testutil.Eventually(t, 30*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "whisper", "hosts", "*", "load", "load1.wsp"))
		return len(m) > 0
	}, "no hosts/*/load/load1.wsp written")

	// SIGTERM before the first 10 s flush: the statsd input's final flush and
	// the whisper cache must still reach disk.
	if code := p.Stop(syscall.SIGTERM, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	for _, f := range []string{"stats_counts/example/hits.wsp", "stats/gauges/example/temp.wsp"} {
		if _, err := os.Stat(filepath.Join(dir, "whisper", f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}
