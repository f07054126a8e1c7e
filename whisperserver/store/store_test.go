package store_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/server/servertest"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// folder holds m.good (one point a minute, value 7) and m.bad (not a
// whisper file).
func folder(t *testing.T) (dir string, t0 int64) {
	dir = t.TempDir()
	now := time.Now().Unix()
	t0 = now - now%60 - 600
	pts := map[int64]float64{}
	for i := int64(0); i < 10; i++ {
		pts[t0+i*60] = 7
	}
	servertest.WriteMetric(t, dir, "m.good", "average", []servertest.Archive{{Step: 60, Points: 100}}, pts)
	if err := os.WriteFile(filepath.Join(dir, "m", "bad.wsp"), []byte("not whisper"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, t0
}

// TestFetch reads through the store: the good file's points, the corrupt
// one reported through OnError and left out, a glob over budget refused.
func TestFetch(t *testing.T) {
	dir, t0 := folder(t)
	ix, err := index.New(dir, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	st := store.New(ix, 4, nil)
	var failed []string
	got, err := st.Fetch(context.Background(), "m.*", t0-1, t0+599, time.Now().Unix(),
		store.FetchOptions{OnError: func(name string, err error) { failed = append(failed, name) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "m.good" || len(failed) != 1 || failed[0] != "m.bad" {
		t.Fatalf("series %v, failed %v: want m.good read and m.bad reported", got, failed)
	}
	n := 0
	for _, v := range got[0].Values {
		if v == 7 {
			n++
		}
	}
	if n != 10 {
		t.Fatalf("%d of 10 points read: %v", n, got[0].Values)
	}
	if st.FileErrors.Load() != 1 {
		t.Fatalf("FileErrors = %d, want 1", st.FileErrors.Load())
	}
	budget := int64(1)
	if _, err := st.Fetch(context.Background(), "m.*", t0, t0+600, time.Now().Unix(), store.FetchOptions{Budget: &budget}); !errors.Is(err, store.ErrTooMany) {
		t.Fatalf("two series on a budget of one: %v, want ErrTooMany", err)
	}
}

// TestStatuses checks, through server.Handler, how the store's errors
// reach a client: a corrupt file is 422, a malformed name 400.
func TestStatuses(t *testing.T) {
	dir, _ := folder(t)
	base := servertest.Start(t, dir, nil).URL
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/api/metric/m.good", http.StatusOK},
		{"/api/metric/m.bad", http.StatusUnprocessableEntity},
		{"/api/metric/m.gone", http.StatusNotFound},
		{"/api/metric/m..good", http.StatusBadRequest},
	} {
		if code, body := servertest.Get(t, base+tc.path); code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.path, code, body, tc.code)
		}
	}
}
