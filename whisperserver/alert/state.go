package alert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// StateFile is the name of the state file in the state folder.
const StateFile = "alerts-state.json"

type savedEvent struct {
	Event
	WhenUnix float64 `json:"when"`
}

type savedState struct {
	Version int                         `json:"version"`
	Saved   time.Time                   `json:"saved"`
	Alerts  map[string]map[string]Alert `json:"alerts"` // rule → series → alert
	Events  []savedEvent                `json:"events"`
}

// save writes the state file atomically (a temporary file renamed).
func (e *Engine) save() error {
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	s := savedState{Version: 1, Saved: e.opts.Now(), Alerts: map[string]map[string]Alert{}}
	for _, st := range e.rules {
		st.mu.Lock()
		m := make(map[string]Alert, len(st.alerts))
		for k, a := range st.alerts {
			if a.State != StateOK {
				m[k] = *a
			}
		}
		st.mu.Unlock()
		if len(m) > 0 {
			s.Alerts[st.rule.Name] = m
		}
	}
	for _, ev := range e.events.snapshot() {
		s.Events = append(s.Events, savedEvent{Event: ev, WhenUnix: float64(ev.When.UnixNano()) / 1e9})
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.opts.StateDir, 0o755); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	tmp, err := os.CreateTemp(e.opts.StateDir, StateFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(e.opts.StateDir, StateFile))
}

// load restores the alerts of rules that still exist and the events.
func (e *Engine) load() error {
	path := filepath.Join(e.opts.StateDir, StateFile)
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("alert state: %w", err)
	}
	var s savedState
	if err := json.Unmarshal(b, &s); err != nil {
		// A damaged state file costs the history, not the server.
		e.log.Error("alert state file unreadable; starting afresh", "file", path, "error", err)
		return nil
	}
	for rule, m := range s.Alerts {
		st := e.byName[rule]
		if st == nil {
			continue
		}
		for series, a := range m {
			a.Rule, a.Series, a.Labels = rule, series, st.rule.Labels
			st.alerts[series] = &a
		}
	}
	evs := make([]Event, 0, len(s.Events))
	for _, se := range s.Events {
		ev := se.Event
		ev.When = time.Unix(0, int64(se.WhenUnix*1e9))
		evs = append(evs, ev)
	}
	e.events.restore(evs)
	return nil
}
