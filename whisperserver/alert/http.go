package alert

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/api"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/attime"
	"github.com/gorilla/mux"
)

// Register adds /api/alerts and the Graphite events API (/events,
// /events/get_data) fed by alert transitions. With a nil engine the
// events API answers [] and /api/alerts says alerting is off.
func Register(r *mux.Router, e *Engine, loc *time.Location) {
	h := &handlers{e: e, loc: loc}
	r.HandleFunc("/api/alerts", h.alerts).Methods(http.MethodGet, http.MethodHead)
	for _, p := range []string{"/events/get_data", "/events/get_data/", "/events", "/events/"} {
		r.HandleFunc(p, h.events).Methods(http.MethodGet, http.MethodHead)
	}
}

type handlers struct {
	e   *Engine
	loc *time.Location
}

// AlertView is one alert in /api/alerts.
type AlertView struct {
	Alert
	LastError string `json:"last_error"`
}

type alertsAnswer struct {
	Enabled   bool             `json:"enabled"`
	Rules     []RuleStatus     `json:"rules"`
	Alerts    []AlertView      `json:"alerts"`
	Periods   []Period         `json:"periods"`
	Notifiers []NotifierStatus `json:"notifiers"`
}

func (h *handlers) alerts(w http.ResponseWriter, r *http.Request) {
	ans := alertsAnswer{Rules: []RuleStatus{}, Alerts: []AlertView{}, Periods: []Period{}, Notifiers: []NotifierStatus{}}
	if h.e != nil {
		ans.Enabled = true
		ans.Rules = h.e.Rules()
		for _, a := range h.e.Alerts() {
			ans.Alerts = append(ans.Alerts, AlertView{Alert: a, LastError: h.e.lastError(a.Rule)})
		}
		if p := h.e.Periods(); p != nil {
			ans.Periods = p
		}
		ans.Notifiers = h.e.Notifiers()
	}
	w.Header().Set("Cache-Control", "no-cache")
	api.WriteJSON(w, http.StatusOK, ans)
}

// graphiteEvent is an event as graphite-web's events API writes it.
type graphiteEvent struct {
	When float64  `json:"when"`
	What string   `json:"what"`
	Data string   `json:"data"`
	Tags []string `json:"tags"`
	ID   int64    `json:"id"`
}

var jsonpName = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$.]*$`)

// events answers as graphite-web 1.1's events.views.get_data: from
// (default the epoch) and until (default now) in Graphite's time
// syntax, tags space-separated, set=union for any tag (default: all),
// jsonp for a callback.
func (h *handlers) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := time.Now()
	if h.e != nil {
		now = h.e.opts.Now()
	}
	now = now.In(h.loc)
	from, until := time.Unix(0, 0), now
	var err error
	if s := q.Get("from"); q.Has("from") {
		if from, err = attime.Parse(s, now, h.loc); err != nil {
			api.WriteError(w, http.StatusBadRequest, "from: "+err.Error())
			return
		}
	}
	if s := q.Get("until"); q.Has("until") {
		if until, err = attime.Parse(s, now, h.loc); err != nil {
			api.WriteError(w, http.StatusBadRequest, "until: "+err.Error())
			return
		}
	}
	var tags []string
	if q.Has("tags") {
		tags = strings.Split(q.Get("tags"), " ")
	}
	out := []graphiteEvent{}
	if h.e != nil {
		for _, ev := range h.e.events.between(from, until, tags, q.Get("set") == "union") {
			out = append(out, graphiteEvent{When: float64(ev.When.UnixNano()) / 1e9, What: ev.What, Data: ev.Data,
				Tags: ev.Tags, ID: ev.ID})
		}
	}
	b, _ := json.Marshal(out)
	if cb := q.Get("jsonp"); cb != "" {
		if !jsonpName.MatchString(cb) {
			api.WriteError(w, http.StatusBadRequest, "jsonp: not a function name")
			return
		}
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write([]byte(cb + "(" + string(b) + ")"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
