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
	h := testutil.NewHekad(t)
	dir := h.Dir
	example, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "hekad.toml.example"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(example)
	for old, new := range map[string]string{
		`"127.0.0.1:8125"`: fmt.Sprintf("%q", h.Addr()),
		// base_path = "whisper" is relative to base_dir, as in Heka.
		`base_dir = "data"`: fmt.Sprintf("base_dir = %q", dir),
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("hekad.toml.example no longer holds %s", old)
		}
		cfg = strings.ReplaceAll(cfg, old, new)
	}
	path := testutil.WriteFile(t, dir, "hekad.toml", cfg)

	p := h.Start(path, "Input started: DreamcatcherStatsdInput")
	testutil.SendUDP(t, h.Addr(), "example.hits:3|c\nexample.temp:21.5|g")

	// The host input is on by default: its load file appears without any
	// traffic (it collects once at start).
	testutil.Eventually(t, 30*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "whisper", "hosts", "*", "load", "load1.wsp"))
		return len(m) > 0
	}, "no hosts/*/load/load1.wsp written")

	// SIGTERM before the first 10 s flush: the statsd input's final flush and
	// the whisper cache must still reach disk.
	p.StopClean(syscall.SIGTERM, 60*time.Second)
	for _, f := range []string{"stats_counts/example/hits.wsp", "stats/gauges/example/temp.wsp"} {
		if _, err := os.Stat(filepath.Join(dir, "whisper", f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
}

// TestRunScriptReadsWhereExampleWrites: `make run` starts whisperserver on
// scripts/run.sh's default folder; it must be the folder the example config
// writes to (the whisper output's base_path, relative to base_dir).
func TestRunScriptReadsWhereExampleWrites(t *testing.T) {
	root := testutil.ModuleRoot(t)
	example, err := os.ReadFile(filepath.Join(root, "hekad.toml.example"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "scripts", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	baseDir := tomlString(t, string(example), "base_dir")
	basePath := tomlString(t, string(example), "base_path")
	writes := filepath.Join(baseDir, basePath)
	const prefix = "WHISPER_DIR=${WHISPER_DIR:-"
	i := strings.Index(string(script), prefix)
	if i < 0 {
		t.Fatal("scripts/run.sh sets no default WHISPER_DIR")
	}
	reads := string(script)[i+len(prefix):]
	reads = reads[:strings.IndexByte(reads, '}')]
	if filepath.Clean(reads) != filepath.Clean(writes) {
		t.Errorf("run.sh serves %q but the example config writes to %q", reads, writes)
	}
}

// tomlString returns the first `key = "value"` of the example.
func tomlString(t *testing.T, doc, key string) string {
	t.Helper()
	for _, line := range strings.Split(doc, "\n") {
		f := strings.SplitN(strings.TrimSpace(line), "=", 2)
		if len(f) == 2 && strings.TrimSpace(f[0]) == key {
			v := strings.TrimSpace(f[1])
			if j := strings.Index(v, "#"); j >= 0 {
				v = strings.TrimSpace(v[:j])
			}
			return strings.Trim(v, `"`)
		}
	}
	t.Fatalf("hekad.toml.example has no %s", key)
	return ""
}
