// Package server assembles whisperserver: the name index, the store, the
// JSON API, the Graphite API and the embedded front end behind one router,
// with structured access logs, optional basic auth, a request timeout and
// /healthz.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/alert"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/api"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/dashboards"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/graphiteapi"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/membudget"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
	"github.com/gorilla/mux"
)

// Server is a configured whisperserver.
type Server struct {
	cfg     Config
	log     *slog.Logger
	index   *index.Index
	store   *store.Store
	memory  *membudget.Pool
	handler http.Handler
	alerts  *alert.Engine // nil without rules
}

// New builds the index of the whisper folder and the handlers.
func New(cfg Config, static fs.FS, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	loc, _ := time.LoadLocation(cfg.TimeZone)
	ix, err := index.New(cfg.WhisperDir, index.Options{RescanInterval: cfg.RescanInterval, Logger: log})
	if err != nil {
		return nil, err
	}
	st := store.New(ix, cfg.MaxOpenFiles, log)
	s := &Server{cfg: cfg, log: log, index: ix, store: st}
	adm := newAdmission(cfg.MaxConcurrent, cfg.QueueWait, int64(cfg.MemoryBudget)<<20)
	// Half the budget is for what requests (and alert evaluations) read
	// and build; the rest for the index, the runtime and the garbage not
	// yet collected.
	s.memory = membudget.NewPool(int64(cfg.MemoryBudget)<<20/2, cfg.QueueWait)
	if cfg.Alerts != "" {
		if s.alerts, err = newAlerts(cfg, st, adm, s.memory, log); err != nil {
			ix.Close()
			return nil, err
		}
	}

	r := mux.NewRouter()
	r.SkipClean(true) // no redirects; ".." never reaches a handler as a path
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet, http.MethodHead)
	alert.Register(r, s.alerts, loc)
	api.New(api.Config{Store: st, Location: loc, MaxSeries: cfg.MaxSeries, MaxPoints: cfg.MaxPoints, MaxFind: cfg.MaxFind}).Register(r)
	graphiteapi.New(graphiteapi.Config{Store: st, Location: loc, MaxSeries: cfg.MaxSeries, MaxPoints: cfg.MaxPoints,
		MaxFind: cfg.MaxFind, MaxDataPointsMethod: cfg.MaxDataPointsMethod, Events: s.alerts.EventTimes, Log: log}).Register(r)
	dashboards.New(cfg.Dashboards, log).Register(r)
	r.PathPrefix("/api/").HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
	}).Methods(http.MethodGet, http.MethodHead)
	if static != nil {
		files := http.FileServer(http.FS(static))
		r.PathPrefix("/").Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			// A front-end route that is not a file (and does not look like
			// a missing asset) gets index.html, so deep links into the app
			// work; metric names in routes contain dots, so only asset
			// extensions count.
			name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
			if name != "" && !assetExt[path.Ext(name)] {
				if _, err := fs.Stat(static, name); err != nil {
					r2 := r.Clone(r.Context())
					r2.URL.Path = "/"
					files.ServeHTTP(w, r2)
					return
				}
			}
			files.ServeHTTP(w, r)
		})).Methods(http.MethodGet, http.MethodHead)
	}
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, http.StatusMethodNotAllowed, "method not allowed (the server is read-only)")
	})

	var h http.Handler = withAccounts(r, s.memory)
	if cfg.RequestTimeout > 0 {
		h = timeout(h, cfg.RequestTimeout)
	}
	h = adm.middleware(h)
	if cfg.BasicAuthUser != "" {
		h = basicAuth(h, cfg.BasicAuthUser, cfg.BasicAuthPassword)
	}
	if cfg.MaxBodyBytes > 0 {
		h = limitBody(h, int64(cfg.MaxBodyBytes))
	}
	h = s.accessLog(recoverer(h, log))
	s.handler = h
	return s, nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Index is the name index (for tests and diagnostics).
func (s *Server) Index() *index.Index { return s.index }

// Alerts is the alert engine (nil without rules).
func (s *Server) Alerts() *alert.Engine { return s.alerts }

// MemoryHeld is the bytes requests hold now under the memory budget (for
// tests and diagnostics).
func (s *Server) MemoryHeld() int64 { return s.memory.Used() }

// Close stops the index's watcher.
func (s *Server) Close() error { return s.index.Close() }

// Serve serves on l until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.RequestTimeout > 0 {
		srv.WriteTimeout = s.cfg.RequestTimeout + s.cfg.QueueWait + 10*time.Second
	}
	// The budget is the process's soft memory limit unless GOMEMLIMIT
	// already sets one (the runtime then collects harder near it).
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && s.cfg.MemoryBudget > 0 {
		debug.SetMemoryLimit(int64(s.cfg.MemoryBudget) << 20)
	}
	if s.alerts != nil {
		actx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); s.alerts.Run(actx) }()
		defer func() { stop(); <-done }()
	}
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- srv.ServeTLS(l, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			errc <- srv.Serve(l)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	err    error // the first failed write: the answer was cut
}

// Unwrap lets http.ResponseController reach the connection (for the
// write deadline and flushes).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		} else if rec.status >= 400 || rec.err != nil {
			level = slog.LevelWarn
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "query", truncate(r.URL.RawQuery, 512),
			"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(time.Since(start).Microseconds()) / 1000,
			"remote", r.RemoteAddr}
		if rec.err != nil {
			// The status line went out but the body did not: say so.
			attrs = append(attrs, "cut", true, "error", rec.err.Error())
		}
		s.log.Log(r.Context(), level, "access", attrs...)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func recoverer(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				api.WriteError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// timeout gives every request a deadline; the handlers check it between
// files and functions and answer 503 when it passes (no buffering of the
// answer, unlike http.TimeoutHandler). The same deadline, plus a second,
// bounds writing the answer: a client too slow to take it is cut off
// there (and the access log says "cut").
func timeout(next http.Handler, d time.Duration) http.Handler {
	const writeGrace = time.Second
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline := time.Now().Add(d)
		ctx, cancel := context.WithDeadline(r.Context(), deadline)
		defer cancel()
		// Not every ResponseWriter supports it (httptest's recorder).
		rc := http.NewResponseController(w)
		// A second of grace lets a request that ran out of time still
		// send its 503.
		if rc.SetWriteDeadline(deadline.Add(writeGrace)) == nil {
			// A kept-alive connection's next request starts afresh; a
			// connection past the deadline keeps it, so the server's
			// last flush fails at once and the connection closes.
			defer func() {
				if time.Now().Before(deadline.Add(writeGrace)) {
					_ = rc.SetWriteDeadline(time.Time{})
				}
			}()
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func basicAuth(next http.Handler, user, pass string) http.Handler {
	wantU := sha256.Sum256([]byte(user))
	wantP := sha256.Sum256([]byte(pass))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		u, p, ok := r.BasicAuth()
		gotU := sha256.Sum256([]byte(u))
		gotP := sha256.Sum256([]byte(p))
		if !ok || subtle.ConstantTimeCompare(gotU[:], wantU[:])&subtle.ConstantTimeCompare(gotP[:], wantP[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="whisperserver", charset="UTF-8"`)
			api.WriteError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

var assetExt = map[string]bool{".js": true, ".mjs": true, ".css": true, ".map": true, ".html": true, ".json": true,
	".png": true, ".svg": true, ".ico": true, ".woff": true, ".woff2": true, ".txt": true, ".go": true}
