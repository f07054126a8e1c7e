package aggregate

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestStateRoundTripAndRefusals(t *testing.T) {
	cfg := DefaultConfig()
	a := New(cfg, 1)
	a.Shards()[0].AddPacket([]byte("c:3|c\nc:1|c|@0.5\nt:10|ms\nt:20|ms|@0.5\ng:5|g\ns:a|s\ns:b|s"))
	st := a.Snapshot()
	st.Slot = 1000
	path := filepath.Join(t.TempDir(), "state")
	if got, err := ReadState(path); got != nil || err != nil {
		t.Fatalf("no file: %v %v", got, err)
	}
	if err := WriteState(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(path)
	if err != nil || !reflect.DeepEqual(*got, st) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, st)
	}
	// Restored into a fresh aggregator, the next flush carries the interval.
	b := New(cfg, 1)
	b.Restore(*got)
	b.Shards()[0].AddPacket([]byte("c:1|c"))
	out := string(b.Flush(1000))
	for _, want := range []string{"stats_counts.c 6 1000", "stats.timers.t.count 3 1000", "stats.gauges.g 5 1000", "stats.sets.s.count 2 1000"} {
		if !contains(out, want) {
			t.Errorf("flush lacks %q:\n%s", want, out)
		}
	}
	data, _ := os.ReadFile(path)
	for _, bad := range [][]byte{data[:len(data)-3], append([]byte("DCSTATSD 9 00000000\n"), data[20:]...), []byte("junk")} {
		os.WriteFile(path, bad, 0o644)
		if _, err := ReadState(path); !errors.Is(err, ErrBadState) {
			t.Errorf("damaged state accepted: %v", err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
