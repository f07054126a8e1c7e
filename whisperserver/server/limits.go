package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/api"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/membudget"
)

// limitBody refuses a request body over max bytes with 413: at once when
// Content-Length says so, else when a handler reads past it (the
// handlers turn *http.MaxBytesError into 413).
func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			w.Header().Set("Connection", "close")
			api.WriteError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body of %d bytes is larger than %d bytes (max_body_bytes)", r.ContentLength, max))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}

// cheapTargets is the most named (glob-free) targets a render may have
// and still skip the queue.
const cheapTargets = 8

// expensive reports whether a request reads many names or files: finds,
// listings and renders of globs or of many targets. Those share the
// admission limits; /healthz, the static files, single-metric info and
// renders of a few named metrics do not, so a dashboard's single panel
// stays fast while a storm of glob renders waits.
func expensive(r *http.Request) (bool, error) {
	switch r.URL.Path {
	case "/metrics", "/metrics/", "/metrics/find", "/metrics/find/",
		"/metrics/expand", "/metrics/expand/", "/metrics/index.json",
		"/api/metrics", "/api/tree":
		return true, nil
	case "/render", "/render/", "/api/data":
		if err := r.ParseForm(); err != nil {
			return true, err
		}
		targets := r.Form["target"]
		if len(targets) > cheapTargets {
			return true, nil
		}
		for _, t := range targets {
			if strings.ContainsAny(t, "*?[{") {
				return true, nil
			}
		}
	}
	return false, nil
}

// refuse answers in the style of the endpoint: JSON under /api/, plain
// text (graphite-web's style) elsewhere.
func refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		api.WriteError(w, status, msg)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

// formError is the answer to a form that did not parse.
func formError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes (max_body_bytes)", mbe.Limit))
		return
	}
	refuse(w, r, http.StatusBadRequest, "Invalid parameters (bad form: "+err.Error()+")")
}

// admission bounds the expensive requests in flight (max_concurrent) and
// holds new ones while the live heap is over memory_budget. A request
// that cannot start within queue_wait gets 503 with Retry-After. When a
// burst ends (nothing expensive in flight) memory is handed back to the
// operating system.
type admission struct {
	slots   chan struct{}
	wait    time.Duration
	budget  uint64
	mu      sync.Mutex
	active  int
	lastGC  time.Time
	freeing bool
}

func newAdmission(maxConcurrent int, wait time.Duration, budget int64) *admission {
	a := &admission{wait: wait, budget: uint64(max(budget, 0))}
	if maxConcurrent > 0 {
		a.slots = make(chan struct{}, maxConcurrent)
	}
	return a
}

// heapBytes is the memory the Go heap holds for live and not yet swept
// objects (what the budget is about).
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// overBudget reports whether admitting another expensive request would
// risk the budget: the heap already holds 3/4 of it.
func (a *admission) overBudget() bool {
	return a.budget > 0 && heapBytes() > a.budget/4*3
}

func (a *admission) acquire(ctx context.Context) (string, bool) {
	deadline := time.NewTimer(a.wait)
	defer deadline.Stop()
	if a.slots != nil {
		select {
		case a.slots <- struct{}{}:
		case <-deadline.C:
			return fmt.Sprintf("server busy: %d expensive requests already running (max_concurrent); retry shortly", cap(a.slots)), false
		case <-ctx.Done():
			return "request canceled while waiting", false
		}
	}
	for a.overBudget() {
		// Let the collector try once before refusing.
		a.collect()
		if !a.overBudget() {
			break
		}
		select {
		case <-deadline.C:
			a.release()
			return fmt.Sprintf("server busy: memory in use is near the memory_budget of %d MiB; retry shortly", a.budget>>20), false
		case <-ctx.Done():
			a.release()
			return "request canceled while waiting", false
		case <-time.After(50 * time.Millisecond):
		}
	}
	a.mu.Lock()
	a.active++
	a.mu.Unlock()
	return "", true
}

// collect runs a garbage collection at most every 200 ms.
func (a *admission) collect() {
	a.mu.Lock()
	if time.Since(a.lastGC) < 200*time.Millisecond {
		a.mu.Unlock()
		return
	}
	a.lastGC = time.Now()
	a.mu.Unlock()
	debug.FreeOSMemory()
}

func (a *admission) release() {
	if a.slots != nil {
		<-a.slots
	}
}

// done ends an admitted request; the last one of a burst hands the
// burst's memory back to the system (in the background, at most once a
// second).
func (a *admission) done() {
	a.release()
	a.mu.Lock()
	a.active--
	idle := a.active == 0 && !a.freeing && time.Since(a.lastGC) > time.Second
	if idle {
		a.freeing = true
	}
	a.mu.Unlock()
	if idle {
		go a.freeAfterBurst()
	}
}

func (a *admission) freeAfterBurst() {
	time.Sleep(100 * time.Millisecond)
	a.mu.Lock()
	still := a.active == 0
	if still {
		a.lastGC = time.Now()
	}
	a.mu.Unlock()
	if still {
		debug.FreeOSMemory()
	}
	a.mu.Lock()
	a.freeing = false
	a.mu.Unlock()
}

func (a *admission) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		costly, err := expensive(r)
		if err != nil {
			formError(w, r, err)
			return
		}
		if !costly {
			next.ServeHTTP(w, r)
			return
		}
		msg, ok := a.acquire(r.Context())
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(a.wait/time.Second))))
			refuse(w, r, http.StatusServiceUnavailable, msg)
			return
		}
		defer a.done()
		next.ServeHTTP(w, r)
	})
}

// withAccounts gives every request an account in pool, for the memory
// its answer reads and builds, returned when the request ends.
func withAccounts(next http.Handler, pool *membudget.Pool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acct := pool.Open()
		defer acct.Close()
		next.ServeHTTP(w, r.WithContext(membudget.WithAccount(r.Context(), acct)))
	})
}
