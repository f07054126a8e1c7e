package render

import (
	"regexp"
	"strings"
)

func aliasFunctions() []*Func {
	return []*Func{
		{Name: "alias", Group: "Alias", Params: []Param{pSeries, {Name: "newName", Type: "string", Required: true}}, Fn: fnAlias},
		{Name: "aliasByNode", Group: "Alias", Params: []Param{pSeries, {Name: "nodes", Type: "nodeOrTag", Required: true, Multiple: true}}, Fn: fnAliasByNode},
		{Name: "aliasSub", Group: "Alias", Params: []Param{pSeries, {Name: "search", Type: "string", Required: true}, {Name: "replace", Type: "string", Required: true}}, Fn: fnAliasSub},
		{Name: "aliasByMetric", Group: "Alias", Params: []Param{pSeries}, Fn: fnAliasByMetric},
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
