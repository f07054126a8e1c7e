package render

import (
	"sort"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// Graphite 1.1 tag functions: seriesByTag, aliasByTags, groupByTags, and
// the tags every series carries (graphite-web's TimeSeries.tags).

func tagFunctions() []*Func {
	return []*Func{
		{Name: "seriesByTag", Group: "Special", Params: []Param{{Name: "tagExpressions", Type: "string", Required: true, Multiple: true}}, Fn: fnSeriesByTag},
		{Name: "aliasByTags", Group: "Alias", Params: []Param{pSeries, {Name: "tags", Type: "nodeOrTag", Required: true, Multiple: true}}, Fn: fnAliasByNode},
		{Name: "groupByTags", Group: "Combine", Params: []Param{pSeries, {Name: "callback", Type: "aggOrSeriesFunc", Required: true, Options: groupCallbacks}, {Name: "tags", Type: "tag", Required: true, Multiple: true}}, Fn: fnGroupByTags},
	}
}

// SeriesByTagPrefix starts the pattern a seriesByTag call is fetched by:
// as graphite-web's evaluator does, the whole call as written goes to the
// fetcher, which resolves it through the tag index.
const SeriesByTagPrefix = "seriesByTag("

// fnSeriesByTag fetches the call itself as a pattern; the series'
// pathExpression is the call as written.
func fnSeriesByTag(a *args) ([]*Series, error) {
	raw := a.call.Raw
	if raw == "" || !strings.HasPrefix(raw, SeriesByTagPrefix) {
		raw = a.call.String()
	}
	return a.ctx.fetch(raw)
}

// TagExprs returns the string arguments of a seriesByTag pattern (as
// graphite-web's Store._tag_patterns); ok is false for anything else.
func TagExprs(pattern string) (exprs []string, ok bool) {
	if !strings.HasPrefix(pattern, SeriesByTagPrefix) {
		return nil, false
	}
	e, err := Parse(pattern)
	if err != nil || e.Kind != KindCall || e.Func != "seriesByTag" {
		return nil, false
	}
	for _, a := range e.Args {
		if a.Kind == KindString {
			exprs = append(exprs, a.Str)
		}
	}
	return exprs, true
}

// ParseTags returns the tags of a series name as graphite-web's
// TaggedSeries.parse gives them: a tagged name's tags plus "name", or
// just {"name": name}.
func ParseTags(name string) map[string]string {
	if metricpath.IsTagged(name) {
		if base, tags, err := metricpath.ParseTagged(name); err == nil {
			m := make(map[string]string, len(tags)+1)
			for _, t := range tags {
				m[t.Key] = t.Value
			}
			m["name"] = base
			return m
		}
	}
	return map[string]string{"name": name}
}

// fnGroupByTags is graphite-web's groupByTags: series grouped by the
// values of the given tags, each group combined by the callback and named
// name;tag=value;… (name is the shared name tag, else the callback).
func fnGroupByTags(a *args) ([]*Series, error) {
	callback := a.str(1, "")
	fn := strings.TrimSuffix(callback, "Series")
	if _, ok := aggFuncs[fn]; !ok {
		return nil, a.errf("Unsupported aggregation function: %s", callback)
	}
	var tags []string
	byName := false
	for _, v := range a.extra {
		if v.Kind != KindString {
			return nil, a.errf("tags: expected tag names")
		}
		if v.Str == "name" {
			byName = true
		}
		tags = append(tags, v.Str)
	}
	if len(tags) == 0 {
		return nil, a.errf("groupByTags(): no tags specified")
	}
	series := a.series(0)
	name := callback
	if !byName {
		names := map[string]bool{}
		for _, s := range series {
			names[s.TagMap()["name"]] = true
		}
		if len(names) == 1 {
			for n := range names {
				name = n
			}
		}
	}
	var keys []string
	groups := map[string][]*Series{}
	for _, s := range series {
		st := s.TagMap()
		parts := make([]string, 0, len(tags))
		for _, t := range tags {
			if t == "name" {
				continue
			}
			if st[t] == "" {
				// graphite-web fails here too (a 500 from TaggedSeries.parse)
				return nil, a.errf("Value for tag %q may not be empty (series %s has no tag %s)", t, s.Name, t)
			}
			parts = append(parts, t+"="+st[t])
		}
		sort.Strings(parts)
		base := name
		if byName {
			base = st["name"]
		}
		k := strings.Join(append([]string{base}, parts...), ";")
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	out := make([]*Series, 0, len(keys))
	for _, k := range keys {
		res := aggregate(a.ctx, [][]*Series{groups[k]}, fn, a.ctx.XFilesFactor)
		if len(res) == 0 {
			continue
		}
		r := res[0]
		r.Name, r.PathExpression, r.Tags = k, k, ParseTags(k)
		out = append(out, r)
	}
	return out, nil
}
