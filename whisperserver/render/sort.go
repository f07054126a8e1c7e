package render

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
)

func sortFunctions() []*Func {
	return []*Func{
		{Name: "sortByName", Group: "Sorting", Params: []Param{pSeries, {Name: "natural", Type: "boolean", Default: false}, {Name: "reverse", Type: "boolean", Default: false}}, Fn: fnSortByName},
	}
}

var digitRun = regexp.MustCompile(`\d+`)

// naturalKey pads every digit run so that names sort by number value.
func naturalKey(s *Series) string {
	return digitRun.ReplaceAllStringFunc(s.Name, func(d string) string {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return d
		}
		return fmt.Sprintf("%010d", n)
	})
}

func fnSortByName(a *args) ([]*Series, error) {
	list := a.series(0)
	key := func(s *Series) string { return s.Name }
	if a.boolean(1, false) {
		key = naturalKey
	}
	rev := a.boolean(2, false)
	sort.SliceStable(list, func(i, j int) bool {
		if rev {
			return key(list[i]) > key(list[j])
		}
		return key(list[i]) < key(list[j])
	})
	return list, nil
}
