package membudget

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReserve(t *testing.T) {
	ctx := context.Background()
	p := NewPool(1000, 50*time.Millisecond)
	a := p.Open()
	if err := a.Reserve(ctx, 600); err != nil {
		t.Fatal(err)
	}
	// More than the whole pool: refused at once, naming the budget.
	start := time.Now()
	err := p.Open().Reserve(ctx, 1001)
	if !errors.Is(err, ErrTooBig) || time.Since(start) > 40*time.Millisecond {
		t.Fatalf("1001 of 1000: %v after %v, want ErrTooBig at once", err, time.Since(start))
	}
	if want := "memory_budget"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
	// An account's reservations add up against the pool as a whole.
	if err := a.Reserve(ctx, 500); !errors.Is(err, ErrTooBig) {
		t.Fatalf("600+500 in one account of 1000: %v, want ErrTooBig", err)
	}
	// Fits the pool but not now: waits, then busy.
	b := p.Open()
	start = time.Now()
	if err := b.Reserve(ctx, 500); !errors.Is(err, ErrBusy) || time.Since(start) < 40*time.Millisecond {
		t.Fatalf("500 with 600 of 1000 held: %v after %v, want ErrBusy after the wait", err, time.Since(start))
	}
	// Memory returned during the wait lets it through.
	go func() { time.Sleep(10 * time.Millisecond); a.Close() }()
	if err := b.Reserve(ctx, 500); err != nil {
		t.Fatalf("500 after the 600 returned: %v", err)
	}
	if p.Used() != 500 || b.Held() != 500 || a.Held() != 0 {
		t.Fatalf("used %d, b holds %d, a holds %d; want 500, 500, 0", p.Used(), b.Held(), a.Held())
	}
	b.Close()
	b.Close() // twice is harmless
	if p.Used() != 0 {
		t.Fatalf("used %d after every account closed", p.Used())
	}
	// A canceled request stops waiting.
	c := p.Open()
	_ = c.Reserve(ctx, 900)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Open().Reserve(cctx, 200); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	c.Close()
}

func TestNilAndUnlimited(t *testing.T) {
	var a *Account
	if err := a.Reserve(context.Background(), 1<<40); err != nil || a.Held() != 0 {
		t.Fatal("a nil account refused or held")
	}
	a.Close()
	u := NewPool(0, time.Second).Open()
	if err := u.Reserve(context.Background(), 1<<40); err != nil {
		t.Fatal("an unlimited pool refused")
	}
	ctx := WithAccount(context.Background(), u)
	if FromContext(ctx) != u || FromContext(context.Background()) != nil {
		t.Fatal("FromContext")
	}
}
