package dashboards

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
)

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, h http.Handler, path string, into any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if into != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("%s: %v: %s", path, err, rec.Body)
		}
	}
	return rec.Code
}

func TestFolder(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "mine.json", `{"title": "Mine", "charts": [{"title": "Hits", "targets": ["sumSeries(stats.*.hits)"]}]}`)
	write(t, dir, "full.json", `{"title": "Full", "description": "d", "from": "-6h", "refresh": 30,
		"charts": [{"title": "CPU", "targets": ["a.b", "c.d"], "unit": "%", "yAxis": "percent", "yMin": 0, "yMax": 100}]}`)
	write(t, dir, "typo.json", `{"title": "T", "charts": [{"titel": "x", "targets": ["a"]}]}`)
	write(t, dir, "syntax.json", "{\"title\": \"S\",\n \"charts\": [}")
	write(t, dir, "empty.json", `{"title": "", "charts": [{"targets": []}]}`)
	write(t, dir, "unit.json", `{"title": "U", "charts": [{"targets": ["a"], "unit": "furlongs"}]}`)
	write(t, dir, "notes.txt", "not a dashboard")
	var logs bytes.Buffer
	f := New(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	r := mux.NewRouter()
	r.SkipClean(true) // as the server's router
	f.Register(r)

	var list struct {
		Dashboards []Summary `json:"dashboards"`
	}
	if code := get(t, r, "/api/dashboards", &list); code != 200 {
		t.Fatalf("list: %d", code)
	}
	got := map[string]Summary{}
	for _, s := range list.Dashboards {
		got[s.Name] = s
	}
	if len(got) != 6 {
		t.Fatalf("want 6 dashboards (not notes.txt), got %v", list.Dashboards)
	}
	if got["mine"].Title != "Mine" || got["mine"].Charts != 1 || got["mine"].Error != "" {
		t.Errorf("mine: %+v", got["mine"])
	}
	for name, want := range map[string]string{
		"typo": `unknown field "titel"`, "syntax": "line 2", "empty": `"title" is missing`, "unit": `"unit" "furlongs"`,
	} {
		if !strings.Contains(got[name].Error, want) {
			t.Errorf("%s: error %q, want it to contain %q", name, got[name].Error, want)
		}
		// Logged with the file and the reason.
		if !strings.Contains(logs.String(), filepath.Join(dir, name+".json")) {
			t.Errorf("%s is not in the log: %s", name, logs.String())
		}
	}
	if !strings.Contains(got["empty"].Error, `"targets" is missing`) {
		t.Errorf("empty: %q", got["empty"].Error)
	}

	var d Dashboard
	if code := get(t, r, "/api/dashboards/full", &d); code != 200 || d.Charts[0].Unit != "%" || d.Charts[0].YAxis != "percent" ||
		*d.Charts[0].YMax != 100 || d.From != "-6h" || d.Refresh != 30 || len(d.Charts[0].Targets) != 2 {
		t.Errorf("full: %d %+v", code, d)
	}
	var e struct{ Error string }
	if code := get(t, r, "/api/dashboards/typo", &e); code != http.StatusUnprocessableEntity || !strings.Contains(e.Error, "titel") {
		t.Errorf("broken: %d %q", code, e.Error)
	}
	for _, p := range []string{"/api/dashboards/nope", "/api/dashboards/..", "/api/dashboards/notes.txt"} {
		if code := get(t, r, p, nil); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}

	// Changes are picked up: an edited file, a new one, a removed one.
	write(t, dir, "mine.json", `{"title": "Mine, edited", "charts": []}`)
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(filepath.Join(dir, "mine.json"), later, later); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "new.json", `{"title": "New", "charts": []}`)
	if err := os.Remove(filepath.Join(dir, "unit.json")); err != nil {
		t.Fatal(err)
	}
	if code := get(t, r, "/api/dashboards/mine", &d); code != 200 || d.Title != "Mine, edited" {
		t.Errorf("edited: %d %q", code, d.Title)
	}
	if code := get(t, r, "/api/dashboards/new", nil); code != 200 {
		t.Errorf("new: %d", code)
	}
	if code := get(t, r, "/api/dashboards/unit", nil); code != 404 {
		t.Errorf("removed: %d", code)
	}
}

func TestFolderMissingAndUnset(t *testing.T) {
	r := mux.NewRouter()
	New("", nil).Register(r)
	var list struct {
		Dashboards []Summary `json:"dashboards"`
		Configured bool      `json:"configured"`
	}
	if code := get(t, r, "/api/dashboards", &list); code != 200 || len(list.Dashboards) != 0 || list.Configured {
		t.Errorf("unset: %d %+v", code, list)
	}
	r = mux.NewRouter()
	New(filepath.Join(t.TempDir(), "missing"), nil).Register(r)
	var e struct {
		Error string `json:"error"`
	}
	if code := get(t, r, "/api/dashboards", &e); code != 200 || !strings.Contains(e.Error, "no such file") {
		t.Errorf("missing folder: %d %q", code, e.Error)
	}
}

func TestParseLimits(t *testing.T) {
	big := `{"title": "x", "charts": [` + strings.Repeat(`{"targets": ["a"]},`, MaxCharts) + `{"targets": ["a"]}]}`
	if _, err := Parse([]byte(big)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too many charts: %v", err)
	}
	if _, err := Parse([]byte(`{"title": "x", "charts": []} {}`)); err == nil {
		t.Error("two values accepted")
	}
	if _, err := Parse([]byte(`{"title": "x", "charts": [{"targets": ["a"], "yMin": 5, "yMax": 1}]}`)); err == nil {
		t.Error("yMin above yMax accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"title": "Mine", "charts": [{"title": "Hits", "targets": ["sumSeries(a.*)"], "unit": "ms"}]}`))
	f.Add([]byte(`{"title": "", "charts": null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err == nil && (d.Validate() != nil || strings.TrimSpace(d.Title) == "") {
			t.Fatalf("accepted an invalid dashboard: %q", b)
		}
	})
}
