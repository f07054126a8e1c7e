package index

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// TaggedDir is the top-level folder carbon 1.1 keeps tagged series in.
const TaggedDir = metricpath.TaggedDir

// tagIndex maps tag → value → series, for the Graphite tag API. Series are
// the normalised tagged names found under _tagged/ (metricpath.Name). It is
// kept by Index.apply under Index.mu, like the name tree.
//
// As carbon 1.1 registers every series it receives with graphite-web's tag
// database, an untagged metric is a series too, with its one tag "name".
// Those are not copied here (a million names would cost ~370 bytes each):
// queries see them through a plainView of the name tree's sorted list.
type tagIndex struct {
	series map[string][]metricpath.Tag           // name → its tags, "name" first, then sorted by key
	byTag  map[string]map[string]map[string]bool // tag → value → series set
	// sorted caches, nil when stale
	tagList   []string
	valueList map[string][]string
}

func newTagIndex() *tagIndex {
	return &tagIndex{series: map[string][]metricpath.Tag{}, byTag: map[string]map[string]map[string]bool{}}
}

// plainView gives tag queries the untagged metrics: names is the index's
// sorted name list (Index.Names), has reports one name; x.mu held.
type plainView struct {
	names []string
	has   func(string) bool
}

func (p plainView) contains(name string) bool {
	return !metricpath.IsTagged(name) && p.has != nil && p.has(name)
}

// each calls fn for every untagged name (names with ';' outside _tagged/,
// an old layout, are not series of the tag API) until fn returns false.
func (p plainView) each(fn func(string) bool) {
	for _, n := range p.names {
		if !metricpath.IsTagged(n) && !fn(n) {
			return
		}
	}
}

// seriesTags parses a normalised tagged name into its tags with "name".
func seriesTags(series string) ([]metricpath.Tag, bool) {
	name, tags, err := metricpath.ParseTagged(series)
	if err != nil {
		return nil, false
	}
	out := make([]metricpath.Tag, 0, len(tags)+1)
	out = append(out, metricpath.Tag{Key: "name", Value: name})
	for _, t := range tags {
		if t.Key != "name" {
			out = append(out, t)
		}
	}
	return out, true
}

func (t *tagIndex) add(series string) {
	if _, ok := t.series[series]; ok {
		return
	}
	tags, ok := seriesTags(series)
	if !ok {
		return
	}
	t.series[series] = tags
	for _, tg := range tags {
		vals := t.byTag[tg.Key]
		if vals == nil {
			vals = map[string]map[string]bool{}
			t.byTag[tg.Key] = vals
			t.tagList = nil
		}
		set := vals[tg.Value]
		if set == nil {
			set = map[string]bool{}
			vals[tg.Value] = set
			if t.valueList != nil {
				delete(t.valueList, tg.Key)
			}
		}
		set[series] = true
	}
}

func (t *tagIndex) remove(series string) {
	tags, ok := t.series[series]
	if !ok {
		return
	}
	delete(t.series, series)
	for _, tg := range tags {
		vals := t.byTag[tg.Key]
		set := vals[tg.Value]
		delete(set, series)
		if len(set) == 0 {
			delete(vals, tg.Value)
			if t.valueList != nil {
				delete(t.valueList, tg.Key)
			}
		}
		if len(vals) == 0 {
			delete(t.byTag, tg.Key)
			t.tagList = nil
		}
	}
}

// sortedTags returns every tag, sorted (cached).
func (t *tagIndex) sortedTags() []string {
	if t.tagList == nil {
		l := make([]string, 0, len(t.byTag))
		for k := range t.byTag {
			l = append(l, k)
		}
		sort.Strings(l)
		t.tagList = l
	}
	return t.tagList
}

// sortedValues returns the values of tag, sorted (cached).
func (t *tagIndex) sortedValues(tag string) []string {
	if t.valueList == nil {
		t.valueList = map[string][]string{}
	}
	l, ok := t.valueList[tag]
	if !ok {
		vals := t.byTag[tag]
		l = make([]string, 0, len(vals))
		for v := range vals {
			l = append(l, v)
		}
		sort.Strings(l)
		t.valueList[tag] = l
	}
	return l
}

// TagError is an invalid tag expression or filter (graphite-web's
// ValueError, a 400 with {"error": …}).
type TagError struct{ Msg string }

func (e *TagError) Error() string { return e.Msg }

// TagExpr is one parsed seriesByTag / findSeries expression.
type TagExpr struct {
	Tag, Op, Spec string
	re            *regexp.Regexp
	matchesEmpty  bool
}

var tagSpecRE = regexp.MustCompile(`^([^;!=]+)(!?=~?)([^;]*)$`)

// ParseTagExpr parses tag=spec, tag!=spec, tag=~re, tag!=~re as
// graphite-web's BaseTagDB.parse_tagspec and LocalDatabaseTagDB do
// (regular expressions anchored at the start of the value).
func ParseTagExpr(s string) (TagExpr, error) {
	m := tagSpecRE.FindStringSubmatch(s)
	if m == nil {
		return TagExpr{}, &TagError{"Invalid tagspec " + s}
	}
	e := TagExpr{Tag: m[1], Op: m[2], Spec: m[3]}
	switch e.Op {
	case "=":
		e.matchesEmpty = e.Spec == ""
	case "!=":
		e.matchesEmpty = e.Spec != ""
	case "=~", "!=~":
		re, err := compileAnchored(e.Spec)
		if err != nil {
			return TagExpr{}, &TagError{fmt.Sprintf("Invalid regular expression %q in tagspec %s: %v", e.Spec, s, err)}
		}
		e.re = re
		e.matchesEmpty = re.MatchString("") == (e.Op == "=~")
	default:
		return TagExpr{}, &TagError{"Invalid operator " + e.Op}
	}
	return e, nil
}

// compileAnchored compiles a regular expression anchored at the start of
// the value as graphite-web does ('^(' + spec + ')' unless it starts with ^).
func compileAnchored(spec string) (*regexp.Regexp, error) {
	if !strings.HasPrefix(spec, "^") {
		spec = "^(" + spec + ")"
	}
	return regexp.Compile(spec)
}

// Match reports whether a value ("" for a series without the tag) matches.
func (e TagExpr) Match(value string) bool {
	switch e.Op {
	case "=":
		return value == e.Spec
	case "!=":
		return value != e.Spec
	case "=~":
		return e.re.MatchString(value)
	default:
		return !e.re.MatchString(value)
	}
}

// valueSets returns the series sets of the values of e.Tag that e matches,
// and their total size; x.mu held.
func (t *tagIndex) valueSets(e TagExpr) (sets []map[string]bool, size int) {
	vals := t.byTag[e.Tag]
	if e.Op == "=" {
		if set := vals[e.Spec]; set != nil {
			return []map[string]bool{set}, len(set)
		}
		return nil, 0
	}
	for v, set := range vals {
		if e.Match(v) {
			sets = append(sets, set)
			size += len(set)
		}
	}
	return sets, size
}

func tagValue(tags []metricpath.Tag, key string) string {
	for _, t := range tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// findSeries is graphite-web's LocalDatabaseTagDB._find_series, sorted;
// x.mu held.
func (t *tagIndex) findSeries(exprs []TagExpr, p plainView) ([]string, error) {
	out, err := t.matchSeries(exprs, p)
	sort.Strings(out)
	return out, err
}

// matchSeries returns the series matching every expression, unsorted:
// it walks the series of the most selective expression that does not
// match the empty value (a series has one value per tag, so none is seen
// twice) and checks the others against each series' own values (a
// series without a tag has the value ""); x.mu held.
func (t *tagIndex) matchSeries(exprs []TagExpr, p plainView) ([]string, error) {
	out := []string{}
	err := t.eachMatch(exprs, p, func(s string, _ []metricpath.Tag) bool { out = append(out, s); return true })
	return out, err
}

// eachMatch calls fn for each series matching every expression (see
// matchSeries), with its tags, until fn returns false. An untagged metric
// has only the tag name, so it can match only when the walked expression
// is on name: then the untagged names it selects are walked too; x.mu held.
func (t *tagIndex) eachMatch(exprs []TagExpr, p plainView, fn func(series string, tags []metricpath.Tag) bool) error {
	driver, best := -1, 0
	var driverSets []map[string]bool
	for i, e := range exprs {
		if e.matchesEmpty {
			continue
		}
		sets, size := t.valueSets(e)
		if e.Tag == "name" {
			if e.Op == "=" {
				size++
			} else {
				size += len(p.names) // an upper bound, not evaluated
			}
		}
		if driver < 0 || size < best {
			driver, best, driverSets = i, size, sets
		}
	}
	if driver < 0 {
		return &TagError{"At least one tagspec must not match the empty string"}
	}
	rest := make([]TagExpr, 0, len(exprs)-1)
	memo := make([]map[string]bool, 0, len(exprs)-1)
	for i, e := range exprs {
		if i != driver {
			rest = append(rest, e)
			memo = append(memo, map[string]bool{})
		}
	}
	others := func(tags []metricpath.Tag) bool {
		for i, e := range rest {
			v := tagValue(tags, e.Tag)
			ok, seen := memo[i][v]
			if !seen {
				ok = e.Match(v)
				memo[i][v] = ok
			}
			if !ok {
				return false
			}
		}
		return true
	}
	for _, set := range driverSets {
		for s := range set {
			tags := t.series[s]
			if others(tags) && !fn(s, tags) {
				return nil
			}
		}
	}
	if d := exprs[driver]; d.Tag == "name" {
		plain := func(n string) bool {
			tags := []metricpath.Tag{{Key: "name", Value: n}}
			return !others(tags) || fn(n, tags)
		}
		if d.Op == "=" {
			if p.contains(d.Spec) {
				plain(d.Spec)
			}
			return nil
		}
		p.each(func(n string) bool { return !d.Match(n) || plain(n) })
	}
	return nil
}

func parseTagExprs(exprs []string) ([]TagExpr, error) {
	out := make([]TagExpr, 0, len(exprs))
	for _, s := range exprs {
		e, err := ParseTagExpr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// FindSeries returns the tagged series matching every expression, sorted
// (graphite-web's /tags/findSeries and seriesByTag).
func (x *Index) FindSeries(exprs []string) ([]string, error) {
	es, err := parseTagExprs(exprs)
	if err != nil {
		return nil, err
	}
	p := x.plain()
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.tags.findSeries(es, p)
}

// plain returns the view of the untagged metrics; call it without x.mu.
func (x *Index) plain() plainView {
	return plainView{names: x.Names(), has: x.isLeaf}
}

// hasPlain reports whether any untagged metric exists (the tag name then
// exists even without tagged series).
func (p plainView) hasPlain() bool {
	found := false
	p.each(func(string) bool { found = true; return false })
	return found
}

// allTags is the sorted tag list with "name" when untagged metrics exist;
// x.mu held for writing (the cache).
func (x *Index) allTags(p plainView) []string {
	tags := x.tags.sortedTags()
	if _, ok := x.tags.byTag["name"]; ok || !p.hasPlain() {
		return tags
	}
	i := sort.SearchStrings(tags, "name")
	out := make([]string, 0, len(tags)+1)
	out = append(append(append(out, tags[:i]...), "name"), tags[i:]...)
	return out
}

// eachValue calls fn for tag's values from the first one >= from, in
// order, with their series counts (name: untagged metrics count as
// series), until fn returns false; x.mu held for writing (the cache).
func (x *Index) eachValue(tag, from string, p plainView, fn func(v string, count int) bool) {
	vals := x.tags.byTag[tag]
	tagged := x.tags.sortedValues(tag)
	tagged = tagged[sort.SearchStrings(tagged, from):]
	var plain []string
	if tag == "name" {
		plain = p.names[sort.SearchStrings(p.names, from):]
	}
	for len(tagged) > 0 || len(plain) > 0 {
		if len(plain) > 0 && metricpath.IsTagged(plain[0]) {
			plain = plain[1:]
			continue
		}
		var v string
		n := 0
		switch {
		case len(plain) == 0 || (len(tagged) > 0 && tagged[0] < plain[0]):
			v, n, tagged = tagged[0], len(vals[tagged[0]]), tagged[1:]
		case len(tagged) == 0 || plain[0] < tagged[0]:
			v, n, plain = plain[0], 1, plain[1:]
		default: // both
			v, n, tagged, plain = tagged[0], len(vals[tagged[0]])+1, tagged[1:], plain[1:]
		}
		if !fn(v, n) {
			return
		}
	}
}

// TaggedCount is the number of tagged series indexed.
func (x *Index) TaggedCount() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.tags.series)
}

// SeriesTags returns a tagged series' tags ("name" first, then by key);
// ok is false when the series is not indexed.
func (x *Index) SeriesTags(series string) ([]metricpath.Tag, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	t, ok := x.tags.series[series]
	return t, ok
}

// TaggedNames returns every tagged series (name;k=v…), sorted.
func (x *Index) TaggedNames() []string {
	x.mu.RLock()
	out := []string{}
	for s := range x.tags.series {
		if metricpath.IsTagged(s) {
			out = append(out, s)
		}
	}
	x.mu.RUnlock()
	sort.Strings(out)
	return out
}

// filterRE compiles a tag or value filter, anchored as graphite-web does;
// "" is no filter.
func filterRE(filter string) (*regexp.Regexp, error) {
	if filter == "" {
		return nil, nil
	}
	re, err := compileAnchored(filter)
	if err != nil {
		return nil, &TagError{fmt.Sprintf("Invalid filter %q: %v", filter, err)}
	}
	return re, nil
}

// Tags lists the tags (sorted), those matching filter (a regular
// expression anchored at the start) when given, at most limit (> 0).
func (x *Index) Tags(filter string, limit int) ([]string, error) {
	re, err := filterRE(filter)
	if err != nil {
		return nil, err
	}
	p := x.plain()
	x.mu.Lock() // the sorted cache may be rebuilt
	defer x.mu.Unlock()
	var out []string
	for _, t := range x.allTags(p) {
		if limit > 0 && len(out) >= limit {
			break
		}
		if re == nil || re.MatchString(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// TagValue is one value of a tag and the number of series with it.
type TagValue struct {
	Value string
	Count int
}

// TagValues lists tag's values (sorted) with their series counts,
// filtered and limited as Tags; ok is false for an unknown tag.
func (x *Index) TagValues(tag, filter string, limit int) (vals []TagValue, ok bool, err error) {
	re, err := filterRE(filter)
	if err != nil {
		return nil, false, err
	}
	p := x.plain()
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.tags.byTag[tag]; !ok && (tag != "name" || !p.hasPlain()) {
		return nil, false, nil
	}
	out := []TagValue{}
	x.eachValue(tag, "", p, func(v string, n int) bool {
		if limit > 0 && len(out) >= limit {
			return false
		}
		if re == nil || re.MatchString(v) {
			out = append(out, TagValue{v, n})
		}
		return true
	})
	return out, true, nil
}

// insertSorted keeps result sorted, unique and at most limit long, as
// graphite-web's auto_complete_* loops do.
func insertSorted(result []string, v string, limit int) []string {
	i := sort.SearchStrings(result, v)
	if i < len(result) && result[i] == v {
		return result
	}
	if i >= limit {
		return result
	}
	result = append(result, "")
	copy(result[i+1:], result[i:])
	result[i] = v
	if len(result) > limit {
		result = result[:limit]
	}
	return result
}

// AutoCompleteTags is graphite-web's auto_complete_tags: without
// expressions the tags starting with prefix; with them, the other tags of
// the matching series. Sorted, at most limit (100 when limit <= 0).
func (x *Index) AutoCompleteTags(exprs []string, prefix string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	p := x.plain()
	if len(exprs) == 0 {
		out := []string{}
		x.mu.Lock()
		defer x.mu.Unlock()
		for _, t := range x.allTags(p) {
			if len(out) >= limit {
				break
			}
			if strings.HasPrefix(t, prefix) {
				out = append(out, t)
			}
		}
		return out, nil
	}
	es, err := parseTagExprs(exprs)
	if err != nil {
		return nil, err
	}
	searched := map[string]bool{}
	for _, e := range es {
		searched[e.Tag] = true
	}
	// One walk of the matching series, ended as soon as every candidate
	// tag was seen; the answer is the first limit found, in tag order.
	x.mu.Lock() // sortedTags may rebuild its cache
	defer x.mu.Unlock()
	want := map[string]bool{}
	for _, t := range x.allTags(p) {
		if !searched[t] && strings.HasPrefix(t, prefix) {
			want[t] = false
		}
	}
	left := len(want)
	err = x.tags.eachMatch(es, p, func(_ string, tags []metricpath.Tag) bool {
		for _, t := range tags {
			if seen, ok := want[t.Key]; ok && !seen {
				want[t.Key] = true
				left--
			}
		}
		return left > 0
	})
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, t := range x.allTags(p) {
		if want[t] && len(out) < limit {
			out = append(out, t)
		}
	}
	return out, nil
}

// AutoCompleteValues is graphite-web's auto_complete_values: the values of
// tag (starting with prefix) among the series matching exprs (all series
// with the tag when there are none). Sorted, at most limit (100 when <= 0).
func (x *Index) AutoCompleteValues(exprs []string, tag, prefix string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = 100
	}
	p := x.plain()
	if len(exprs) == 0 {
		out := []string{}
		x.mu.Lock()
		defer x.mu.Unlock()
		x.eachValue(tag, prefix, p, func(v string, _ int) bool {
			if len(out) >= limit || !strings.HasPrefix(v, prefix) {
				return false
			}
			out = append(out, v)
			return true
		})
		return out, nil
	}
	es, err := parseTagExprs(append(append([]string{}, exprs...), tag+"!="))
	if err != nil {
		return nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := []string{}
	err = x.tags.eachMatch(es, p, func(_ string, tags []metricpath.Tag) bool {
		if v := tagValue(tags, tag); v != "" && strings.HasPrefix(v, prefix) {
			out = insertSorted(out, v, limit)
		}
		return true
	})
	return out, err
}
