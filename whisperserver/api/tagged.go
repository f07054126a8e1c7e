package api

import (
	"net/http"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// taggedSeries is one tagged series of /api/tagged.
type taggedSeries struct {
	Series string            `json:"series"`
	Tags   map[string]string `json:"tags"`
}

// taggedGroup is the tagged series sharing one name.
type taggedGroup struct {
	Name   string         `json:"name"`
	Series []taggedSeries `json:"series"`
}

// tagged is GET /api/tagged?q=TERMS: the tagged series (name;k=v…),
// grouped by name, sorted. Every term must match: k=v is a tag (or
// name=…) equal to v, any other term a case-insensitive substring of the
// series. At most max_find series are listed; total counts all matches.
func (a *API) tagged(w http.ResponseWriter, r *http.Request) {
	terms := strings.Fields(r.URL.Query().Get("q"))
	ix := a.cfg.Store.Index
	groups := []taggedGroup{}
	total, listed := 0, 0
	for i, s := range ix.TaggedNames() {
		if i%4096 == 0 && r.Context().Err() != nil {
			return
		}
		tags, ok := ix.SeriesTags(s)
		if !ok || !taggedMatch(s, tags, terms) {
			continue
		}
		total++
		if a.cfg.MaxFind > 0 && listed >= a.cfg.MaxFind {
			continue
		}
		listed++
		m := make(map[string]string, len(tags))
		name := ""
		for _, t := range tags {
			if t.Key == "name" {
				name = t.Value
			} else {
				m[t.Key] = t.Value
			}
		}
		if n := len(groups); n == 0 || groups[n-1].Name != name {
			groups = append(groups, taggedGroup{Name: name})
		}
		g := &groups[len(groups)-1]
		g.Series = append(g.Series, taggedSeries{Series: s, Tags: m})
	}
	WriteJSON(w, http.StatusOK, map[string]any{"groups": groups, "total": total, "truncated": listed < total})
}

func taggedMatch(series string, tags []metricpath.Tag, terms []string) bool {
	lower := strings.ToLower(series)
	for _, term := range terms {
		if k, v, ok := strings.Cut(term, "="); ok && k != "" {
			found := false
			for _, t := range tags {
				if t.Key == k && t.Value == v {
					found = true
					break
				}
			}
			if !found {
				return false
			}
			continue
		}
		if !strings.Contains(lower, strings.ToLower(term)) {
			return false
		}
	}
	return true
}
