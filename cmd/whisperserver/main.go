// Command whisperserver serves a whisper folder read-only over HTTP: its
// own JSON API, graphite-web's HTTP API (so Grafana works unchanged) and
// the embedded front end. Settings come from defaults, then a TOML file
// (-config or WHISPERSERVER_CONFIG), then WHISPERSERVER_* environment
// variables, then command-line flags (layered by server.Load).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/version"
	"github.com/dreamcatcher-monitoring/dreamcatcher/static"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/alert"
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

func run(args []string) error {
	inv, err := server.Load("whisperserver", args, os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	cfg := inv.Config
	switch {
	case inv.Version:
		fmt.Println(version.Version)
		return nil
	case inv.PrintConfig:
		b, err := cfg.TOML()
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	case inv.CheckConfig:
		if err := cfg.Validate(); err != nil {
			return err
		}
		if cfg.Alerts != "" {
			if _, err := alert.LoadFile(cfg.Alerts); err != nil {
				return err
			}
		}
		fmt.Println("whisperserver: configuration OK")
		return nil
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, cfg.AccessLog)
	// A closed log pipe must not kill the server: writes fail with EPIPE instead.
	signal.Ignore(syscall.SIGPIPE)
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
	err = srv.Serve(ctx, l)
	// Stopping now: a second stop signal (Ctrl-C reaches the whole process
	// group, then `make run` sends SIGTERM) must not kill the exit.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("whisperserver stopped")
	return nil
}

// newLogger logs to stderr as text or JSON (Validate has checked format).
// Unless accessLog is set, successful requests' access lines are dropped.
func newLogger(format string, accessLog bool) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(os.Stderr, nil)
	if format == "json" {
		h = slog.NewJSONHandler(os.Stderr, nil)
	}
	if !accessLog {
		h = quietAccess{h}
	}
	return slog.New(h)
}

// quietAccess drops the access log lines of requests that succeeded (level
// below warning); failed requests and every other line pass.
type quietAccess struct{ slog.Handler }

func (q quietAccess) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "access" && r.Level < slog.LevelWarn {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietAccess) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietAccess{q.Handler.WithAttrs(attrs)}
}

func (q quietAccess) WithGroup(name string) slog.Handler {
	return quietAccess{q.Handler.WithGroup(name)}
}
