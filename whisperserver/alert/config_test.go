package alert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodRules = `
[[rule]]
name = "QueueTooLong"
target = "maxSeries(app.queue.*)"
above = 100
for = "3s"
every = "1s"
no_data = "ok"
labels = { severity = "page" }
summary = "queue at {{value}}"

[[rule]]
name = "TooQuiet"
target = "app.rate"
below = 1

[[notify]]
type = "alertmanager"
url = "http://127.0.0.1:9093"
`

func writeRules(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "alerts.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadTheIssuesFormat(t *testing.T) {
	rs, err := LoadFile(writeRules(t, goodRules))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rule) != 2 || len(rs.Notify) != 1 {
		t.Fatalf("loaded %d rules, %d notifiers", len(rs.Rule), len(rs.Notify))
	}
	q := rs.Rule[0]
	if th, up := q.Threshold(); th != 100 || !up || q.For.Duration != 3*time.Second || q.Every.Duration != time.Second ||
		q.NoData != NoDataOK || q.Labels["severity"] != "page" || q.Expr() == nil || q.Expr().Func != "maxSeries" {
		t.Errorf("first rule: %+v", q)
	}
	r := rs.Rule[1]
	if th, up := r.Threshold(); th != 1 || up || r.Every.Duration != DefaultEvery || r.Window.Duration != DefaultWindow || r.NoData != NoDataOK {
		t.Errorf("defaults of the second rule: %+v", r)
	}
	if n := rs.Notify[0]; n.Name != "alertmanager#1" || n.Retries != 3 || n.Timeout.Duration != 10*time.Second || n.Resend.Duration != time.Minute {
		t.Errorf("notifier defaults: %+v", n)
	}
}

func TestLoadRefusals(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`[[rule]]` + "\n" + `name="a"` + "\n" + `target="x"` + "\n" + `above=1` + "\n" + `treshold=2`, `unknown key "rule.treshold"`},
		{`colour = "red"`, `unknown key "colour"`},
		{`[[notify]]` + "\n" + `type="webhook"` + "\n" + `url="http://127.0.0.1:1"` + "\n" + `uri="x"`, `unknown key "notify.uri"`},
		{`[[rule]]` + "\n" + `name="a"` + "\n" + `target="x"` + "\n" + `above=1` + "\n" + `[[rule]]` + "\n" + `name="a"` + "\n" + `target="y"` + "\n" + `above=1`, "rule a: the name is used twice"},
		{`[[rule]]` + "\n" + `name="Broken"` + "\n" + `target="sumSeries(a.*"` + "\n" + `above=1`, `rule Broken: target "sumSeries(a.*"`},
		{`[[rule]]` + "\n" + `name="Str"` + "\n" + `target='"text"'` + "\n" + `above=1`, "rule Str: target"},
		{`[[rule]]` + "\n" + `name="NoThreshold"` + "\n" + `target="a"`, "rule NoThreshold: one of above or below"},
		{`[[rule]]` + "\n" + `name="Both"` + "\n" + `target="a"` + "\n" + `above=1` + "\n" + `below=0`, "rule Both: above and below"},
		{`[[rule]]` + "\n" + `name="ND"` + "\n" + `target="a"` + "\n" + `above=1` + "\n" + `no_data="maybe"`, `rule ND: no_data "maybe"`},
		{`[[rule]]` + "\n" + `name="Fast"` + "\n" + `target="a"` + "\n" + `above=1` + "\n" + `every="1ms"`, "rule Fast: every 1ms"},
		{`[[rule]]` + "\n" + `name="Neg"` + "\n" + `target="a"` + "\n" + `above=1` + "\n" + `for="-1s"`, "negative"},
		{`[[rule]]` + "\n" + `target="a"` + "\n" + `above=1`, "rule #1: name is empty"},
		{`[[notify]]` + "\n" + `type="pager"`, `notify pager#1: type "pager"`},
		{`[[notify]]` + "\n" + `type="alertmanager"`, "notify alertmanager#1: url is needed"},
		{`[[notify]]` + "\n" + `type="email"` + "\n" + `smtp="127.0.0.1:25"`, "notify email#1: smtp, from and to"},
		{`[[notify]]` + "\n" + `type="webhook"` + "\n" + `url="http://127.0.0.1:1"` + "\n" + `rules=["nope"]`, `no rule named "nope"`},
	} {
		path := writeRules(t, c.text)
		_, err := LoadFile(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: error %v, want one naming the file and containing %q", c.text, err, c.want)
		}
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: %v", err)
	}
}
