package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestCheckConfig runs hekad -check-config on the shipped example (valid:
// status 0) and on a section with a misspelt key (status 1 with the one
// message that names file, section and key); nothing is started.
func TestCheckConfig(t *testing.T) {
	bin := testutil.Binary(t, "hekad")
	example := testutil.ModuleRoot(t) + "/hekad.toml.example"
	code, out := testutil.Run(t, 30*time.Second, bin, "-check-config", "-config", example)
	if code != 0 || !strings.Contains(out, "configuration OK") {
		t.Fatalf("-check-config on hekad.toml.example: status %d, output:\n%s", code, out)
	}
	dir := t.TempDir()
	bad := testutil.WriteFile(t, dir, "bad.toml", "[stats]\ntype = \"DreamcatcherStatsdInput\"\nflush_intervall = 3\n")
	code, out = testutil.Run(t, 30*time.Second, bin, "-check-config", "-config", bad)
	want := bad + ": [stats]: unknown config setting for 'stats': flush_intervall"
	if code != 1 || !strings.Contains(out, want) {
		t.Fatalf("-check-config on a bad key: status %d (want 1), output (want %q):\n%s", code, want, out)
	}
	if strings.Contains(out, "starting") {
		t.Fatalf("-check-config started the pipeline:\n%s", out)
	}
}
