package alert

import (
	"sync"
	"time"
)

// Event is one alert transition, as graphite-web's events API shows
// events (id, when, what, data, tags) plus the alert's fields.
type Event struct {
	ID     int64     `json:"id"`
	When   time.Time `json:"-"`
	What   string    `json:"what"`
	Data   string    `json:"data"`
	Tags   []string  `json:"tags"`
	Rule   string    `json:"rule"`
	Series string    `json:"series"`
	From   State     `json:"from"`
	State  State     `json:"state"`
	Value  *float64  `json:"value"`
}

// eventLog keeps the last max events, oldest first.
type eventLog struct {
	mu     sync.Mutex
	max    int
	nextID int64
	list   []Event
}

func newEventLog(max int) *eventLog { return &eventLog{max: max, nextID: 1} }

func (l *eventLog) add(t transition) {
	a := t.alert
	ev := Event{When: a.Since, What: a.Rule + " " + string(a.State) + ": " + a.Series, Data: a.Summary,
		Tags: []string{"alert", a.Rule, string(a.State)}, Rule: a.Rule, Series: a.Series, From: t.from,
		State: a.State, Value: a.Value}
	l.mu.Lock()
	defer l.mu.Unlock()
	ev.ID = l.nextID
	l.nextID++
	l.list = append(l.list, ev)
	if len(l.list) > l.max {
		l.list = append(l.list[:0:0], l.list[len(l.list)-l.max:]...)
	}
}

// between returns the events in [from, until] carrying the tags (all
// of them, or any of them when union), oldest first.
func (l *eventLog) between(from, until time.Time, tags []string, union bool) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, ev := range l.list {
		if ev.When.Before(from) || ev.When.After(until) || !hasTags(ev.Tags, tags, union) {
			continue
		}
		out = append(out, ev)
	}
	return out
}

func hasTags(have, want []string, union bool) bool {
	if len(want) == 0 {
		return true
	}
	n := 0
	for _, w := range want {
		for _, h := range have {
			if h == w {
				n++
				break
			}
		}
	}
	if union {
		return n > 0
	}
	return n == len(want)
}

func (l *eventLog) snapshot() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.list...)
}

func (l *eventLog) restore(list []Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(list) > l.max {
		list = list[len(list)-l.max:]
	}
	l.list = list
	for _, ev := range list {
		l.nextID = max(l.nextID, ev.ID+1)
	}
}

// Period is a time a series was firing; Until is nil while it still is.
type Period struct {
	Rule   string     `json:"rule"`
	Series string     `json:"series"`
	From   time.Time  `json:"from"`
	Until  *time.Time `json:"until"`
}

// Periods returns the firing periods the event log knows of.
func (e *Engine) Periods() []Period {
	open := map[[2]string]int{}
	var out []Period
	for _, ev := range e.events.snapshot() {
		k := [2]string{ev.Rule, ev.Series}
		switch {
		case ev.State == StateFiring:
			if _, ok := open[k]; !ok {
				open[k] = len(out)
				out = append(out, Period{Rule: ev.Rule, Series: ev.Series, From: ev.When})
			}
		case ev.From == StateFiring:
			if i, ok := open[k]; ok {
				t := ev.When
				out[i].Until = &t
				delete(open, k)
			}
		}
	}
	return out
}

// EventTimes returns the times (Unix seconds) of the kept events in
// [start, end] carrying every one of tags (all events for nil tags), for
// the render function events(). A nil engine has none.
func (e *Engine) EventTimes(start, end int64, tags []string) []int64 {
	if e == nil {
		return nil
	}
	evs := e.events.between(time.Unix(start, 0), time.Unix(end, 0), tags, false)
	out := make([]int64, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.When.Unix())
	}
	return out
}
