// Package membudget accounts the memory requests hold for the data they
// read and build. A Pool is the share of the server's memory budget all
// requests together may hold; each request opens an Account and reserves
// its estimated bytes before it allocates them. A reservation that could
// never fit is refused at once (ErrTooBig, a 422 naming memory_budget); one
// that does not fit now waits for other requests to end, then gives up
// (ErrBusy, a 503 with Retry-After). Closing the account returns what it
// held.
package membudget

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors Reserve returns, for errors.Is.
var (
	// ErrTooBig: the request alone needs more than the pool holds.
	ErrTooBig = errors.New("request needs more memory than the memory budget allows")
	// ErrBusy: other requests hold the memory; retry later.
	ErrBusy = errors.New("server busy: memory held by other requests")
)

// Error is a refused reservation.
type Error struct {
	Kind     error // ErrTooBig or ErrBusy
	Need     int64 // bytes the request would hold with this reservation
	Capacity int64 // the pool
	Used     int64 // held by all requests when refused
}

func (e *Error) Error() string {
	if e.Kind == ErrTooBig {
		return fmt.Sprintf("the answer needs about %s in memory, more than the %s requests may hold "+
			"(half the memory_budget); use maxDataPoints, a shorter range or fewer series", mib(e.Need), mib(e.Capacity))
	}
	return fmt.Sprintf("server busy: requests hold %s of the %s they may (half the memory_budget) and this one needs %s more; retry shortly",
		mib(e.Used), mib(e.Capacity), mib(e.Need))
}

// Unwrap makes errors.Is(err, ErrTooBig / ErrBusy) work.
func (e *Error) Unwrap() error { return e.Kind }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Pool is the bytes all accounts together may hold.
type Pool struct {
	capacity int64
	wait     time.Duration

	mu    sync.Mutex
	used  int64
	freed chan struct{} // closed (and replaced) whenever memory returns
}

// NewPool returns a pool of capacity bytes (≤ 0: unlimited) where a
// reservation waits at most wait for memory to return.
func NewPool(capacity int64, wait time.Duration) *Pool {
	return &Pool{capacity: capacity, wait: wait, freed: make(chan struct{})}
}

// Capacity is the pool's size in bytes (≤ 0: unlimited).
func (p *Pool) Capacity() int64 { return p.capacity }

// Used is what the accounts hold now.
func (p *Pool) Used() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// Open starts a request's account.
func (p *Pool) Open() *Account { return &Account{pool: p} }

// Account is one request's reservations. A nil *Account reserves
// nothing and never refuses (requests outside any pool, tests).
type Account struct {
	pool *Pool
	mu   sync.Mutex
	held int64
}

// Held is what the account holds.
func (a *Account) Held() int64 {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.held
}

// Reserve adds n bytes to the account, waiting up to the pool's wait (or
// ctx) for other accounts to return memory.
func (a *Account) Reserve(ctx context.Context, n int64) error {
	if a == nil || n <= 0 || a.pool.capacity <= 0 {
		return nil
	}
	p := a.pool
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.held+n > p.capacity {
		return &Error{Kind: ErrTooBig, Need: a.held + n, Capacity: p.capacity, Used: p.Used()}
	}
	var deadline <-chan time.Time
	for {
		p.mu.Lock()
		if p.used+n <= p.capacity {
			p.used += n
			p.mu.Unlock()
			a.held += n
			return nil
		}
		freed, used := p.freed, p.used
		p.mu.Unlock()
		if deadline == nil {
			t := time.NewTimer(p.wait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-freed:
		case <-deadline:
			return &Error{Kind: ErrBusy, Need: n, Capacity: p.capacity, Used: used}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close returns everything the account holds to the pool.
func (a *Account) Close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	n := a.held
	a.held = 0
	a.mu.Unlock()
	if n == 0 {
		return
	}
	p := a.pool
	p.mu.Lock()
	p.used -= n
	close(p.freed)
	p.freed = make(chan struct{})
	p.mu.Unlock()
}

type ctxKey struct{}

// WithAccount returns ctx carrying a.
func WithAccount(ctx context.Context, a *Account) context.Context {
	return context.WithValue(ctx, ctxKey{}, a)
}

// FromContext is the account ctx carries, or nil.
func FromContext(ctx context.Context) *Account {
	a, _ := ctx.Value(ctxKey{}).(*Account)
	return a
}
