package server

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestAlertsSetting: the rules file comes from alerts in the TOML file,
// WHISPERSERVER_ALERTS or -alerts.
func TestAlertsSetting(t *testing.T) {
	file := writeConfig(t, "alerts = \"/etc/a.toml\"\nalerts_state_dir = \"/var/lib/ws\"\nalert_workers = 3\n")
	inv, err := Load("ws", []string{"-config", file}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c := inv.Config; c.Alerts != "/etc/a.toml" || c.AlertsStateDir != "/var/lib/ws" || c.AlertWorkers != 3 {
		t.Errorf("from the file: %+v", c)
	}
	inv, err = Load("ws", []string{"-config", file}, env(map[string]string{"WHISPERSERVER_ALERTS": "/env.toml"}), io.Discard)
	if err != nil || inv.Config.Alerts != "/env.toml" {
		t.Errorf("from the environment: %v %q", err, inv.Config.Alerts)
	}
	inv, err = Load("ws", []string{"-alerts", "/flag.toml"}, env(map[string]string{"WHISPERSERVER_ALERTS": "/env.toml"}), io.Discard)
	if err != nil || inv.Config.Alerts != "/flag.toml" {
		t.Errorf("from the flag: %v %q", err, inv.Config.Alerts)
	}
}

// TestNewRefusesBadRules: a rule whose target does not parse stops the
// server at start with the file and the rule named.
func TestNewRefusesBadRules(t *testing.T) {
	cfg := Defaults()
	cfg.WhisperDir = t.TempDir()
	cfg.Alerts = writeConfig(t, "[[rule]]\nname = \"Broken\"\ntarget = \"sumSeries(a.*\"\nabove = 1\n")
	_, err := New(cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "rule Broken") || !strings.Contains(err.Error(), cfg.Alerts) {
		t.Fatalf("error %v", err)
	}
}

// TestAlertsWithinMaxSeries: a rule reads whisper files through the
// render engine and is held to max_series like a /render request.
func TestAlertsWithinMaxSeries(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"app.q.a", "app.q.b", "app.q.c"} {
		makeMetric(t, dir, n, 10, 100)
	}
	cfg := Defaults()
	cfg.WhisperDir = dir
	cfg.MaxSeries = 2
	cfg.Alerts = writeConfig(t, `
[[rule]]
name = "Wide"
target = "app.q.*"
above = 1
[[rule]]
name = "Narrow"
target = "sumSeries(app.q.{a,b})"
above = 1
`)
	s, ts := newTestServer(t, cfg, nil)
	s.Alerts().EvalAll(context.Background())
	code, _, body := fetch(t, "GET", ts.URL+"/api/alerts", nil)
	if code != 200 {
		t.Fatalf("/api/alerts: %d %s", code, body)
	}
	for _, want := range []string{`"last_error":"too many series`, `"rule":"Narrow","series":"sumSeries(app.q.{a,b})","state":"firing"`, `"value":3`} {
		if !strings.Contains(body, want) {
			t.Errorf("/api/alerts lacks %s:\n%s", want, body)
		}
	}
}
