package persist

import (
	"sync"
	"time"
)

// RateLog logs at most one message per kind per interval and tells how many
// similar messages it held back, so a failing disk cannot flood the log.
type RateLog struct {
	mu         sync.Mutex
	every      time.Duration
	logf       func(format string, args ...interface{})
	last       map[string]time.Time
	suppressed map[string]int
}

// NewRateLog returns a RateLog writing through logf.
func NewRateLog(every time.Duration, logf func(format string, args ...interface{})) *RateLog {
	return &RateLog{every: every, logf: logf, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// Log logs the message unless one of the same kind was logged within the interval.
func (r *RateLog) Log(kind, format string, args ...interface{}) {
	if r == nil || r.logf == nil {
		return
	}
	r.mu.Lock()
	now := time.Now()
	if t, ok := r.last[kind]; ok && now.Sub(t) < r.every {
		r.suppressed[kind]++
		r.mu.Unlock()
		return
	}
	n := r.suppressed[kind]
	r.last[kind] = now
	r.suppressed[kind] = 0
	r.mu.Unlock()
	if n > 0 {
		format += " (%d similar messages suppressed)"
		args = append(args, n)
	}
	r.logf(format, args...)
}
