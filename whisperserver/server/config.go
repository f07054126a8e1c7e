package server

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// Config is everything whisperserver can be told. Each field is one
// setting: its toml tag is its key in the config file, and from the key come
// its flag (-max-series) and its environment variable
// (WHISPERSERVER_MAX_SERIES); its help tag is the flag's usage. Adding a
// setting is adding a field here (and its default in Defaults). Field types
// Load knows: string, bool, int, int64, float64, time.Duration.
type Config struct {
	WhisperDir        string        `toml:"whisper_dir" help:"whisper folder to serve (read-only)"`
	Dashboards        string        `toml:"dashboards" help:"folder of dashboard JSON files (read-only, reloaded when they change; empty: none)"`
	Listen            string        `toml:"listen" help:"address to listen on"`
	BasicAuthUser     string        `toml:"basic_auth_user" help:"require HTTP basic auth with this user"`
	BasicAuthPassword string        `toml:"basic_auth_password" help:"password for basic auth (prefer the environment or the config file)"`
	TLSCert           string        `toml:"tls_cert" help:"TLS certificate file (serves HTTPS with -tls-key)"`
	TLSKey            string        `toml:"tls_key" help:"TLS key file"`
	MaxSeries         int           `toml:"max_series" help:"most series one request may read (0: no limit)"`
	MaxPoints         int           `toml:"max_points" help:"most points one response may hold (0: no limit)"`
	MaxFind           int           `toml:"max_find" help:"most nodes one find may return (0: no limit)"`
	MaxOpenFiles      int           `toml:"max_open_files" help:"most whisper files open at once"`
	RequestTimeout    time.Duration `toml:"request_timeout" help:"longest time a request may take (503 beyond)"`
	RescanInterval    time.Duration `toml:"rescan_interval" help:"period of the fallback rescan of the whisper folder"`
	TimeZone          string        `toml:"timezone" help:"time zone for Graphite times without one (e.g. UTC, Europe/Paris)"`
	LogFormat         string        `toml:"log_format" help:"log format: text or json"`
	AccessLog         bool          `toml:"access_log" help:"log every request, not only failed ones"`
	MaxBodyBytes      int           `toml:"max_body_bytes" help:"largest POST body (413 beyond)"`
	// MaxDataPointsMethod is how /render's maxDataPoints consolidates
	// series read from files: "graphite" (average, as graphite-web) or
	// "file" (each file's aggregation method); consolidateBy() wins.
	MaxDataPointsMethod string `toml:"max_data_points_method" help:"maxDataPoints consolidation in /render: graphite (average, as graphite-web) or file (each file's aggregation method)"`
	// MaxConcurrent bounds the expensive requests (renders, finds,
	// listings) in flight; QueueWait is how long one waits for a slot (or
	// for memory under MemoryBudget) before a 503 with Retry-After.
	MaxConcurrent int           `toml:"max_concurrent" help:"most renders, finds and listings in flight (0: no limit)"`
	QueueWait     time.Duration `toml:"queue_wait" help:"how long a request waits for a slot or memory before 503"`
	// MemoryBudget (MiB) is the memory the whole server aims to stay in:
	// the Go runtime's soft memory limit, new expensive requests wait
	// while the heap holds 3/4 of it, and half of it is the pool requests
	// reserve from for the series they read and the answers they build
	// (membudget). 0: no budget.
	MemoryBudget int `toml:"memory_budget" help:"memory the server aims to stay in, MiB; half of it is what requests may hold (0: none)"`
	// Alerts is the alert rules file (docs/alerting.md); AlertsStateDir
	// keeps the alerts' state across restarts.
	Alerts         string `toml:"alerts" help:"alert rules file (TOML, see docs/alerting.md); empty: no alerting"`
	AlertsStateDir string `toml:"alerts_state_dir" help:"folder for the alerts' state file (empty: state is lost on restart)"`
	AlertWorkers   int    `toml:"alert_workers" help:"most alert rule evaluations at once (0: half the CPUs, at least 1)"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		WhisperDir:          "data/whisper",
		Listen:              "127.0.0.1:8080",
		MaxSeries:           5000,
		MaxPoints:           20_000_000,
		MaxFind:             200_000,
		MaxOpenFiles:        256,
		RequestTimeout:      30 * time.Second,
		RescanInterval:      time.Minute,
		TimeZone:            "UTC",
		LogFormat:           "text",
		MaxBodyBytes:        1 << 20,
		MaxDataPointsMethod: "graphite",
		MaxConcurrent:       max(2, runtime.NumCPU()), // measured: more only adds CPU contention
		QueueWait:           2 * time.Second,
		MemoryBudget:        512,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.WhisperDir == "" {
		errs = append(errs, errors.New("whisper_dir is empty"))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen is empty"))
	}
	if (c.BasicAuthUser == "") != (c.BasicAuthPassword == "") {
		errs = append(errs, errors.New("basic_auth_user and basic_auth_password go together"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert and tls_key go together"))
	}
	if c.MaxSeries < 0 || c.MaxPoints < 0 || c.MaxFind < 0 || c.MaxOpenFiles < 0 ||
		c.MaxBodyBytes < 0 || c.MaxConcurrent < 0 || c.AlertWorkers < 0 || c.QueueWait < 0 || c.MemoryBudget < 0 {
		errs = append(errs, errors.New("limits must not be negative"))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, errors.New("request_timeout must not be negative"))
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		errs = append(errs, fmt.Errorf("timezone: %w", err))
	}
	if c.MaxDataPointsMethod != "" && c.MaxDataPointsMethod != "graphite" && c.MaxDataPointsMethod != "file" {
		errs = append(errs, fmt.Errorf("max_data_points_method %q: want graphite or file", c.MaxDataPointsMethod))
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: want text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}
