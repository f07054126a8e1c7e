package testutil

import (
	"context"
	"fmt"
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

// EtsyReadyTimeout bounds how long StartEtsyStatsd waits for Etsy statsd's
// "server is up" line (node starts slowly on a loaded machine).
const EtsyReadyTimeout = 30 * time.Second

// StartEtsyStatsd runs Etsy statsd (see EtsyStatsd) on a free 127.0.0.1
// port, flushing every flushMs milliseconds through its Graphite backend to
// 127.0.0.1:graphitePort, with extra config entries (JS, each ending in a
// comma) added, and waits until it is up. It returns the process and the
// address it listens on for statsd datagrams; the process is killed at the
// test's end.
func StartEtsyStatsd(t testing.TB, graphitePort, flushMs int, extra string) (*Proc, string) {
	t.Helper()
	js := filepath.Join(EtsyStatsd(t), "stats.js")
	node, err := exec.LookPath("node")
	if err != nil {
		Unavailable(t, "Etsy statsd %s needs node: %v", EtsyStatsdVersion, err)
	}
	port, mgmt := FreePort(t), FreePort(t)
	cfg := WriteFile(t, t.TempDir(), "etsy.js", fmt.Sprintf(`{
  address: "127.0.0.1", port: %d, mgmt_address: "127.0.0.1", mgmt_port: %d,
  flushInterval: %d, backends: ["./backends/graphite"],
  graphiteHost: "127.0.0.1", graphitePort: %d,
  %s
}
`, port, mgmt, flushMs, graphitePort, extra))
	p := Start(t, node, js, cfg)
	p.WaitOutput("server is up", EtsyReadyTimeout)
	return p, fmt.Sprintf("127.0.0.1:%d", port)
}
