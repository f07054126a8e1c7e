package index

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// TaggedDir is the top-level folder carbon 1.1 keeps tagged series in.
const TaggedDir = metricpath.TaggedDir

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

// exprPlan is one expression evaluated over its tag's distinct values.
type exprPlan struct {
	e TagExpr
	c *tagColumn // nil: no tagged series has the tag
	// memo: value id → 0 not evaluated yet, 1 matches, 2 does not.
	memo []uint8
	vids []uint32 // the matching value ids, when evaluated in full
	size int      // series with a matching value, when evaluated in full
	full bool
}

// planExpr prepares e; an "=" expression and, when full, any other is
// evaluated over every value at once (its size then known); otherwise
// values are evaluated as series meet them.
func (t *tagIndex) planExpr(e TagExpr, full bool) exprPlan {
	p := exprPlan{e: e, c: t.byTag[e.Tag]}
	if p.c == nil {
		p.full = true
		return p
	}
	if e.Op == "=" {
		p.full = true
		if vid, ok := p.c.ids[e.Spec]; ok {
			p.vids, p.size = []uint32{vid}, len(p.c.postings[vid])
		}
		return p
	}
	p.memo = make([]uint8, len(p.c.values))
	if !full {
		return p
	}
	p.full = true
	for vid, v := range p.c.values {
		if len(p.c.postings[vid]) == 0 {
			continue
		}
		if e.Match(v) {
			p.memo[vid] = 1
			p.vids = append(p.vids, uint32(vid))
			p.size += len(p.c.postings[vid])
		} else {
			p.memo[vid] = 2
		}
	}
	return p
}

// matches reports whether tagged series id satisfies the expression.
func (p *exprPlan) matches(id uint32) bool {
	if p.c == nil {
		return p.e.matchesEmpty
	}
	v := p.c.valueOf(id)
	if v == 0 {
		return p.e.matchesEmpty
	}
	vid := v - 1
	if p.memo == nil { // "="
		return len(p.vids) == 1 && p.vids[0] == vid
	}
	switch p.memo[vid] {
	case 1:
		return true
	case 2:
		return false
	}
	ok := p.e.Match(p.c.values[vid])
	p.memo[vid] = 2
	if ok {
		p.memo[vid] = 1
	}
	return ok
}

// matchesPlain reports whether an untagged metric (its only tag is name)
// satisfies the expression.
func (p *exprPlan) matchesPlain(name string) bool {
	if p.e.Tag == "name" {
		return p.e.Match(name)
	}
	return p.e.matchesEmpty
}

// findSeries is graphite-web's LocalDatabaseTagDB._find_series, sorted:
// the matching tagged series in the order refreshOrder keeps, merged with
// the matching untagged names (already sorted); x.mu held, order fresh.
func (t *tagIndex) findSeries(exprs []TagExpr, p plainView) ([]string, error) {
	var at []uint32
	var plain []string
	err := t.walkMatches(exprs, p,
		func(id uint32) bool { at = append(at, t.pos[id]); return true },
		func(n string) bool { plain = append(plain, n); return true })
	if err != nil {
		return nil, err
	}
	slices.Sort(at)
	out := make([]string, 0, len(at)+len(plain))
	for len(at) > 0 || len(plain) > 0 {
		if len(plain) == 0 || (len(at) > 0 && t.recs[t.order[at[0]]].name < plain[0]) {
			out, at = append(out, t.recs[t.order[at[0]]].name), at[1:]
		} else {
			out, plain = append(out, plain[0]), plain[1:]
		}
	}
	return out, nil
}

// planAll plans every expression and picks the driver: the one that does
// not match the empty value with the fewest series. "=" expressions are
// sized first; another is evaluated over all its values only when its
// tag has fewer values than the best "=" has series (else walking that
// "=" and evaluating values as met costs less); x.mu held.
func (t *tagIndex) planAll(exprs []TagExpr, p plainView) (plans []exprPlan, driver int) {
	plans = make([]exprPlan, len(exprs))
	driver, best := -1, 0
	consider := func(i int) {
		pl := &plans[i]
		if pl.e.matchesEmpty || !pl.full {
			return
		}
		size := pl.size
		if pl.e.Tag == "name" {
			if pl.e.Op == "=" {
				size++
			} else {
				size += len(p.names) // an upper bound, not evaluated
			}
		}
		if driver < 0 || size < best {
			driver, best = i, size
		}
	}
	for i, e := range exprs {
		if e.Op == "=" {
			plans[i] = t.planExpr(e, true)
			consider(i)
		}
	}
	for i, e := range exprs {
		if e.Op != "=" {
			values := 0
			if c := t.byTag[e.Tag]; c != nil {
				values = len(c.ids)
			}
			plans[i] = t.planExpr(e, !e.matchesEmpty && (driver < 0 || values < best))
			consider(i)
		}
	}
	return plans, driver
}

// eachMatch calls fn for each series matching every expression, with its
// tags, until fn returns false (see walkMatches); x.mu held.
func (t *tagIndex) eachMatch(exprs []TagExpr, p plainView, fn func(series string, tags []metricpath.Tag) bool) error {
	return t.walkMatches(exprs, p,
		func(id uint32) bool { r := &t.recs[id]; return fn(r.name, r.tags) },
		func(n string) bool { return fn(n, []metricpath.Tag{{Key: "name", Value: n}}) })
}

// walkMatches calls tagged with the id of each tagged series matching
// every expression, then plain with each matching untagged name (in
// name order), until either returns false. It walks the posting lists of
// the most selective expression that does not match the empty value (a
// series has one value per tag, so none is seen twice) and checks the
// others by value id. An untagged metric has only the tag name, so it
// can match only when the walked expression is on name: then the
// untagged names it selects are walked too; x.mu held.
func (t *tagIndex) walkMatches(exprs []TagExpr, p plainView, tagged func(id uint32) bool, plain func(name string) bool) error {
	plans, driver := t.planAll(exprs, p)
	if driver < 0 {
		return &TagError{"At least one tagspec must not match the empty string"}
	}
	rest := make([]*exprPlan, 0, len(plans)-1)
	for i := range plans {
		if i != driver {
			rest = append(rest, &plans[i])
		}
	}
	d := &plans[driver]
	if d.c != nil {
		for _, vid := range d.vids {
			for _, id := range d.c.postings[vid] {
				if matchesAll(rest, id) && !tagged(id) {
					return nil
				}
			}
		}
	}
	if d.e.Tag != "name" {
		return nil
	}
	one := func(n string) bool {
		for _, o := range rest {
			if !o.matchesPlain(n) {
				return true
			}
		}
		return plain(n)
	}
	if d.e.Op == "=" {
		if p.contains(d.e.Spec) {
			one(d.e.Spec)
		}
		return nil
	}
	p.each(func(n string) bool { return !d.e.Match(n) || one(n) })
	return nil
}

// matchesAll reports whether tagged series id satisfies every plan.
func matchesAll(plans []*exprPlan, id uint32) bool {
	for _, o := range plans {
		if !o.matches(id) {
			return false
		}
	}
	return true
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
	for !x.tags.orderFresh() { // series added or removed since the last query
		x.mu.RUnlock()
		x.mu.Lock()
		x.tags.refreshOrder()
		x.mu.Unlock()
		x.mu.RLock()
	}
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
	vals := x.tags.byTag[tag] // nil for a tag only untagged metrics have (name)
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
			v, n, tagged = tagged[0], vals.count(tagged[0]), tagged[1:]
		case len(tagged) == 0 || plain[0] < tagged[0]:
			v, n, plain = plain[0], 1, plain[1:]
		default: // both
			v, n, tagged, plain = tagged[0], vals.count(tagged[0])+1, tagged[1:], plain[1:]
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
	return x.tags.len()
}

// SeriesTags returns a tagged series' tags ("name" first, then by key);
// ok is false when the series is not indexed.
func (x *Index) SeriesTags(series string) ([]metricpath.Tag, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	t, ok := x.tags.lookup(series)
	return t, ok
}

// TaggedNames returns every tagged series (name;k=v…), sorted.
func (x *Index) TaggedNames() []string {
	x.mu.RLock()
	out := []string{}
	for s := range x.tags.ids {
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
