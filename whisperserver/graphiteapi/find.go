package graphiteapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
	"github.com/gorilla/mux"
	ogórek "github.com/kisielk/og-rek"
)

func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(bytes.TrimRight(buf.Bytes(), "\n"))
}

func (a *API) findNodes(r *http.Request, query string) ([]index.Match, error) {
	ms, err := a.cfg.Store.Index.Find(r.Context(), query, a.cfg.MaxFind)
	if errors.Is(err, index.ErrTooMany) {
		return nil, &httpError{http.StatusUnprocessableEntity, err.Error() + " (max_find)"}
	}
	if err != nil && r.Context().Err() == nil {
		return nil, badRequest("%v", err)
	}
	return ms, err
}

func (a *API) find(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		a.writeError(w, r, err, nil)
		return
	}
	format, ok := get(p, "format")
	if !ok {
		format = "treejson"
	}
	leavesOnly, err1 := intParam(p, "leavesOnly", 0)
	wildcards, err2 := intParam(p, "wildcards", 0)
	position, err3 := intParam(p, "position", -1)
	for _, e := range []error{err1, err2, err3} {
		if e != nil {
			a.writeError(w, r, e, nil)
			return
		}
	}
	query, ok := get(p, "query")
	if !ok {
		a.writeError(w, r, badRequest("Missing required parameter 'query'"), nil)
		return
	}
	if query == "" {
		a.writeError(w, r, badRequest("Required parameter 'query' is empty"), nil)
		return
	}
	basePath := ""
	if i := strings.LastIndexByte(query, '.'); i >= 0 {
		basePath = query[:i] + "."
	}
	if format == "completer" {
		query = strings.ReplaceAll(query, "..", "*.")
		if !strings.HasSuffix(query, "*") {
			query += "*"
		}
	}
	matches, err := a.findNodes(r, query)
	if err != nil {
		a.writeError(w, r, err, nil)
		return
	}
	if leavesOnly != 0 {
		kept := matches[:0]
		for _, m := range matches {
			if m.Leaf {
				kept = append(kept, m)
			}
		}
		matches = kept
	}
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Cache-Control", "no-cache")
	switch format {
	case "treejson":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(appendTreeJSON(make([]byte, 0, 96*len(matches)+2), matches, basePath, wildcards != 0))
	case "completer":
		res := []map[string]string{}
		for _, m := range matches {
			path := m.Path
			leaf := "1"
			if m.Branch {
				path += "."
				leaf = "0"
			}
			res = append(res, map[string]string{"path": path, "name": m.Name(), "is_leaf": leaf})
		}
		if len(res) > 1 && wildcards != 0 {
			res = append(res, map[string]string{"name": "*"})
		}
		writeJSON(w, map[string]any{"metrics": res})
	case "nodelist":
		set := map[string]bool{}
		for _, m := range matches {
			parts := strings.Split(m.Path, ".")
			i := position
			if i < 0 {
				i += len(parts)
			}
			if i >= 0 && i < len(parts) {
				set[parts[i]] = true
			}
		}
		nodes := make([]string, 0, len(set))
		for n := range set {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		writeJSON(w, map[string]any{"nodes": nodes})
	case "json":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.appendFindJSON(make([]byte, 0, 128*len(matches)+2), r, matches, a.cfg.Now().Unix()))
	case "pickle", "msgpack":
		infos := a.findInfos(r, matches, a.cfg.Now().Unix(), format == "pickle")
		if format == "msgpack" {
			w.Header().Set("Content-Type", "application/x-msgpack")
			_, _ = w.Write(msgpackEncode(nil, infos))
			return
		}
		var buf bytes.Buffer
		if err := ogórek.NewEncoderWithConfig(&buf, &ogórek.EncoderConfig{Protocol: 3}).Encode(infos); err != nil {
			a.writeError(w, r, err, nil)
			return
		}
		w.Header().Set("Content-Type", "application/pickle")
		_, _ = w.Write(buf.Bytes())
	default:
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("Invalid value for 'format' parameter"))
	}
}

// nodeList splits matches into graphite's nodes: a path that is both a
// folder and a whisper file gives a branch node and a leaf node.
func nodeList(ms []index.Match) []index.Match {
	var out []index.Match
	for _, m := range ms {
		if m.Branch {
			out = append(out, m.AsBranch())
		}
		if m.Leaf {
			out = append(out, m.AsLeaf())
		}
	}
	return out
}

// intervals is graphite-web's WhisperReader.get_intervals: from now minus
// the retention to the file's mtime.
func (a *API) intervals(r *http.Request, m index.Match, now int64) (int64, int64, bool) {
	maxRetention, mtime, err := a.cfg.Store.Intervals(r.Context(), m)
	if err != nil {
		return 0, 0, false
	}
	start := now - maxRetention
	return start, max(mtime.Unix(), start), true
}

// findInfos is graphite-web's find answer for the cluster protocol: a
// dict per node, leaves with their intervals (tuples in a pickle, lists
// in msgpack).
func (a *API) findInfos(r *http.Request, matches []index.Match, now int64, pickle bool) []any {
	infos := []any{}
	for _, m := range nodeList(matches) {
		info := map[any]any{"path": m.Path, "is_leaf": m.Leaf}
		if m.Leaf {
			iv := []any{}
			if start, end, ok := a.intervals(r, m, now); ok {
				if pickle {
					iv = append(iv, ogórek.Tuple{start, end})
				} else {
					iv = append(iv, []any{start, end})
				}
			}
			info["intervals"] = iv
		}
		infos = append(infos, info)
	}
	return infos
}

// appendFindJSON appends the format=json find answer: what encoding/json
// gives for a list of {"path", "is_leaf", "intervals": [{"end", "start"}]}
// (intervals left out when there are none), one node per branch and per
// leaf as nodeList splits them.
func (a *API) appendFindJSON(b []byte, r *http.Request, matches []index.Match, now int64) []byte {
	b = append(b, '[')
	first := true
	node := func(m index.Match) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"path":`...)
		b = appendJSONStringCompat(b, m.Path)
		if !m.Leaf {
			b = append(b, `,"is_leaf":false}`...)
			return
		}
		b = append(b, `,"is_leaf":true`...)
		if start, end, ok := a.intervals(r, m, now); ok {
			b = append(b, `,"intervals":[{"end":`...)
			b = strconv.AppendInt(b, end, 10)
			b = append(b, `,"start":`...)
			b = strconv.AppendInt(b, start, 10)
			b = append(b, "}]"...)
		}
		b = append(b, '}')
	}
	for _, m := range matches {
		if m.Branch {
			node(m.AsBranch())
		}
		if m.Leaf {
			node(m.AsLeaf())
		}
	}
	return append(b, ']')
}

// appendTreeJSON appends the treejson find answer (graphite-web's
// tree_json): an optional "*" node, then the branches, then the leaves,
// each name once; the keys in encoding/json's (sorted) order.
func appendTreeJSON(b []byte, matches []index.Match, basePath string, wildcards bool) []byte {
	b = append(b, '[')
	first := true
	node := func(text, id string, branch bool) {
		if !first {
			b = append(b, ',')
		}
		first = false
		if branch {
			b = append(b, `{"allowChildren":1,"expandable":1,"id":`...)
		} else {
			b = append(b, `{"allowChildren":0,"expandable":0,"id":`...)
		}
		b = appendJSONStringCompat(b, id)
		if branch {
			b = append(b, `,"leaf":0,"text":`...)
		} else {
			b = append(b, `,"leaf":1,"text":`...)
		}
		b = appendJSONStringCompat(b, text)
		b = append(b, '}')
	}
	if len(matches) > 1 && wildcards {
		anyBranch := false
		for _, m := range matches {
			anyBranch = anyBranch || m.Branch
		}
		node("*", basePath+"*", anyBranch)
	}
	found := make(map[string]bool, len(matches))
	var leaves []index.Match
	for _, m := range matches {
		name := m.Name()
		if found[name] {
			continue // graphite-web lists each name once
		}
		found[name] = true
		if !m.Branch {
			leaves = append(leaves, m)
			continue
		}
		node(treeText(name), basePath+name, true)
	}
	for _, m := range leaves {
		node(treeText(m.Name()), basePath+m.Name(), false)
	}
	return append(b, ']')
}

// treeText is a node's display text: its name URL-unescaped.
func treeText(name string) string {
	if !strings.ContainsAny(name, "%+") {
		return name
	}
	text, err := url.QueryUnescape(name)
	if err != nil {
		return name
	}
	return text
}

// appendJSONStringCompat appends s as encoding/json (HTML escaping off)
// encodes it: printable ASCII directly, anything else through it.
func appendJSONStringCompat(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return appendJSONStringSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendJSONStringSlow(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}

func (a *API) expand(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		a.writeError(w, r, err, nil)
		return
	}
	groupBy, err1 := intParam(p, "groupByExpr", 0)
	leavesOnly, err2 := intParam(p, "leavesOnly", 0)
	if err1 != nil || err2 != nil {
		a.writeError(w, r, badRequest("groupByExpr and leavesOnly must be integers"), nil)
		return
	}
	grouped := map[string][]string{}
	all := map[string]bool{}
	for _, q := range p["query"] {
		ms, err := a.findNodes(r, q)
		if err != nil {
			a.writeError(w, r, err, nil)
			return
		}
		set := map[string]bool{}
		for _, m := range ms {
			if m.Leaf || leavesOnly == 0 {
				set[m.Path] = true
				all[m.Path] = true
			}
		}
		list := make([]string, 0, len(set))
		for k := range set {
			list = append(list, k)
		}
		sort.Strings(list)
		grouped[q] = list
	}
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Cache-Control", "no-cache")
	if groupBy != 0 {
		writeJSON(w, map[string]any{"results": grouped})
		return
	}
	list := make([]string, 0, len(all))
	for k := range all {
		list = append(list, k)
	}
	sort.Strings(list)
	writeJSON(w, map[string]any{"results": list})
}

func (a *API) indexJSON(w http.ResponseWriter, r *http.Request) {
	names := a.cfg.Store.Index.Names()
	b := make([]byte, 0, 32*len(names)+2)
	b = append(b, '[')
	for i, n := range names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendJSONString(b, n)
	}
	b = append(b, ']')
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (a *API) version(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(Version))
}

func funcInfo(f *render.Func) map[string]any {
	var sig []string
	for _, p := range f.Params {
		s := p.Keyword()
		if p.Multiple {
			s = "*" + s
		}
		switch {
		case p.SigDefault != "":
			s += "=" + p.SigDefault
		case p.Default != nil:
			s += "=" + toString(p.Default)
		case !p.Required && !p.Multiple:
			s += "=None"
		}
		sig = append(sig, s)
	}
	params := f.Params
	if params == nil {
		params = []render.Param{}
	}
	return map[string]any{
		"name":        f.Name,
		"function":    f.Name + "(" + strings.Join(sig, ", ") + ")",
		"description": f.Description,
		"module":      "graphite.render.functions",
		"group":       f.Group,
		"params":      params,
	}
}

// toString formats a default as Python's repr() shows it in a signature.
func toString(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + x + "'"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case float64:
		return render.PyRepr(x)
	case json.Number:
		if x == "1e9999" {
			return "inf"
		}
		return string(x)
	}
	return fmt.Sprint(v)
}

func (a *API) functions(w http.ResponseWriter, r *http.Request) {
	p, _ := params(r)
	grouped := false
	if g, ok := get(p, "grouped"); ok {
		grouped = strings.EqualFold(g, "true") || g == "1"
	}
	group, hasGroup := get(p, "group")
	out := map[string]any{}
	for _, name := range render.Names() {
		f, _ := render.Lookup(name)
		if hasGroup && f.Group != group {
			continue
		}
		if grouped {
			g, ok := out[f.Group].(map[string]any)
			if !ok {
				g = map[string]any{}
				out[f.Group] = g
			}
			g[name] = funcInfo(f)
		} else {
			out[name] = funcInfo(f)
		}
	}
	writeJSON(w, out)
}

func (a *API) function(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	f, ok := render.Lookup(name)
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error": "Function not found: ` + strings.ReplaceAll(name, `"`, ``) + `"}`))
		return
	}
	writeJSON(w, funcInfo(f))
}
