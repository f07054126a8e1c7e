package graphiteapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gorilla/mux"
	ogórek "github.com/kisielk/og-rek"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
)

// findFolder copies a golden whisper file under names that exercise the
// find encoders: a name that is both a folder and a metric, names with
// URL escapes and with characters JSON escapes, plus a broken file (no
// intervals) and a symlink out of the folder (not listed).
func findFolder(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("testdata/golden/whisper/g/a.wsp")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	put := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range []string{"f/both.wsp", "f/both/x.wsp", "f/m%20n.wsp", "f/plus+1.wsp",
		"f/q\"uote.wsp", "f/é✓.wsp", "f/\u2028.wsp", "f/tab\t.wsp", "f/lt<gt>&.wsp", "f/sub/deep/y.wsp", "g/one.wsp"} {
		put(rel, src)
	}
	put("f/broken.wsp", []byte("not whisper"))
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "o.wsp"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(out, "o.wsp"), filepath.Join(dir, "f", "out.wsp")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// refJSON is encoding/json with HTML escaping off and no final newline,
// as the find handler encoded its answers before the direct appenders.
func refJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// refTreeJSON is the treejson answer as maps, encoded by encoding/json.
func refTreeJSON(matches []index.Match, basePath string, wildcards bool) []map[string]any {
	node := func(text, id string, branch bool) map[string]any {
		n := map[string]any{"text": text, "id": id, "allowChildren": 0, "expandable": 0, "leaf": 1}
		if branch {
			n["allowChildren"], n["expandable"], n["leaf"] = 1, 1, 0
		}
		return n
	}
	out := []map[string]any{}
	if len(matches) > 1 && wildcards {
		anyBranch := false
		for _, m := range matches {
			anyBranch = anyBranch || m.Branch
		}
		out = append(out, node("*", basePath+"*", anyBranch))
	}
	var branches, leaves []map[string]any
	found := map[string]bool{}
	for _, m := range matches {
		if found[m.Name()] {
			continue
		}
		found[m.Name()] = true
		text, err := url.QueryUnescape(m.Name())
		if err != nil {
			text = m.Name()
		}
		if m.Branch {
			branches = append(branches, node(text, basePath+m.Name(), true))
		} else {
			leaves = append(leaves, node(text, basePath+m.Name(), false))
		}
	}
	return append(append(out, branches...), leaves...)
}

// refFind is the format=json/pickle/msgpack answer built as before the
// direct appender: structs for JSON, a map[any]any per node for the others.
func refFind(st *store.Store, matches []index.Match, now int64, format string) any {
	type jsonNode struct {
		Path      string             `json:"path"`
		IsLeaf    bool               `json:"is_leaf"`
		Intervals []map[string]int64 `json:"intervals,omitempty"`
	}
	jnodes := []jsonNode{}
	infos := []any{}
	for _, m := range nodeList(matches) {
		info := map[any]any{"path": m.Path, "is_leaf": m.Leaf}
		jn := jsonNode{Path: m.Path, IsLeaf: m.Leaf}
		if m.Leaf {
			iv := []any{}
			if r, mtime, err := st.Intervals(context.Background(), m); err == nil {
				start := now - r
				end := max(mtime.Unix(), start)
				jn.Intervals = []map[string]int64{{"start": start, "end": end}}
				if format == "pickle" {
					iv = append(iv, ogórek.Tuple{start, end})
				} else {
					iv = append(iv, []any{start, end})
				}
			}
			info["intervals"] = iv
		}
		infos = append(infos, info)
		jnodes = append(jnodes, jn)
	}
	if format == "json" {
		return jnodes
	}
	return infos
}

// TestFindEncodersMatchReference: every find format's bytes equal what
// encoding/json (json, treejson), og-rek (pickle) and msgpackEncode give
// for the structures the handler built before, over odd names.
func TestFindEncodersMatchReference(t *testing.T) {
	dir := findFolder(t)
	ix, err := index.New(dir, index.Options{NoWatch: true, RescanInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Close() })
	st := store.New(ix, 0, nil)
	now := time.Now().Unix() + 7
	api := New(Config{Store: st, Now: func() time.Time { return time.Unix(now, 0) }})
	r := mux.NewRouter()
	api.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	for _, q := range []string{"f.*", "*", "f.both", "f.both.*", "f.sub.*.*", "nothing.*", "{f,g}.*", "f.b*"} {
		matches, err := ix.Find(t.Context(), q, 0)
		if err != nil {
			t.Fatal(err)
		}
		basePath := ""
		if i := bytes.LastIndexByte([]byte(q), '.'); i >= 0 {
			basePath = q[:i] + "."
		}
		for _, c := range []struct {
			format string
			extra  string
			want   []byte
		}{
			{"json", "", refJSON(t, refFind(st, matches, now, "json"))},
			{"treejson", "", refJSON(t, refTreeJSON(matches, basePath, false))},
			{"treejson", "&wildcards=1", refJSON(t, refTreeJSON(matches, basePath, true))},
			{"msgpack", "", msgpackEncode(nil, refFind(st, matches, now, "msgpack"))},
			{"pickle", "", pickleBytes(t, refFind(st, matches, now, "pickle"))},
		} {
			got := getBody(t, srv.URL+"/metrics/find?format="+c.format+c.extra+"&query="+url.QueryEscape(q))
			if c.format == "pickle" {
				// og-rek writes a map[any]any in Go's random map order:
				// the same pickle is not the same bytes twice.
				if g, w := unpickle(t, got), unpickle(t, c.want); !reflect.DeepEqual(g, w) {
					t.Errorf("find %s format=pickle:\n got %v\nwant %v", q, g, w)
				}
				continue
			}
			if !bytes.Equal(got, c.want) {
				t.Errorf("find %s format=%s%s:\n got %q\nwant %q", q, c.format, c.extra, got, c.want)
			}
		}
	}
	// The answer must not be trivially empty: the odd names are there,
	// the broken file without intervals, the symlink out not at all.
	body := string(getBody(t, srv.URL+"/metrics/find?format=json&query=f.*"))
	for _, want := range []string{`"f.m%20n"`, `"f.q\"uote"`, `"f.\u2028"`, `"f.lt<gt>&"`, `{"path":"f.broken","is_leaf":true}`, `"intervals":[{"end":`} {
		if !bytes.Contains([]byte(body), []byte(want)) {
			t.Errorf("format=json f.*: no %s in %s", want, body)
		}
	}
	if bytes.Contains([]byte(body), []byte("f.out")) {
		t.Errorf("format=json f.*: the symlink out of the folder is listed: %s", body)
	}
}

func pickleBytes(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ogórek.NewEncoderWithConfig(&buf, &ogórek.EncoderConfig{Protocol: 3}).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func unpickle(t *testing.T, b []byte) any {
	t.Helper()
	v, err := ogórek.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("unpickling %q: %v", b, err)
	}
	return v
}

func getBody(t *testing.T, u string) []byte {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", u, resp.StatusCode, err, b)
	}
	return b
}

func FuzzAppendJSONStringCompat(f *testing.F) {
	for _, s := range []string{"a.b", `q"uo\te`, "tab\tnl\n", "\x00\x7f", "é✓", "\xff\xfe", "\u2028", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONStringCompat(nil, s)
		if want := refJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %s, encoding/json %s", s, got, want)
		}
	})
}
