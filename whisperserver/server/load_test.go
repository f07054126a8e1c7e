package server

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ws.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadLayers checks defaults < file < environment < flags, key by key.
func TestLoadLayers(t *testing.T) {
	file := writeConfig(t, "listen = \"127.0.0.1:1\"\nmax_series = 7\nmax_find = 8\nrequest_timeout = \"5s\"\ntimezone = \"Europe/Paris\"\n")
	inv, err := Load("ws", []string{"-config", file, "-max-find", "9", "-rescan-interval", "2m"},
		env(map[string]string{"WHISPERSERVER_MAX_SERIES": "70", "WHISPERSERVER_MAX_FIND": "80"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Listen = "127.0.0.1:1"           // file
	want.MaxSeries = 70                   // env over file
	want.MaxFind = 9                      // flag over env over file
	want.RequestTimeout = 5 * time.Second // file, as a duration string
	want.RescanInterval = 2 * time.Minute // flag
	want.TimeZone = "Europe/Paris"
	if inv.Config != want {
		t.Fatalf("got  %+v\nwant %+v", inv.Config, want)
	}
	if inv.ConfigFile != file {
		t.Fatalf("config file %q, want %q", inv.ConfigFile, file)
	}
}

// TestLoadConfigFromEnv checks WHISPERSERVER_CONFIG names the file.
func TestLoadConfigFromEnv(t *testing.T) {
	file := writeConfig(t, "whisper_dir = \"/srv/whisper\"\n")
	inv, err := Load("ws", nil, env(map[string]string{"WHISPERSERVER_CONFIG": file}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Config.WhisperDir != "/srv/whisper" {
		t.Fatalf("whisper_dir %q", inv.Config.WhisperDir)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		args       []string
		env        map[string]string
		want       string
	}{
		{name: "unknown key", file: "max_seriez = 1\n", want: `unknown setting "max_seriez"`},
		{name: "wrong type", file: "max_series = \"many\"\n", want: "max_series"},
		{name: "bad env", env: map[string]string{"WHISPERSERVER_MAX_POINTS": "-1"}, want: "WHISPERSERVER_MAX_POINTS: not a non-negative integer"},
		{name: "bad flag", args: []string{"-request-timeout", "soon"}, want: "-request-timeout"},
		{name: "extra argument", args: []string{"folder"}, want: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"-config", writeConfig(t, tc.file)}, args...)
			}
			_, err := Load("ws", args, env(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Load("ws", []string{"-h"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
}

// TestConfigTOMLRoundTrip checks -print-config's output loads back as the
// same configuration (the password aside, which it redacts).
func TestConfigTOMLRoundTrip(t *testing.T) {
	c := Defaults()
	c.MaxSeries, c.RequestTimeout, c.BasicAuthUser, c.BasicAuthPassword = 3, 1500*time.Millisecond, "u", "secret"
	b, err := c.TOML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "secret") {
		t.Fatalf("printed config shows the password:\n%s", b)
	}
	inv, err := Load("ws", []string{"-config", writeConfig(t, string(b))}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.BasicAuthPassword = "<redacted>"
	if inv.Config != c {
		t.Fatalf("round trip: got %+v\nwant %+v", inv.Config, c)
	}
}

func TestValidateLogFormat(t *testing.T) {
	c := Defaults()
	c.LogFormat = "xml"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "want text or json") {
		t.Fatalf("log format xml: %v", err)
	}
}

// TestLoadDashboards: the dashboards folder from the file, the environment
// (WHISPERSERVER_DASHBOARDS) and the flag (-dashboards), in that order.
func TestLoadDashboards(t *testing.T) {
	file := writeConfig(t, "dashboards = \"/etc/dc/file\"\n")
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-config", file}, nil, "/etc/dc/file"},
		{[]string{"-config", file}, map[string]string{"WHISPERSERVER_DASHBOARDS": "/etc/dc/env"}, "/etc/dc/env"},
		{[]string{"-config", file, "-dashboards", "/etc/dc/flag"}, map[string]string{"WHISPERSERVER_DASHBOARDS": "/etc/dc/env"}, "/etc/dc/flag"},
		{nil, nil, ""},
	} {
		inv, err := Load("ws", c.args, env(c.env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Config.Dashboards != c.want {
			t.Errorf("%v %v: dashboards %q, want %q", c.args, c.env, inv.Config.Dashboards, c.want)
		}
	}
}

func TestValidateMaxDataPointsMethod(t *testing.T) {
	for _, m := range []string{"graphite", "file"} {
		c := Defaults()
		c.MaxDataPointsMethod = m
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	c := Defaults()
	c.MaxDataPointsMethod = "sum"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "want graphite or file") {
		t.Fatalf("max_data_points_method sum: %v", err)
	}
	inv, err := Load("whisperserver", []string{"-max-data-points-method", "file"}, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil || inv.Config.MaxDataPointsMethod != "file" {
		t.Fatalf("flag: %v %+v", err, inv.Config)
	}
}
