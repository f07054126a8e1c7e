package aggregate

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// State is what an aggregator holds for the current interval, kept across
// a restart: taken at stop (before the final flush), put back at the next
// start. Names are statsd keys, as received.
type State struct {
	// Slot is the timestamp the stop's final flush was stamped with, and
	// Interval the flush interval then; together they tell whether the next
	// start's first flush falls in the same slot.
	Slot     int64
	Interval int
	Counters map[string]float64
	Timers   map[string]TimerState
	Gauges   map[string]float64
	Sets     map[string][]string
}

// TimerState is one timer's samples and its count (samples over their rates).
type TimerState struct {
	Values []float64
	Count  float64
}

// Snapshot merges what the shards received and returns a copy of the
// interval's state; nothing is reset (the final flush follows).
func (a *Aggregator) Snapshot() State {
	a.merge()
	st := State{Interval: a.cfg.FlushInterval, Counters: maps.Clone(a.counters), Gauges: maps.Clone(a.gauges),
		Timers: make(map[string]TimerState, len(a.timers)), Sets: make(map[string][]string, len(a.sets))}
	for k, t := range a.timers {
		if t.count > 0 || len(t.values) > 0 {
			st.Timers[k] = TimerState{Values: append([]float64(nil), t.values...), Count: t.count}
		}
	}
	for k, s := range a.sets {
		if len(s) > 0 {
			st.Sets[k] = make([]string, 0, len(s))
			for m := range s {
				st.Sets[k] = append(st.Sets[k], m)
			}
		}
	}
	return st
}

// Restore adds a kept interval to the aggregator, so the next flush carries
// it with what arrives meanwhile: counters add up, timer samples and set
// members join, a kept gauge is the starting value (a value received since
// replaces it).
func (a *Aggregator) Restore(st State) {
	for k, v := range st.Counters {
		a.counters[k] += v
	}
	for k, t := range st.Timers {
		g := a.timers[k]
		if g == nil {
			g = &timerState{}
			a.timers[k] = g
		}
		g.values = append(g.values, t.Values...)
		g.count += t.Count
	}
	a.RestoreGauges(st)
	for k, ms := range st.Sets {
		g := a.sets[k]
		if g == nil {
			g = make(map[string]struct{}, len(ms))
			a.sets[k] = g
		}
		for _, m := range ms {
			g[m] = struct{}{}
		}
	}
}

// RestoreGauges puts back only the kept gauges: what outlives a flush (the
// interval's counts already went out at stop in their own slot).
func (a *Aggregator) RestoreGauges(st State) {
	for k, v := range st.Gauges {
		if _, ok := a.gauges[k]; !ok {
			a.gauges[k] = v
			if a.cfg.DeleteGauges {
				a.gaugeTTL[k] = a.cfg.GaugesMaxTTL
			}
		}
	}
}

// StateVersion is the format version of state files.
const StateVersion = 1

const stateMagic = "DCSTATSD"

// ErrBadState is wrapped by errors about state files that are damaged or of
// another version.
var ErrBadState = errors.New("not a valid statsd state file")

// WriteState writes st to path atomically (temporary file, sync, rename).
func WriteState(path string, st State) (err error) {
	var body bytes.Buffer
	if err := gob.NewEncoder(&body).Encode(st); err != nil {
		return fmt.Errorf("encoding statsd state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing statsd state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriter(tmp)
	fmt.Fprintf(w, "%s %d %08x\n", stateMagic, StateVersion, crc32.ChecksumIEEE(body.Bytes()))
	w.Write(body.Bytes())
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing statsd state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing statsd state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing statsd state: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// ReadState reads a state file; (nil, nil) when there is none.
func ReadState(path string) (*State, error) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading statsd state: %w", err)
	}
	nl := bytes.IndexByte(data, '\n')
	var magic string
	var version int
	var sum uint32
	if nl < 0 {
		return nil, fmt.Errorf("%s: %w (no header)", path, ErrBadState)
	}
	if n, _ := fmt.Sscanf(string(data[:nl]), "%s %d %x", &magic, &version, &sum); n != 3 || magic != stateMagic {
		return nil, fmt.Errorf("%s: %w (unknown format)", path, ErrBadState)
	}
	if version != StateVersion {
		return nil, fmt.Errorf("%s: %w (format version %d, this build reads %d)", path, ErrBadState, version, StateVersion)
	}
	body := data[nl+1:]
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%s: %w (checksum mismatch: truncated or damaged)", path, ErrBadState)
	}
	var st State
	if err := gob.NewDecoder(bytes.NewReader(body)).Decode(&st); err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", path, ErrBadState, err)
	}
	return &st, nil
}

// MoveStateAside renames a refused state file so it is kept but not read
// again; it returns the new name.
func MoveStateAside(path string) (string, error) {
	aside := path + ".refused-" + strconv.FormatInt(time.Now().Unix(), 10)
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("moving refused statsd state aside: %w", err)
	}
	return aside, nil
}
