// Command whisperserver serves a whisper folder read-only over HTTP: its
// own JSON API, graphite-web's HTTP API (so Grafana works unchanged) and
// the embedded front end. Settings come from defaults, then a TOML file
// (-config or WHISPERSERVER_CONFIG), then WHISPERSERVER_* environment
// variables, then command-line flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/version"
	"github.com/dreamcatcher-monitoring/dreamcatcher/static"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "whisperserver: error:", err)
		os.Exit(1)
	}
}

// setting binds one key to its places in the flags, env and config.
type setting struct {
	key, usage string
	set        func(string) error
	get        func() string
}

func run(args []string) error {
	cfg := server.Defaults()
	logFormat := "text"
	str := func(p *string) (func(string) error, func() string) {
		return func(v string) error { *p = v; return nil }, func() string { return *p }
	}
	num := func(p *int) (func(string) error, func() string) {
		return func(v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return fmt.Errorf("not a non-negative integer: %q", v)
				}
				*p = n
				return nil
			}, func() string {
				return strconv.Itoa(*p)
			}
	}
	dur := func(p *time.Duration) (func(string) error, func() string) {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			*p = d
			return nil
		}, func() string { return p.String() }
	}
	mk := func(key, usage string, f func() (func(string) error, func() string)) setting {
		s, g := f()
		return setting{key, usage, s, g}
	}
	settings := []setting{
		mk("whisper-dir", "whisper folder to serve (read-only)", func() (func(string) error, func() string) { return str(&cfg.WhisperDir) }),
		mk("listen", "address to listen on", func() (func(string) error, func() string) { return str(&cfg.Listen) }),
		mk("basic-auth-user", "require HTTP basic auth with this user", func() (func(string) error, func() string) { return str(&cfg.BasicAuthUser) }),
		mk("basic-auth-password", "password for basic auth (prefer the environment or the config file)", func() (func(string) error, func() string) { return str(&cfg.BasicAuthPassword) }),
		mk("tls-cert", "TLS certificate file (serves HTTPS with -tls-key)", func() (func(string) error, func() string) { return str(&cfg.TLSCert) }),
		mk("tls-key", "TLS key file", func() (func(string) error, func() string) { return str(&cfg.TLSKey) }),
		mk("max-series", "most series one request may read (0: no limit)", func() (func(string) error, func() string) { return num(&cfg.MaxSeries) }),
		mk("max-points", "most points one response may hold (0: no limit)", func() (func(string) error, func() string) { return num(&cfg.MaxPoints) }),
		mk("max-find", "most nodes one find may return (0: no limit)", func() (func(string) error, func() string) { return num(&cfg.MaxFind) }),
		mk("max-open-files", "most whisper files open at once", func() (func(string) error, func() string) { return num(&cfg.MaxOpenFiles) }),
		mk("request-timeout", "longest time a request may take (503 beyond)", func() (func(string) error, func() string) { return dur(&cfg.RequestTimeout) }),
		mk("rescan-interval", "period of the fallback rescan of the whisper folder", func() (func(string) error, func() string) { return dur(&cfg.RescanInterval) }),
		mk("timezone", "time zone for Graphite times without one (e.g. UTC, Europe/Paris)", func() (func(string) error, func() string) { return str(&cfg.TimeZone) }),
		mk("max-body-bytes", "largest POST body (413 beyond)", func() (func(string) error, func() string) { return num(&cfg.MaxBodyBytes) }),
		mk("max-concurrent", "most renders, finds and listings in flight (0: no limit)", func() (func(string) error, func() string) { return num(&cfg.MaxConcurrent) }),
		mk("queue-wait", "how long a request waits for a slot or memory before 503", func() (func(string) error, func() string) { return dur(&cfg.QueueWait) }),
		mk("memory-budget", "memory the server aims to stay in, MiB (0: none)", func() (func(string) error, func() string) { return num(&cfg.MemoryBudget) }),
		mk("log-format", "log format: text or json", func() (func(string) error, func() string) { return str(&logFormat) }),
	}

	fs := flag.NewFlagSet("whisperserver", flag.ContinueOnError)
	configPath := fs.String("config", os.Getenv("WHISPERSERVER_CONFIG"), "TOML config file (keys like whisper_dir, listen, max_series)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	flagVals := map[string]*string{}
	for _, s := range settings {
		flagVals[s.key] = fs.String(s.key, s.get(), s.usage+" (env WHISPERSERVER_"+envName(s.key)+")")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *showVersion {
		fmt.Println(version.Version)
		return nil
	}
	byKey := map[string]setting{}
	for _, s := range settings {
		byKey[s.key] = s
	}
	if *configPath != "" {
		var raw map[string]any
		md, err := toml.DecodeFile(*configPath, &raw)
		if err != nil {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
		_ = md
		for k, v := range raw {
			key := strings.ReplaceAll(k, "_", "-")
			s, ok := byKey[key]
			if !ok {
				return fmt.Errorf("config %s: unknown setting %q", *configPath, k)
			}
			if err := s.set(fmt.Sprint(v)); err != nil {
				return fmt.Errorf("config %s: %s: %w", *configPath, k, err)
			}
		}
	}
	for _, s := range settings {
		if v, ok := os.LookupEnv("WHISPERSERVER_" + envName(s.key)); ok {
			if err := s.set(v); err != nil {
				return fmt.Errorf("WHISPERSERVER_%s: %w", envName(s.key), err)
			}
		}
	}
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		if s, ok := byKey[f.Name]; ok && ferr == nil {
			if err := s.set(*flagVals[f.Name]); err != nil {
				ferr = fmt.Errorf("-%s: %w", f.Name, err)
			}
		}
	})
	if ferr != nil {
		return ferr
	}

	var handler slog.Handler
	switch logFormat {
	case "json":
		handler = slog.NewJSONHandler(os.Stderr, nil)
	case "text":
		handler = slog.NewTextHandler(os.Stderr, nil)
	default:
		return fmt.Errorf("log format %q: want text or json", logFormat)
	}
	log := slog.New(handler)

	srv, err := server.New(cfg, static.FS(), log)
	if err != nil {
		return err
	}
	defer srv.Close()
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	log.Info("whisperserver listening", "url", scheme+"://"+l.Addr().String()+"/", "whisper_dir", cfg.WhisperDir,
		"metrics", srv.Index().Count(), "version", version.Version)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx, l); err != nil && !errors.Is(err, context.Canceled) && err.Error() != "http: Server closed" {
		return err
	}
	log.Info("whisperserver stopped")
	return nil
}

func envName(key string) string {
	return strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}
