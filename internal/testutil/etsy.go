package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// EtsyStatsdVersion is the Etsy statsd release the project matches.
const EtsyStatsdVersion = "0.9.0"

var etsyMu sync.Mutex // one install at a time within a test binary

// EtsyStatsd returns the folder holding Etsy statsd 0.9.0's stats.js,
// installing it with npm under .build/etsy-statsd (always with --prefix, so
// npm never writes into the repository root) when missing or another
// version. Without node or npm it skips, or fails under CI=true.
func EtsyStatsd(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		Unavailable(t, "Etsy statsd %s needs node: %v", EtsyStatsdVersion, err)
	}
	prefix := filepath.Join(ModuleRoot(t), ".build", "etsy-statsd")
	dir := filepath.Join(prefix, "node_modules", "statsd")
	etsyMu.Lock()
	defer etsyMu.Unlock()
	if etsyInstalled(dir) {
		return dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		Unavailable(t, "Etsy statsd %s needs npm: %v", EtsyStatsdVersion, err)
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-save",
		"--prefix", prefix, "statsd@"+EtsyStatsdVersion)
	cmd.Dir = prefix
	if out, err := cmd.CombinedOutput(); err != nil {
		Unavailable(t, "npm install --prefix %s statsd@%s: %v\n%s", prefix, EtsyStatsdVersion, err, out)
	}
	if !etsyInstalled(dir) {
		Unavailable(t, "statsd@%s not in %s after npm install", EtsyStatsdVersion, dir)
	}
	return dir
}

func etsyInstalled(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil || !strings.Contains(string(b), `"version": "`+EtsyStatsdVersion+`"`) {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "stats.js"))
	return err == nil
}
