package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/alert"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/membudget"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// newAlerts loads the rules file and builds the alert engine. Rules are
// evaluated by the render engine under the limits of a /render request:
// max_series, max_points, request_timeout, and the memory budget (an
// evaluation reserves from the request pool, and waits queue_wait for
// memory, then fails and is retried at the rule's next interval). They do not take max_concurrent slots:
// alert_workers bounds them apart, so rules cannot starve the HTTP API.
func newAlerts(cfg Config, st *store.Store, adm *admission, pool *membudget.Pool, log *slog.Logger) (*alert.Engine, error) {
	rules, err := alert.LoadFile(cfg.Alerts)
	if err != nil {
		return nil, err
	}
	loc, _ := time.LoadLocation(cfg.TimeZone)
	return alert.New(rules, alert.Options{
		Eval:     evaluator(st, pool, loc, cfg.MaxSeries, cfg.MaxPoints),
		Log:      log,
		StateDir: cfg.AlertsStateDir,
		Timeout:  cfg.RequestTimeout,
		Workers:  cfg.AlertWorkers,
		Gate:     adm.memoryGate,
	})
}

// evaluator renders a target as /render does, with the same limits: it
// reserves what it reads from the request memory pool like a request.
func evaluator(st *store.Store, pool *membudget.Pool, loc *time.Location, maxSeries, maxPoints int) alert.Evaluator {
	return func(ctx context.Context, e *render.Expr, from, until, now int64) ([]*render.Series, error) {
		acct := pool.Open()
		defer acct.Close()
		ctx = membudget.WithAccount(ctx, acct)
		budget := int64(maxSeries)
		if budget <= 0 {
			budget = math.MaxInt64
		}
		rc := &render.Context{Ctx: ctx, Start: from, End: until, Now: now, Location: loc,
			Fetch: func(c context.Context, pattern string, s, e, n int64) ([]*render.Series, error) {
				return st.Fetch(c, pattern, s, e, n, store.FetchOptions{Budget: &budget})
			}}
		list, err := rc.EvalTargets([]*render.Expr{e})
		if err != nil {
			return nil, err
		}
		if maxSeries > 0 && len(list) > maxSeries {
			return nil, fmt.Errorf("the result holds %d series, over the limit of %d (max_series)", len(list), maxSeries)
		}
		points := 0
		for _, s := range list {
			points += len(s.Values)
		}
		if maxPoints > 0 && points > maxPoints {
			return nil, fmt.Errorf("the result holds %d points, over the limit of %d (max_points)", points, maxPoints)
		}
		return list, nil
	}
}

// memoryGate waits while the heap is near the memory budget, at most
// queue_wait.
func (a *admission) memoryGate(ctx context.Context) error {
	if !a.overBudget() {
		return nil
	}
	a.collect()
	deadline := time.NewTimer(a.wait)
	defer deadline.Stop()
	for a.overBudget() {
		select {
		case <-deadline.C:
			return fmt.Errorf("memory in use is near the memory_budget of %d MiB", a.budget>>20)
		case <-ctx.Done():
			return errors.Join(errors.New("waiting for memory"), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
