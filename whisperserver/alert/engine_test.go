package alert

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
	"github.com/gorilla/mux"
)

// memData is a set of series whose last value the test sets; its
// evaluator runs the real render engine over them.
type memData struct {
	mu     sync.Mutex
	values map[string]float64 // NaN: a gap
	calls  int
}

func (d *memData) set(name string, v float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.values[name] = v
}

func (d *memData) fetch(ctx context.Context, pattern string, start, end, now int64) ([]*render.Series, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	var out []*render.Series
	for name, v := range d.values {
		if ok, _ := path.Match(pattern, name); !ok {
			continue
		}
		vals := make([]float64, (end-start)/10)
		for i := range vals {
			vals[i] = math.NaN()
		}
		vals[len(vals)-1] = v
		out = append(out, &render.Series{Name: name, PathExpression: pattern, Start: start, End: start + int64(len(vals))*10,
			Step: 10, Values: vals, ValuesPerPoint: 1, ConsolidationFunc: "average"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (d *memData) eval(ctx context.Context, e *render.Expr, from, until, now int64) ([]*render.Series, error) {
	rc := &render.Context{Ctx: ctx, Start: from, End: until, Now: now, Location: time.UTC, Fetch: d.fetch}
	return rc.EvalTargets([]*render.Expr{e})
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestEngine(t *testing.T, rules string, d *memData, c *clock, stateDir string) *Engine {
	t.Helper()
	rs, err := Parse(rules)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, Options{Eval: d.eval, Now: c.now, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func states(e *Engine) map[string]State {
	m := map[string]State{}
	for _, a := range e.Alerts() {
		m[a.Rule+"/"+a.Series] = a.State
	}
	return m
}

func TestStatesPerSeries(t *testing.T) {
	d := &memData{values: map[string]float64{"app.queue.a": 5, "app.queue.b": 5}}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	e := newTestEngine(t, `
[[rule]]
name = "Q"
target = "app.queue.*"
above = 100
for = "3s"
every = "1s"
labels = { severity = "page" }
summary = "{{series}} at {{value}} ({{labels.severity}})"
`, d, c, "")
	ctx := context.Background()
	step := func() { e.EvalAll(ctx); c.add(time.Second) }
	step()
	if s := states(e); s["Q/app.queue.a"] != StateOK || s["Q/app.queue.b"] != StateOK {
		t.Fatalf("below the threshold: %v", s)
	}
	d.set("app.queue.a", 150)
	step()
	if s := states(e); s["Q/app.queue.a"] != StatePending || s["Q/app.queue.b"] != StateOK {
		t.Fatalf("over, before for: %v", s)
	}
	step()
	step()
	if s := states(e); s["Q/app.queue.a"] != StatePending {
		t.Fatalf("2s over, for 3s: %v", s)
	}
	step()
	if s := states(e); s["Q/app.queue.a"] != StateFiring || s["Q/app.queue.b"] != StateOK {
		t.Fatalf("3s over: %v", s)
	}
	for _, a := range e.Alerts() {
		if a.Series == "app.queue.a" && (a.Summary != "app.queue.a at 150 (page)" || a.Value == nil || *a.Value != 150) {
			t.Errorf("firing alert: %+v", a)
		}
	}
	d.set("app.queue.a", 50)
	step()
	if s := states(e); s["Q/app.queue.a"] != StateResolved {
		t.Fatalf("back under: %v", s)
	}
	// A blip shorter than for never fires.
	d.set("app.queue.b", 500)
	step()
	d.set("app.queue.b", 1)
	step()
	if s := states(e); s["Q/app.queue.b"] != StateOK {
		t.Fatalf("a blip: %v", s)
	}
	var got []string
	for _, ev := range e.events.snapshot() {
		got = append(got, ev.Series+":"+string(ev.From)+">"+string(ev.State))
	}
	want := []string{"app.queue.a:ok>pending", "app.queue.a:pending>firing", "app.queue.a:firing>resolved",
		"app.queue.b:ok>pending", "app.queue.b:pending>ok"}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %s, want %s", i, got[i], want[i])
		}
	}
	p := e.Periods()
	if len(p) != 1 || p[0].Series != "app.queue.a" || p[0].Until == nil || !p[0].Until.After(p[0].From) {
		t.Errorf("periods %+v", p)
	}
}

func TestNoData(t *testing.T) {
	d := &memData{values: map[string]float64{"x.ok": math.NaN(), "x.alerting": math.NaN(), "x.keep": 9}}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	e := newTestEngine(t, `
[[rule]]
name = "ok"
target = "x.ok"
above = 1
[[rule]]
name = "alerting"
target = "x.alerting"
above = 1
no_data = "alerting"
[[rule]]
name = "keep"
target = "x.keep"
above = 1
no_data = "keep"
[[rule]]
name = "empty"
target = "x.nothing.*"
below = 1
no_data = "alerting"
`, d, c, "")
	e.EvalAll(context.Background())
	d.set("x.keep", math.NaN())
	c.add(time.Second)
	e.EvalAll(context.Background())
	s := states(e)
	if s["ok/x.ok"] != StateOK || s["alerting/x.alerting"] != StateFiring || s["keep/x.keep"] != StateFiring ||
		s["empty/x.nothing.*"] != StateFiring {
		t.Errorf("no data: %v", s)
	}
}

func TestBadRuleDoesNotStopOthers(t *testing.T) {
	d := &memData{values: map[string]float64{"a": 10}}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	e := newTestEngine(t, `
[[rule]]
name = "Unknown"
target = "noSuchFunction(a)"
above = 1
[[rule]]
name = "Good"
target = "a"
above = 1
`, d, c, "")
	e.EvalAll(context.Background())
	s := states(e)
	if s["Good/a"] != StateFiring {
		t.Errorf("the good rule: %v", s)
	}
	for _, r := range e.Rules() {
		switch r.Name {
		case "Unknown":
			if r.Errors != 1 || r.LastError == "" || r.LastEval == nil {
				t.Errorf("the failing rule: %+v", r)
			}
		case "Good":
			if r.Errors != 0 || r.Evaluations != 1 {
				t.Errorf("the good rule: %+v", r)
			}
		}
	}
}

// TestSlowRuleTimesOut: an evaluation that would run past the rule's
// timeout is cut there and counted as an error.
func TestSlowRuleTimesOut(t *testing.T) {
	rs, err := Parse(`
[[rule]]
name = "Slow"
target = "a"
above = 1
timeout = "200ms"
`)
	if err != nil {
		t.Fatal(err)
	}
	slow := func(ctx context.Context, e *render.Expr, from, until, now int64) ([]*render.Series, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			return nil, nil
		}
	}
	e, err := New(rs, Options{Eval: slow})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.EvalAll(context.Background())
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("evaluation took %s", d)
	}
	if r := e.Rules()[0]; r.Errors != 1 || r.LastError != context.DeadlineExceeded.Error() {
		t.Errorf("slow rule: %+v", r)
	}
}

// TestRestartKeepsState: with a state folder a firing alert is firing
// after a restart, is not notified again as new, and resolves once.
func TestRestartKeepsState(t *testing.T) {
	var mu sync.Mutex
	var got []WebhookPayload
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m WebhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		mu.Lock()
		got = append(got, m.Alerts...)
		mu.Unlock()
	}))
	defer hook.Close()
	rules := `
[[rule]]
name = "R"
target = "a"
above = 1
every = "200ms"
[[notify]]
type = "webhook"
url = "` + hook.URL + `"
`
	dir := t.TempDir()
	d := &memData{values: map[string]float64{"a": 10}}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	received := func(n int) []WebhookPayload {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			if len(got) >= n {
				out := append([]WebhookPayload(nil), got...)
				mu.Unlock()
				return out
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("the webhook got fewer than %d notifications", n)
		return nil
	}

	ctx, cancel := context.WithCancel(context.Background())
	e1 := newTestEngine(t, rules, d, c, dir)
	done := make(chan struct{})
	go func() { defer close(done); e1.Run(ctx) }()
	if p := received(1); p[0].Status != StateFiring || p[0].Rule != "R" || p[0].Series != "a" || *p[0].Value != 10 {
		t.Fatalf("first notification: %+v", p[0])
	}
	cancel()
	<-done

	c.add(time.Minute)
	e2 := newTestEngine(t, rules, d, c, dir)
	if s := states(e2); s["R/a"] != StateFiring {
		t.Fatalf("after the restart: %v", s)
	}
	e2.EvalAll(context.Background()) // still over: no transition
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go e2.Run(ctx2)
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	n := len(got)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("after the restart %d notifications, want still 1 (no duplicate new alert)", n)
	}
	d.set("a", 0)
	c.add(time.Second)
	e2.EvalAll(context.Background())
	p := received(2)
	if p[1].Status != StateResolved || p[1].EndsAt == nil {
		t.Errorf("resolved notification: %+v", p[1])
	}
	if len(e2.events.snapshot()) != 2 {
		t.Errorf("events after the restart: %+v", e2.events.snapshot())
	}
}

// TestNotifierFailuresCountedAndRetried: a webhook answering 500 is
// retried with backoff and counted; the rules keep being evaluated.
func TestNotifierFailuresCountedAndRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer hook.Close()
	d := &memData{values: map[string]float64{"a": 10, "b": 0}}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	e := newTestEngine(t, `
[[rule]]
name = "A"
target = "a"
above = 1
every = "100ms"
[[rule]]
name = "B"
target = "b"
above = 1
every = "100ms"
[[notify]]
type = "webhook"
url = "`+hook.URL+`"
retries = 3
backoff = "50ms"
`, d, c, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && e.Notifiers()[0].Failed == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	ns := e.Notifiers()[0]
	if ns.Failed != 1 || ns.Retried != 2 || ns.LastError == "" {
		t.Errorf("notifier status %+v", ns)
	}
	mu.Lock()
	if calls != 3 {
		t.Errorf("%d attempts, want 3", calls)
	}
	mu.Unlock()
	d.set("b", 5)
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && states(e)["B/b"] != StateFiring {
		time.Sleep(20 * time.Millisecond)
	}
	if s := states(e); s["B/b"] != StateFiring {
		t.Errorf("rule B stopped while the notifier failed: %v", s)
	}
}

func TestEventsAPI(t *testing.T) {
	d := &memData{values: map[string]float64{"a": 10, "b": 10}}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	e := newTestEngine(t, `
[[rule]]
name = "A"
target = "a"
above = 1
[[rule]]
name = "B"
target = "b"
above = 1
`, d, c, "")
	e.EvalAll(context.Background())
	c.add(time.Minute)
	d.set("a", 0)
	e.EvalAll(context.Background())
	r := mux.NewRouter()
	Register(r, e, time.UTC)
	get := func(q string) []graphiteEvent {
		t.Helper()
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", "/events/get_data?"+q, nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", q, rec.Code, rec.Body)
		}
		var out []graphiteEvent
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if n := len(get("")); n != 3 {
		t.Errorf("all events: %d, want 3", n)
	}
	if ev := get("tags=A+resolved"); len(ev) != 1 || ev[0].When != 1_800_000_060 || ev[0].What != "A resolved: a" {
		t.Errorf("tags=A resolved: %+v", ev)
	}
	if ev := get("tags=A+B&set=union"); len(ev) != 3 {
		t.Errorf("union: %+v", ev)
	}
	if ev := get("tags=A+B"); len(ev) != 0 {
		t.Errorf("all of A and B: %+v", ev)
	}
	if ev := get("from=1800000030&until=1800000090"); len(ev) != 1 {
		t.Errorf("from/until: %+v", ev)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/events/get_data?from=garbage", nil))
	if rec.Code != 400 {
		t.Errorf("bad from: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/api/alerts", nil))
	var ans alertsAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || !ans.Enabled || len(ans.Alerts) != 2 || len(ans.Rules) != 2 ||
		len(ans.Periods) != 2 {
		t.Errorf("/api/alerts: %v %s", err, rec.Body)
	}
}
