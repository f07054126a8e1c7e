// Package api is whisperserver's own JSON API, the one the front end uses
// (documented in docs/api.md): metric names, the name tree, one metric's
// whisper header, and data for a range with nulls kept as gaps.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/attime"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/membudget"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
	"github.com/gorilla/mux"
)

// Config configures the API.
type Config struct {
	Store     *store.Store
	Location  *time.Location
	MaxSeries int
	MaxPoints int
	// MaxFind bounds a page of /api/metrics and /api/tree.
	MaxFind int
	Now     func() time.Time
}

// API holds the handlers.
type API struct{ cfg Config }

// New returns the API.
func New(cfg Config) *API {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &API{cfg: cfg}
}

// Register adds the routes under /api to r.
func (a *API) Register(r *mux.Router) {
	r.HandleFunc("/api/metrics", a.metrics).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/tree", a.tree).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/tagged", a.tagged).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/metric/{name}", a.metric).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/data", a.data).Methods(http.MethodGet, http.MethodHead)
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error": "encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// WriteError writes {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

type archiveInfo struct {
	Index           int    `json:"index"`
	SecondsPerPoint int    `json:"secondsPerPoint"`
	Points          int    `json:"points"`
	Retention       int    `json:"retention"`
	Oldest          *int64 `json:"oldest"`
	Newest          *int64 `json:"newest"`
}

func statusFor(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrBadName), errors.Is(err, store.ErrOutside):
		return http.StatusBadRequest
	case errors.Is(err, whisperfile.ErrCorrupt):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func (a *API) metric(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	var out map[string]any
	err := a.cfg.Store.With(r.Context(), name, func(f *whisperfile.File) error {
		path, err := metricpath.Path(a.cfg.Store.Root, name)
		if err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		archives := make([]archiveInfo, 0, len(f.Archives))
		for i, ar := range f.Archives {
			ai := archiveInfo{Index: i, SecondsPerPoint: ar.SecondsPerPoint, Points: ar.Points, Retention: ar.Retention()}
			oldest, newest, ok, err := f.ArchiveSpan(i)
			if err != nil {
				return err
			}
			if ok {
				ai.Oldest, ai.Newest = &oldest, &newest
			}
			archives = append(archives, ai)
		}
		out = map[string]any{
			"name":              name,
			"aggregationMethod": f.Method.String(),
			"maxRetention":      f.MaxRetention,
			"xFilesFactor":      float64(f.XFilesFactor),
			"size":              f.Size(),
			"modified":          st.ModTime().Unix(),
			"archives":          archives,
		}
		return nil
	})
	if err != nil {
		WriteError(w, statusFor(err), err.Error())
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// jsonFloats marshals NaN as null.
type jsonFloats []float64

func (v jsonFloats) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 8*len(v)+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case math.IsNaN(x):
			b = append(b, "null"...)
		case math.IsInf(x, 1):
			b = append(b, "1e308"...)
		case math.IsInf(x, -1):
			b = append(b, "-1e308"...)
		default:
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		}
	}
	return append(b, ']'), nil
}

type seriesOut struct {
	Name              string     `json:"name"`
	Archive           *int       `json:"archive,omitempty"`
	Step              int64      `json:"step,omitempty"`
	Start             int64      `json:"start,omitempty"`
	End               int64      `json:"end,omitempty"`
	AggregationMethod string     `json:"aggregationMethod,omitempty"`
	Values            jsonFloats `json:"values,omitempty"`
	Error             string     `json:"error,omitempty"`
}

// timedOut answers a request whose deadline passed: 503 with
// Retry-After, as /render does.
func timedOut(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	WriteError(w, http.StatusServiceUnavailable, "request took longer than the request timeout (request_timeout); narrow the query")
}

// jsonValueBytes is about the text of one value in the JSON answer.
const jsonValueBytes = 20

// refuseMemory answers a refused reservation: 422 when the request alone
// is over the budget, 503 with Retry-After when others hold the memory,
// 503 when its deadline passed meanwhile.
func refuseMemory(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, membudget.ErrTooBig):
		WriteError(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, membudget.ErrBusy):
		w.Header().Set("Retry-After", "2")
		WriteError(w, http.StatusServiceUnavailable, err.Error())
	default:
		timedOut(w)
	}
}

func (a *API) data(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := a.cfg.Now().In(a.cfg.Location)
	parse := func(key, def string) (int64, error) {
		s := q.Get(key)
		if s == "" {
			s = def
		}
		t, err := attime.Parse(s, now, a.cfg.Location)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", key, err)
		}
		return t.Unix(), nil
	}
	from, err := parse("from", "-24h")
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	until, err := parse("until", "now")
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if from >= until {
		WriteError(w, http.StatusBadRequest, "from must be before until")
		return
	}
	archive := -1
	if s := q.Get("archive"); s != "" {
		if archive, err = strconv.Atoi(s); err != nil || archive < 0 || archive >= whisperfile.MaxArchives {
			WriteError(w, http.StatusBadRequest, "archive must be an archive index (0, 1, …)")
			return
		}
	}
	maxDP := 0
	if s := q.Get("maxDataPoints"); s != "" {
		if maxDP, err = strconv.Atoi(s); err != nil || maxDP < 1 {
			WriteError(w, http.StatusBadRequest, "maxDataPoints must be a positive integer")
			return
		}
	}
	targets := q["target"]
	if len(targets) == 0 {
		WriteError(w, http.StatusBadRequest, "at least one target is required")
		return
	}
	// Expand globs; exact names pass as they are.
	var names []string
	for _, t := range targets {
		if index.HasWildcard(t) {
			found, err := a.cfg.Store.Index.Leaves(r.Context(), t, a.cfg.MaxSeries)
			switch {
			case errors.Is(err, index.ErrBadPattern):
				WriteError(w, http.StatusBadRequest, err.Error())
				return
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
				timedOut(w)
				return
			case err != nil:
				WriteError(w, http.StatusUnprocessableEntity, err.Error()+" (max_series)")
				return
			}
			names = append(names, found...)
			continue
		}
		names = append(names, t)
	}
	if a.cfg.MaxSeries > 0 && len(names) > a.cfg.MaxSeries {
		WriteError(w, http.StatusUnprocessableEntity, fmt.Sprintf("%d series requested, over the limit of %d (max_series)", len(names), a.cfg.MaxSeries))
		return
	}
	if r.Context().Err() != nil {
		timedOut(w)
		return
	}
	nowU := now.Unix()
	out := make([]seriesOut, 0, len(names))
	points := 0
	// Each series' values and their JSON text (the answer is encoded
	// whole) are reserved from the memory budget before they are read.
	acct := membudget.FromContext(r.Context())
	var refused error
	for _, name := range names {
		so := seriesOut{Name: name}
		err := a.cfg.Store.With(r.Context(), name, func(f *whisperfile.File) error {
			if archive >= len(f.Archives) {
				return fmt.Errorf("no archive %d (the file has %d)", archive, len(f.Archives))
			}
			n, err := f.FetchLen(from, until, nowU, archive)
			if err != nil {
				return err
			}
			if refused = acct.Reserve(r.Context(), n*(8+jsonValueBytes)+256+2*int64(len(name))); refused != nil {
				return nil
			}
			ws, err := f.Fetch(from, until, nowU, archive)
			if err != nil {
				return err
			}
			idx := archive
			if idx < 0 {
				idx = f.ChooseArchive(max(from, nowU-int64(f.MaxRetention)), nowU)
			}
			ar := f.Archives[idx]
			so.Archive = &idx
			so.AggregationMethod = f.Method.String()
			so.Step = int64(ar.SecondsPerPoint)
			if ws == nil {
				so.Start = from - whisperfile.FloorMod(from, so.Step) + so.Step
				so.End = so.Start
				so.Values = jsonFloats{}
				return nil
			}
			so.Start, so.End, so.Values = ws.Start, ws.Start+int64(len(ws.Values))*ws.Step, ws.Values
			if maxDP > 0 && len(ws.Values) > maxDP {
				vpp := (len(ws.Values) + maxDP - 1) / maxDP
				so.Values = whisperfile.ConsolidateValues(ws.Values, vpp, f.Method.String(), 0)
				so.Step *= int64(vpp)
				so.End = so.Start + int64(len(so.Values))*so.Step
			}
			return nil
		})
		if refused != nil {
			refuseMemory(w, refused)
			return
		}
		if err != nil {
			if r.Context().Err() != nil {
				timedOut(w)
				return
			}
			so = seriesOut{Name: name, Error: err.Error()}
		} else if so.Values == nil {
			so.Values = jsonFloats{}
		}
		points += len(so.Values)
		if a.cfg.MaxPoints > 0 && points > a.cfg.MaxPoints {
			WriteError(w, http.StatusUnprocessableEntity, fmt.Sprintf("response would hold more than %d points (max_points); use maxDataPoints or a shorter range", a.cfg.MaxPoints))
			return
		}
		out = append(out, so)
	}
	WriteJSON(w, http.StatusOK, map[string]any{"from": from, "until": until, "series": out})
}
