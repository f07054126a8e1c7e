package render

import (
	"math"
	"regexp"
	"strings"
)

func aliasFunctions() []*Func {
	return []*Func{
		{Name: "alias", Group: "Alias", Params: []Param{pSeries, {Name: "newName", Type: "string", Required: true}}, Fn: fnAlias},
		{Name: "aliasByNode", Group: "Alias", Params: []Param{pSeries, {Name: "nodes", Type: "nodeOrTag", Required: true, Multiple: true}}, Fn: fnAliasByNode},
		{Name: "aliasSub", Group: "Alias", Params: []Param{pSeries, {Name: "search", Type: "string", Required: true}, {Name: "replace", Type: "string", Required: true}}, Fn: fnAliasSub},
		{Name: "aliasByMetric", Group: "Alias", Params: []Param{pSeries}, Fn: fnAliasByMetric},
		{Name: "aliasQuery", Group: "Alias", Params: []Param{pSeries, {Name: "search", Type: "string", Required: true}, {Name: "replace", Type: "string", Required: true}, {Name: "newName", Type: "string", Required: true}}, Fn: fnAliasQuery},
		{Name: "substr", Group: "Special", Params: []Param{pSeries, {Name: "start", Type: "node", Default: 0}, {Name: "stop", Type: "node", Default: 0}}, Fn: fnSubstr},
	}
}

func fnAlias(a *args) ([]*Series, error) {
	out := a.series(0)
	for _, s := range out {
		s.Name = a.str(1, "")
	}
	return out, nil
}

func fnAliasByNode(a *args) ([]*Series, error) {
	out := a.series(0)
	for _, s := range out {
		if err := nodesInRange(s, a.extra); err != nil {
			return nil, a.errf("%v", err)
		}
		s.Name = aggKey(s, a.extra)
	}
	return out, nil
}

func fnAliasSub(a *args) ([]*Series, error) {
	re, err := regexp.Compile(a.str(1, ""))
	if err != nil {
		return nil, a.errf("bad regular expression: %v", err)
	}
	repl := pyReplacement(a.str(2, ""))
	out := a.series(0)
	for _, s := range out {
		s.Name = re.ReplaceAllString(s.Name, repl)
	}
	return out, nil
}

// fnAliasByMetric names each series by the last node of the metric path
// inside the innermost call of its name.
func fnAliasByMetric(a *args) ([]*Series, error) {
	out := a.series(0)
	for _, s := range out {
		name := s.Name
		left := strings.LastIndexByte(name, '(') + 1
		right := strings.IndexByte(name, ')')
		if right < 0 {
			right = len(name)
		}
		clean := ""
		if left <= right {
			clean = name[left:right]
		}
		parts := strings.Split(clean, ".")
		n := parts[len(parts)-1]
		if i := strings.IndexByte(n, ','); i >= 0 {
			n = n[:i]
		}
		s.Name = n
	}
	return out, nil
}

// fnAliasQuery names each series by newName %-formatted with the last
// value of the series its name, rewritten by search/replace, queries.
func fnAliasQuery(a *args) ([]*Series, error) {
	re, err := regexp.Compile(a.str(1, ""))
	if err != nil {
		return nil, a.errf("bad regular expression: %v", err)
	}
	repl := pyReplacement(a.str(2, ""))
	out := a.series(0)
	for _, s := range out {
		q := re.ReplaceAllString(s.Name, repl)
		list, err := a.evalTarget(q)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, a.errf("No series found with query: %s", q)
		}
		cur := lastOf(list[0].Points())
		if math.IsNaN(cur) {
			// graphite-web adds a series to a string here: a TypeError.
			return nil, a.errf("Cannot get last value of series: %s", list[0].Name)
		}
		name, err := pyPercent(a.str(3, ""), cur)
		if err != nil {
			return nil, a.errf("newName: %v", err)
		}
		s.Name = name
	}
	return out, nil
}

var afterComma = regexp.MustCompile(`,.*$`)

// fnSubstr keeps nodes start..stop of the innermost path in each name.
func fnSubstr(a *args) ([]*Series, error) {
	start, stop := int(a.num(1, 0)), int(a.num(2, 0))
	out := a.series(0)
	for _, s := range out {
		left := strings.LastIndex(s.Name, "(") + 1
		right := strings.Index(s.Name, ")")
		if right < 0 {
			right = len(s.Name)
		}
		clean := ""
		if left < right {
			clean = s.Name[left:right]
		}
		s.Name = strings.Join(pySlice(strings.Split(clean, "."), start, stop, false, stop != 0), ".")
		s.Name = afterComma.ReplaceAllString(s.Name, "")
	}
	return out, nil
}
