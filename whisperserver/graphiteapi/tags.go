package graphiteapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
	"github.com/gorilla/mux"
)

// The Graphite 1.1 tag API over the index's tag index, shaped as
// graphite-web 1.1.8's graphite/tags/views.py with its default
// LocalDatabaseTagDB answers. Errors are {"error": …} as its jsonResponse.

func (a *API) registerTags(r *mux.Router) {
	both := func(path string, h http.HandlerFunc) {
		r.Handle(path, h).Methods(http.MethodGet, http.MethodPost, http.MethodHead)
		r.Handle(path+"/", h).Methods(http.MethodGet, http.MethodPost, http.MethodHead)
	}
	both("/tags", a.tagList)
	both("/tags/findSeries", a.tagFindSeries)
	both("/tags/autoComplete/tags", a.tagAutoCompleteTags)
	both("/tags/autoComplete/values", a.tagAutoCompleteValues)
	// tagSeries, tagMultiSeries, delSeries: the folder is the truth here
	// (carbon registers nothing): graphite-web's 405 for GET, and a 400
	// saying so for POST.
	for _, p := range []string{"/tags/tagSeries", "/tags/tagMultiSeries", "/tags/delSeries"} {
		both(p, tagWrite)
	}
	r.Handle("/tags/{tag}", http.HandlerFunc(a.tagDetails)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/tags/{tag}/", http.HandlerFunc(a.tagDetails)).Methods(http.MethodGet, http.MethodHead)
}

func writeTagJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error": "encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeTagJSON(w, status, map[string]string{"error": msg})
}

// tagErr answers an index error: a bad expression or filter is a 400.
func tagErr(w http.ResponseWriter, err error) {
	var te *index.TagError
	if errors.As(err, &te) {
		jsonError(w, http.StatusBadRequest, te.Msg)
		return
	}
	jsonError(w, http.StatusInternalServerError, err.Error())
}

func tagWrite(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	jsonError(w, http.StatusBadRequest, "whisperserver is read-only: tagged series are found in the whisper folder")
}

// exprs returns the repeated expr (or expr[]) parameter.
func exprs(p map[string][]string) []string {
	if e := p["expr"]; len(e) > 0 {
		return e
	}
	return p["expr[]"]
}

// limitParam is graphite-web's int(limit): absent or empty is no limit.
func limitParam(w http.ResponseWriter, p map[string][]string) (int, bool) {
	s, ok := get(p, "limit")
	if !ok || s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "invalid literal for int() with base 10: '"+s+"'")
		return 0, false
	}
	return n, true
}

type tagInfo struct {
	ID  int    `json:"id"`
	Tag string `json:"tag"`
}

type valueInfo struct {
	ID    int    `json:"id"`
	Value string `json:"value"`
	Count int    `json:"count"`
}

func (a *API) tagParams(w http.ResponseWriter, r *http.Request) (map[string][]string, bool) {
	p, err := params(r)
	if err != nil {
		a.writeError(w, r, err, nil)
		return nil, false
	}
	return p, true
}

// tagList is /tags?filter=&limit=: [{"id", "tag"}…] sorted by tag. The
// ids are positions in the sorted list (graphite-web's are its database's
// row ids).
func (a *API) tagList(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	p, ok := a.tagParams(w, r)
	if !ok {
		return
	}
	limit, ok := limitParam(w, p)
	if !ok {
		return
	}
	filter, _ := get(p, "filter")
	tags, err := a.cfg.Store.Index.Tags(filter, limit)
	if err != nil {
		tagErr(w, err)
		return
	}
	out := make([]tagInfo, 0, len(tags))
	for i, t := range tags {
		out = append(out, tagInfo{i + 1, t})
	}
	writeTagJSON(w, http.StatusOK, out)
}

// tagDetails is /tags/<tag>?filter=&limit=: {"id", "tag", "values"} or null.
func (a *API) tagDetails(w http.ResponseWriter, r *http.Request) {
	p, ok := a.tagParams(w, r)
	if !ok {
		return
	}
	limit, ok := limitParam(w, p)
	if !ok {
		return
	}
	tag := mux.Vars(r)["tag"]
	filter, _ := get(p, "filter")
	vals, found, err := a.cfg.Store.Index.TagValues(tag, filter, limit)
	if err != nil {
		tagErr(w, err)
		return
	}
	if !found {
		writeTagJSON(w, http.StatusOK, nil)
		return
	}
	out := struct {
		ID     int         `json:"id"`
		Tag    string      `json:"tag"`
		Values []valueInfo `json:"values"`
	}{ID: 1, Tag: tag, Values: make([]valueInfo, 0, len(vals))}
	for i, v := range vals {
		out.Values = append(out.Values, valueInfo{i + 1, v.Value, v.Count})
	}
	writeTagJSON(w, http.StatusOK, out)
}

// tagFindSeries is /tags/findSeries?expr=…: the matching series, sorted.
func (a *API) tagFindSeries(w http.ResponseWriter, r *http.Request) {
	p, ok := a.tagParams(w, r)
	if !ok {
		return
	}
	e := exprs(p)
	if len(e) == 0 {
		jsonError(w, http.StatusBadRequest, "no tag expressions specified")
		return
	}
	series, err := a.cfg.Store.Index.FindSeries(e)
	if err != nil {
		tagErr(w, err)
		return
	}
	writeTagJSON(w, http.StatusOK, series)
}

// tagAutoCompleteTags is /tags/autoComplete/tags?expr=…&tagPrefix=&limit=
// (from/until are accepted and, as by graphite-web's local tag database,
// not used).
func (a *API) tagAutoCompleteTags(w http.ResponseWriter, r *http.Request) {
	p, ok := a.tagParams(w, r)
	if !ok {
		return
	}
	limit, ok := limitParam(w, p)
	if !ok {
		return
	}
	prefix, _ := get(p, "tagPrefix")
	out, err := a.cfg.Store.Index.AutoCompleteTags(exprs(p), prefix, limit)
	if err != nil {
		tagErr(w, err)
		return
	}
	writeTagJSON(w, http.StatusOK, out)
}

// tagAutoCompleteValues is /tags/autoComplete/values?tag=&expr=…&valuePrefix=&limit=.
func (a *API) tagAutoCompleteValues(w http.ResponseWriter, r *http.Request) {
	p, ok := a.tagParams(w, r)
	if !ok {
		return
	}
	tag, _ := get(p, "tag")
	if tag == "" {
		jsonError(w, http.StatusBadRequest, "no tag specified")
		return
	}
	limit, ok := limitParam(w, p)
	if !ok {
		return
	}
	prefix, _ := get(p, "valuePrefix")
	out, err := a.cfg.Store.Index.AutoCompleteValues(exprs(p), tag, prefix, limit)
	if err != nil {
		tagErr(w, err)
		return
	}
	writeTagJSON(w, http.StatusOK, out)
}
