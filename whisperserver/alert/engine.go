package alert

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
)

// State is where one series of a rule stands.
type State string

// The states of an alert.
const (
	StateOK       State = "ok"
	StatePending  State = "pending"
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

// Evaluator evaluates a target over [from, until] (Unix seconds) as the
// render API would, within the server's limits.
type Evaluator func(ctx context.Context, e *render.Expr, from, until, now int64) ([]*render.Series, error)

// Options configure an Engine.
type Options struct {
	Eval Evaluator
	Log  *slog.Logger
	// StateDir, when set, holds alerts-state.json: the alerts' states
	// and the recent events, so a restart neither forgets a firing alert
	// nor notifies it again.
	StateDir string
	// Timeout bounds one evaluation (default and cap: the rule's every).
	Timeout time.Duration
	// Workers is the most evaluations at once (default: half the CPUs,
	// at least 1), so rules never take every core from the HTTP API.
	Workers int
	// Gate, when set, is called before each evaluation (the server's
	// memory budget); an error skips the evaluation and is its error.
	Gate func(ctx context.Context) error
	// MaxEvents is how many transitions /events keeps (default 10000).
	MaxEvents int
	Now       func() time.Time
}

// Alert is one series of one rule.
type Alert struct {
	Rule     string            `json:"rule"`
	Series   string            `json:"series"`
	State    State             `json:"state"`
	Since    time.Time         `json:"since"`
	Value    *float64          `json:"value"`
	Labels   map[string]string `json:"labels,omitempty"`
	Summary  string            `json:"summary"`
	ActiveAt time.Time         `json:"active_at"` // condition true since (pending or firing)
	FiredAt  time.Time         `json:"fired_at"`  // last firing
	LastEval time.Time         `json:"last_evaluation"`
}

// ruleState is a rule and its alerts.
type ruleState struct {
	rule *Rule

	mu       sync.Mutex
	alerts   map[string]*Alert
	lastEval time.Time
	lastErr  string
	evals    int64
	errors   int64
	lastDur  time.Duration
}

// Engine evaluates rules and notifies.
type Engine struct {
	opts      Options
	log       *slog.Logger
	rules     []*ruleState
	byName    map[string]*ruleState
	notifiers []*notifier
	events    *eventLog
	sem       chan struct{}
	saveMu    sync.Mutex
}

// New builds an engine for rs; Run starts it.
func New(rs *Rules, opts Options) (*Engine, error) {
	if opts.Eval == nil {
		return nil, errors.New("alert: no evaluator")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = max(1, runtime.NumCPU()/2)
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 10000
	}
	e := &Engine{opts: opts, log: opts.Log, byName: map[string]*ruleState{},
		events: newEventLog(opts.MaxEvents), sem: make(chan struct{}, opts.Workers)}
	for _, r := range rs.Rule {
		st := &ruleState{rule: r, alerts: map[string]*Alert{}}
		e.rules = append(e.rules, st)
		e.byName[r.Name] = st
	}
	for _, n := range rs.Notify {
		nt, err := newNotifier(n, e)
		if err != nil {
			return nil, err
		}
		e.notifiers = append(e.notifiers, nt)
	}
	if opts.StateDir != "" {
		if err := e.load(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Run evaluates every rule on its own schedule until ctx is done.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range e.notifiers {
		wg.Add(1)
		go func() { defer wg.Done(); n.run(ctx) }()
	}
	for _, st := range e.rules {
		wg.Add(1)
		go func() { defer wg.Done(); e.schedule(ctx, st) }()
	}
	wg.Wait()
}

// schedule evaluates one rule every rule.Every (plus the evaluation's
// own time), starting at an offset within the first interval drawn from
// its name, so that many rules spread over the interval.
func (e *Engine) schedule(ctx context.Context, st *ruleState) {
	every := st.rule.Every.Duration
	h := fnv.New32a()
	h.Write([]byte(st.rule.Name))
	offset := time.Duration(h.Sum32()) % every
	t := time.NewTimer(offset)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.evaluate(ctx, st)
		t.Reset(every)
	}
}

// EvalAll evaluates every rule once, concurrently within Workers, and
// returns when all are done (for tests, benchmarks and tools).
func (e *Engine) EvalAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, st := range e.rules {
		wg.Add(1)
		go func() { defer wg.Done(); e.evaluate(ctx, st) }()
	}
	wg.Wait()
}

// evaluate runs one evaluation of a rule within the worker limit and the
// per-evaluation timeout; a failure is the rule's last error, logged and
// counted, and leaves its alerts as they were.
func (e *Engine) evaluate(ctx context.Context, st *ruleState) {
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-e.sem }()
	r := st.rule
	timeout := r.Every.Duration
	if r.Timeout.Duration > 0 {
		timeout = min(timeout, r.Timeout.Duration)
	}
	if e.opts.Timeout > 0 {
		timeout = min(timeout, e.opts.Timeout)
	}
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	now := e.opts.Now()
	series, err := e.run(ectx, r, now)
	if err != nil && ctx.Err() != nil {
		return // shutting down
	}
	st.mu.Lock()
	st.evals++
	st.lastEval = now
	st.lastDur = time.Since(start)
	if err != nil {
		st.errors++
		st.lastErr = err.Error()
		st.mu.Unlock()
		e.log.Warn("alert rule evaluation failed", "rule", r.Name, "error", err)
		return
	}
	st.lastErr = ""
	trans := st.apply(series, now)
	st.mu.Unlock()
	if len(trans) > 0 {
		e.transitions(trans)
	}
}

func (e *Engine) run(ctx context.Context, r *Rule, now time.Time) (list []*render.Series, err error) {
	defer func() {
		// The render engine is shared with /render; a panic in it must
		// not take the server down from a background goroutine.
		if v := recover(); v != nil {
			err = fmt.Errorf("panic in evaluation: %v", v)
		}
	}()
	if e.opts.Gate != nil {
		if err := e.opts.Gate(ctx); err != nil {
			return nil, err
		}
	}
	until := now.Unix()
	from := until - int64(r.Window.Duration/time.Second)
	return e.opts.Eval(ctx, r.expr, from, until, until)
}

// lastValue is a series' last non-null point.
func lastValue(s *render.Series) (float64, bool) {
	pts := s.Points()
	for i := len(pts) - 1; i >= 0; i-- {
		if !math.IsNaN(pts[i]) {
			return pts[i], true
		}
	}
	return 0, false
}

// transition is one change of state, to notify and record.
type transition struct {
	alert Alert // a copy, after the change
	from  State
	rule  *Rule
}

// apply moves the rule's alerts by one evaluation's result. st.mu is held.
func (st *ruleState) apply(series []*render.Series, now time.Time) []transition {
	r := st.rule
	var out []transition
	seen := make(map[string]bool, len(series))
	for _, s := range series {
		if seen[s.Name] {
			continue // a name twice: the first counts
		}
		seen[s.Name] = true
		v, ok := lastValue(s)
		if t, changed := st.step(s.Name, v, ok, now); changed {
			out = append(out, t)
		}
	}
	if len(series) == 0 && r.NoData == NoDataAlerting {
		seen[r.Target] = true
		if t, changed := st.step(r.Target, math.NaN(), false, now); changed {
			out = append(out, t)
		}
	}
	for name, a := range st.alerts {
		if seen[name] {
			continue
		}
		if a.State == StateOK || a.State == StateResolved {
			delete(st.alerts, name) // gone and quiet: forget it
			continue
		}
		if t, changed := st.step(name, math.NaN(), false, now); changed {
			out = append(out, t)
		}
	}
	return out
}

// step applies one value (ok false: no data) to one series' alert.
func (st *ruleState) step(name string, v float64, ok bool, now time.Time) (transition, bool) {
	r := st.rule
	a := st.alerts[name]
	if a == nil {
		a = &Alert{Rule: r.Name, Series: name, State: StateOK, Since: now, Labels: r.Labels}
		st.alerts[name] = a
	}
	a.LastEval = now
	var cond bool
	if ok {
		val := v
		a.Value = &val
		cond = r.breached(v)
	} else {
		a.Value = nil
		switch r.NoData {
		case NoDataKeep:
			return transition{}, false
		case NoDataAlerting:
			cond = true
		default:
			cond = false
		}
	}
	from := a.State
	switch {
	case cond && (a.State == StateOK || a.State == StateResolved):
		a.ActiveAt = now
		if r.For.Duration > 0 {
			a.State = StatePending
		} else {
			a.State = StateFiring
			a.FiredAt = now
		}
	case cond && a.State == StatePending && now.Sub(a.ActiveAt) >= r.For.Duration:
		a.State = StateFiring
		a.FiredAt = now
	case !cond && a.State == StatePending:
		a.State = StateOK
	case !cond && a.State == StateFiring:
		a.State = StateResolved
	}
	if a.State == from {
		if a.State == StateFiring {
			a.Summary = summary(r, a) // the value moves on
		}
		return transition{}, false
	}
	a.Since = now
	a.Summary = summary(r, a)
	return transition{alert: *a, from: from, rule: r}, true
}

// summary fills the rule's template: {{value}}, {{series}}, {{rule}},
// {{threshold}} and {{labels.NAME}}.
func summary(r *Rule, a *Alert) string {
	tpl := r.Summary
	if tpl == "" {
		op := ">"
		t, up := r.Threshold()
		if !up {
			op = "<"
		}
		tpl = "{{series}} = {{value}} (" + op + " " + render.PyG(t) + ")"
	}
	val := "no data"
	if a.Value != nil {
		val = render.PyG(*a.Value)
	}
	t, _ := r.Threshold()
	pairs := []string{"{{value}}", val, "{{series}}", a.Series, "{{rule}}", r.Name, "{{threshold}}", render.PyG(t)}
	for k, v := range r.Labels {
		pairs = append(pairs, "{{labels."+k+"}}", v)
	}
	return strings.NewReplacer(pairs...).Replace(tpl)
}

// transitions records changes as events, saves the state and queues
// notifications for firing and resolved.
func (e *Engine) transitions(ts []transition) {
	for _, t := range ts {
		e.events.add(t)
		e.log.Info("alert", "rule", t.alert.Rule, "series", t.alert.Series, "from", string(t.from), "to", string(t.alert.State),
			"value", valueAttr(t.alert.Value))
	}
	if e.opts.StateDir != "" {
		if err := e.save(); err != nil {
			e.log.Error("saving the alert state failed", "dir", e.opts.StateDir, "error", err)
		}
	}
	for _, t := range ts {
		if t.alert.State != StateFiring && t.alert.State != StateResolved {
			continue
		}
		if t.alert.State == StateResolved && t.from != StateFiring {
			continue
		}
		for _, n := range e.notifiers {
			n.enqueue(t)
		}
	}
}

func valueAttr(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// Alerts returns every alert, sorted by rule and series.
func (e *Engine) Alerts() []Alert {
	var out []Alert
	for _, st := range e.rules {
		st.mu.Lock()
		for _, a := range st.alerts {
			out = append(out, *a)
		}
		st.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Series < out[j].Series
	})
	return out
}

// firing returns the firing alerts of the rules a notifier serves.
func (e *Engine) firing(accept func(string) bool) []transition {
	var out []transition
	for _, st := range e.rules {
		if !accept(st.rule.Name) {
			continue
		}
		st.mu.Lock()
		for _, a := range st.alerts {
			if a.State == StateFiring {
				out = append(out, transition{alert: *a, from: StateFiring, rule: st.rule})
			}
		}
		st.mu.Unlock()
	}
	return out
}

// RuleStatus is one rule as /api/alerts shows it.
type RuleStatus struct {
	Name          string            `json:"name"`
	Target        string            `json:"target"`
	Above         *float64          `json:"above,omitempty"`
	Below         *float64          `json:"below,omitempty"`
	For           string            `json:"for"`
	Every         string            `json:"every"`
	NoData        NoData            `json:"no_data"`
	Labels        map[string]string `json:"labels,omitempty"`
	LastEval      *time.Time        `json:"last_evaluation"`
	LastError     string            `json:"last_error"`
	LastDurationS float64           `json:"last_duration_seconds"`
	Evaluations   int64             `json:"evaluations"`
	Errors        int64             `json:"errors"`
}

// Rules returns the rules' status, in file order.
func (e *Engine) Rules() []RuleStatus {
	out := make([]RuleStatus, 0, len(e.rules))
	for _, st := range e.rules {
		r := st.rule
		st.mu.Lock()
		rs := RuleStatus{Name: r.Name, Target: r.Target, Above: r.Above, Below: r.Below, For: r.For.String(),
			Every: r.Every.String(), NoData: r.NoData, Labels: r.Labels, LastError: st.lastErr,
			LastDurationS: st.lastDur.Seconds(), Evaluations: st.evals, Errors: st.errors}
		if !st.lastEval.IsZero() {
			t := st.lastEval
			rs.LastEval = &t
		}
		st.mu.Unlock()
		out = append(out, rs)
	}
	return out
}

// lastError is a rule's last evaluation error.
func (e *Engine) lastError(rule string) string {
	st := e.byName[rule]
	if st == nil {
		return ""
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.lastErr
}
