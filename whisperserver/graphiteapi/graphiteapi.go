// Package graphiteapi serves graphite-web's HTTP API over the whisper
// folder: /render (json, csv, raw, pickle, msgpack), /metrics/find,
// /metrics/expand, /metrics/index.json, /version, /functions and the tag API
// (/tags, /tags/<tag>, /tags/findSeries, /tags/autoComplete/*) Grafana asks
// for (/events/get_data is whisperserver/alert's). GET and POST form
// requests, with or without a trailing slash, are answered the same way.
// The pickle and msgpack formats are graphite-web's cluster protocol, so a
// graphite-web with CLUSTER_SERVERS pointing here federates this server.
package graphiteapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/attime"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/membudget"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
	"github.com/gorilla/mux"
)

// Version is the graphite-web API level reported by /version.
const Version = "1.1.8"

// Config configures the API.
type Config struct {
	Store    *store.Store
	Location *time.Location // default time zone for from/until and csv (tz= overrides)
	// MaxSeries bounds the series one request may read; MaxPoints the
	// points one response may hold; MaxFind the nodes one find may return.
	MaxSeries int
	MaxPoints int
	MaxFind   int
	// MaxDataPointsMethod is how maxDataPoints (and the step
	// normalisation of combined series) consolidate series read from
	// files: MethodGraphite (also ""), graphite-web's way: average unless
	// consolidateBy() says otherwise; MethodFile: each whisper file's own
	// aggregation method (sum for counters, max for maxima…) unless
	// consolidateBy() says otherwise.
	MaxDataPointsMethod string
	// Events feeds the events() function (alert transitions); nil: none.
	Events render.EventSource
	Log    *slog.Logger
	Now    func() time.Time // for tests; default time.Now
}

// The values of Config.MaxDataPointsMethod.
const (
	MethodGraphite = "graphite"
	MethodFile     = "file"
)

// API holds the handlers.
type API struct{ cfg Config }

// New returns the API.
func New(cfg Config) *API {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &API{cfg: cfg}
}

// Register adds the routes to r.
func (a *API) Register(r *mux.Router) {
	both := func(path string, h http.HandlerFunc) {
		r.Handle(path, h).Methods(http.MethodGet, http.MethodPost, http.MethodHead)
		r.Handle(path+"/", h).Methods(http.MethodGet, http.MethodPost, http.MethodHead)
	}
	both("/render", a.render)
	both("/metrics/find", a.find)
	both("/metrics", a.find)
	both("/metrics/expand", a.expand)
	both("/metrics/index.json", a.indexJSON)
	both("/version", a.version)
	both("/functions", a.functions)
	r.Handle("/functions/{name}", http.HandlerFunc(a.function)).Methods(http.MethodGet, http.MethodHead)
	a.registerTags(r)
	// /events and /events/get_data: whisperserver/alert (alert transitions).
}

func emptyList(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("[]"))
}

// params merges the query string and a POSTed form (form values first,
// as graphite-web lets POST override GET). A body over the server's
// max_body_bytes (its http.MaxBytesReader) is a 413.
func params(r *http.Request) (map[string][]string, error) {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body larger than %d bytes (max_body_bytes)", mbe.Limit)}
		}
		return nil, badRequest("bad form: %v", err)
	}
	return r.Form, nil
}

func get(p map[string][]string, key string) (string, bool) {
	v, ok := p[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// httpError is an error with its HTTP status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, "Invalid parameters (" + fmt.Sprintf(format, args...) + ")"}
}

// writeError answers with graphite-web's plain-text error style.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error, targets []string) {
	status, msg := http.StatusInternalServerError, err.Error()
	var he *httpError
	var ie *render.InputError
	var pe *render.ParseError
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.As(err, &ie):
		status, msg = http.StatusBadRequest, "Invalid parameters ("+ie.Msg+")"
	case errors.As(err, &pe):
		status, msg = http.StatusBadRequest, "Invalid parameters ("+pe.Error()+")"
	case errors.Is(err, index.ErrBadPattern):
		status, msg = http.StatusBadRequest, "Invalid parameters ("+err.Error()+")"
	case errors.Is(err, membudget.ErrTooBig):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, membudget.ErrBusy):
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "2")
	case errors.Is(err, render.ErrTooManySeries):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, store.ErrTooMany):
		status = http.StatusUnprocessableEntity
		msg = fmt.Sprintf("%v (max_series is %d)", err, a.cfg.MaxSeries)
	case errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusServiceUnavailable, "request took longer than the request timeout; narrow the query"
		w.Header().Set("Retry-After", "5")
	case errors.Is(err, context.Canceled):
		status, msg = 499, "request canceled"
	}
	if status == http.StatusBadRequest && len(targets) > 0 && !strings.Contains(msg, "; targets:") {
		msg += `; targets: "` + strings.Join(targets, ", ") + `"`
	}
	if status >= 500 && status != http.StatusServiceUnavailable {
		a.cfg.Log.Error("graphite api error", "path", r.URL.Path, "error", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(htmlEscape(msg)))
}

// location returns the tz= zone or the default.
func (a *API) location(p map[string][]string) *time.Location {
	if tz, ok := get(p, "tz"); ok && tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return a.cfg.Location
}

// timeRange parses now/from/until as graphite-web's render view does.
func (a *API) timeRange(p map[string][]string, loc *time.Location, defaultFrom string) (start, end, now int64, err error) {
	nowT := a.cfg.Now().In(loc)
	if s, ok := get(p, "now"); ok {
		t, err := attime.Parse(s, nowT, loc)
		if err != nil {
			return 0, 0, 0, badRequest("now: %v", err)
		}
		nowT = t
	}
	untilT := nowT
	if s, ok := get(p, "until"); ok {
		if untilT, err = attime.Parse(s, nowT, loc); err != nil {
			return 0, 0, 0, badRequest("until: %v", err)
		}
	}
	fromS, ok := get(p, "from")
	if !ok {
		fromS = defaultFrom
	}
	fromT, err := attime.Parse(fromS, nowT, loc)
	if err != nil {
		return 0, 0, 0, badRequest("from: %v", err)
	}
	start, end = fromT.Unix(), untilT.Unix()
	if start > end {
		start, end = end, start
	}
	if start == end {
		return 0, 0, 0, badRequest("Invalid empty time range")
	}
	return start, end, nowT.Unix(), nil
}

func intParam(p map[string][]string, key string, def int) (int, error) {
	s, ok := get(p, key)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest("Invalid int value %q for param %s", s, key)
	}
	return n, nil
}

// htmlEscape is graphite-web's util.htmlEscape (&, <, > only).
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
