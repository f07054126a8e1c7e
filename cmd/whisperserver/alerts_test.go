package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestCheckConfigChecksAlertRules: -check-config reads the rules file:
// a good one passes, a bad target or an unknown key fails naming the
// file, the rule and the key, and the server refuses to start on it.
func TestCheckConfigChecksAlertRules(t *testing.T) {
	bin := testutil.Binary(t, "whisperserver")
	dir := t.TempDir()
	good := testutil.WriteFile(t, dir, "good.toml", "[[rule]]\nname = \"Q\"\ntarget = \"maxSeries(app.*)\"\nabove = 1\n")
	if code, out := testutil.Run(t, 20*time.Second, bin, "-whisper-dir", dir, "-check-config", "-alerts", good); code != 0 {
		t.Fatalf("good rules: status %d\n%s", code, out)
	}
	for name, c := range map[string]struct{ text, want string }{
		"target.toml": {"[[rule]]\nname = \"Broken\"\ntarget = \"sumSeries(a.*\"\nabove = 1\n", "rule Broken: target"},
		"key.toml":    {"[[rule]]\nname = \"Q\"\ntarget = \"a\"\nabove = 1\nthreshold = 2\n", `unknown key "rule.threshold"`},
	} {
		path := testutil.WriteFile(t, dir, name, c.text)
		code, out := testutil.Run(t, 20*time.Second, bin, "-whisper-dir", dir, "-check-config", "-alerts", path)
		if code != 1 || !strings.Contains(out, path) || !strings.Contains(out, c.want) {
			t.Errorf("%s: -check-config status %d, output:\n%s", name, code, out)
		}
		code, out = testutil.Run(t, 20*time.Second, bin, "-whisper-dir", dir, "-listen", "127.0.0.1:0", "-alerts", path)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%s: start status %d, output:\n%s", name, code, out)
		}
	}
}
