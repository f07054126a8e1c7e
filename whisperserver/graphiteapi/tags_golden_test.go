package graphiteapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// goldenTags is testdata/tags/tags.json: graphite-web 1.1.8's answers
// (its LocalDatabaseTagDB filled by carbon-cache 1.1.7 with ENABLE_TAGS)
// over carbon's folder testdata/tags/whisper, recorded by
// scripts/graphite-tags-golden.py.
type goldenTags struct {
	Now   int64 `json:"now"`
	Cases []struct {
		Path   string          `json:"path"`
		Query  [][2]string     `json:"query"`
		Status int             `json:"status"`
		Answer json.RawMessage `json:"answer"`
	} `json:"cases"`
}

func (g goldenTags) targets() []string {
	var out []string
	for _, c := range g.Cases {
		for _, kv := range c.Query {
			if kv[0] == "target" {
				out = append(out, kv[1])
			}
		}
	}
	return out
}

func loadGoldenTags(t *testing.T, file string) goldenTags {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenTags
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestTagsGoldenGraphiteWeb asks whisperserver every recorded tag request
// over carbon's folder and compares with graphite-web's answers.
func TestTagsGoldenGraphiteWeb(t *testing.T) {
	compareTagCases(t, "testdata/tags")
}

// TestTagsLiveGraphiteWeb records the answers afresh from carbon-cache and
// graphite-web running here (the script), then compares.
func TestTagsLiveGraphiteWeb(t *testing.T) {
	testutil.RequireReference(t, "graphite-web", testutil.GraphiteWebAvailable())
	_, err := os.Stat("/usr/bin/carbon-cache")
	testutil.RequireReference(t, "carbon-cache (Debian graphite-carbon)", err)
	if testing.Short() {
		t.Skip("starts carbon-cache and graphite-web (-short)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	script := filepath.Join(testutil.ModuleRoot(t), "scripts", "graphite-tags-golden.py")
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	compareTagCases(t, dir)
}

func compareTagCases(t *testing.T, dir string) {
	g := loadGoldenTags(t, filepath.Join(dir, "tags.json"))
	ix, err := index.New(filepath.Join(dir, "whisper"), index.Options{NoWatch: true, RescanInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	api := New(Config{Store: store.New(ix, 0, nil), Now: func() time.Time { return time.Unix(g.Now, 0) }})
	r := mux.NewRouter()
	api.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	same := 0
	for _, c := range g.Cases {
		v := url.Values{}
		for _, kv := range c.Query {
			v.Add(kv[0], kv[1])
		}
		resp, err := http.Get(srv.URL + c.Path + "?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		what := fmt.Sprintf("%s?%s", c.Path, v.Encode())
		if c.Status == http.StatusInternalServerError {
			// graphite-web crashed (groupByTags over a series without the
			// tag): a clear 400 here instead.
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400 where graphite-web fails with 500: %.300s", what, resp.StatusCode, body)
			} else {
				same++
			}
			continue
		}
		if resp.StatusCode != c.Status {
			t.Errorf("%s: status %d, graphite-web %d: %.300s", what, resp.StatusCode, c.Status, body)
			continue
		}
		if c.Path == "/render" {
			var got, want []jsonSeries
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%s: %v in %.300s", what, err, body)
			}
			if err := json.Unmarshal(c.Answer, &want); err != nil {
				t.Fatal(err)
			}
			d := diffSeries(got, want)
			if d == "" {
				d = diffTags(got, want)
			}
			if d != "" {
				t.Errorf("%s: %s", what, d)
				continue
			}
			same++
			continue
		}
		var got, want any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v in %.300s", what, err, body)
		}
		if err := json.Unmarshal(c.Answer, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(withoutIDs(got), withoutIDs(want)) {
			t.Errorf("%s:\n got %s\nwant %s", what, body, c.Answer)
			continue
		}
		same++
	}
	t.Logf("%d of %d tag requests answered as graphite-web", same, len(g.Cases))
}

// withoutIDs drops the "id" keys graphite-web's database rows carry
// (their values are its insertion order); every other key must match.
func withoutIDs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k != "id" {
				out[k] = withoutIDs(e)
			} else if _, isNum := e.(float64); !isNum {
				out[k] = e // an id must be a number
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutIDs(e)
		}
		return out
	}
	return v
}
