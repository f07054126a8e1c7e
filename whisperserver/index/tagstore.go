package index

import (
	"maps"
	"slices"
	"sort"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// tagIndex maps tag → value → series, for the Graphite tag API. Series are
// the normalised tagged names found under _tagged/ (metricpath.Name). It is
// kept by Index.apply under Index.mu, like the name tree.
//
// Each series has a dense id (reused after a removal). Per tag the index
// keeps its values, each value's posting list (the ids of its series,
// ascending) and a column: series id → value id + 1 (0: the series lacks
// the tag). A query evaluates each expression once per distinct value,
// then checks a series with one array read per expression, without
// touching the series' strings.
//
// As carbon 1.1 registers every series it receives with graphite-web's tag
// database, an untagged metric is a series too, with its one tag "name".
// Those are not copied here (a million names would cost ~370 bytes each):
// queries see them through a plainView of the name tree's sorted list.
type tagIndex struct {
	ids   map[string]uint32 // series → id
	recs  []tagSeries       // id → series; name "" for a free id
	free  []uint32          // free ids, reused first
	byTag map[string]*tagColumn
	// sorted cache, nil when stale
	tagList []string
	// order holds the ids sorted by series name as of its last refresh,
	// pos each id's index in it; changed lists the ids added or removed
	// since (reorderAll: too many to list, sort all again).
	order      []uint32
	pos        []uint32
	changed    []uint32
	reorderAll bool
}

// tagSeries is one indexed series.
type tagSeries struct {
	name string
	tags []metricpath.Tag // "name" first, then sorted by key
}

// tagColumn is one tag's values and the series that have them.
type tagColumn struct {
	ids      map[string]uint32 // value → value id
	values   []string          // value id → value
	postings [][]uint32        // value id → series ids, ascending; empty for a free value id
	free     []uint32          // free value ids
	col      []uint32          // series id → value id + 1; 0 (or past the end): no value
	sorted   []string          // the values, sorted; nil when stale
}

func newTagIndex() *tagIndex {
	return &tagIndex{ids: map[string]uint32{}, byTag: map[string]*tagColumn{}}
}

// len is the number of indexed series.
func (t *tagIndex) len() int { return len(t.ids) }

// lookup returns a series' tags.
func (t *tagIndex) lookup(series string) ([]metricpath.Tag, bool) {
	id, ok := t.ids[series]
	if !ok {
		return nil, false
	}
	return t.recs[id].tags, true
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
	if _, ok := t.ids[series]; ok {
		return
	}
	tags, ok := seriesTags(series)
	if !ok {
		return
	}
	var id uint32
	if n := len(t.free); n > 0 {
		id, t.free = t.free[n-1], t.free[:n-1]
		t.recs[id] = tagSeries{series, tags}
	} else {
		id = uint32(len(t.recs))
		t.recs = append(t.recs, tagSeries{series, tags})
	}
	t.ids[series] = id
	t.noteChanged(id)
	for _, tg := range tags {
		c := t.byTag[tg.Key]
		if c == nil {
			c = &tagColumn{ids: map[string]uint32{}}
			t.byTag[tg.Key] = c
			t.tagList = nil
		}
		c.add(tg.Value, id)
	}
}

func (t *tagIndex) remove(series string) {
	id, ok := t.ids[series]
	if !ok {
		return
	}
	for _, tg := range t.recs[id].tags {
		c := t.byTag[tg.Key]
		c.remove(tg.Value, id)
		if len(c.ids) == 0 {
			delete(t.byTag, tg.Key)
			t.tagList = nil
		}
	}
	delete(t.ids, series)
	t.noteChanged(id)
	t.recs[id] = tagSeries{}
	t.free = append(t.free, id)
}

// add records that series id has value v.
func (c *tagColumn) add(v string, id uint32) {
	vid, ok := c.ids[v]
	if !ok {
		if n := len(c.free); n > 0 {
			vid, c.free = c.free[n-1], c.free[:n-1]
			c.values[vid] = v
		} else {
			vid = uint32(len(c.values))
			c.values = append(c.values, v)
			c.postings = append(c.postings, nil)
		}
		c.ids[v] = vid
		c.sorted = nil
	}
	c.postings[vid] = insertID(c.postings[vid], id)
	for uint32(len(c.col)) <= id {
		c.col = append(c.col, 0)
	}
	c.col[id] = vid + 1
}

// remove records that series id no longer has value v.
func (c *tagColumn) remove(v string, id uint32) {
	vid, ok := c.ids[v]
	if !ok {
		return
	}
	p := removeID(c.postings[vid], id)
	c.postings[vid] = p
	c.col[id] = 0
	if len(p) == 0 {
		delete(c.ids, v)
		c.values[vid] = ""
		c.postings[vid] = nil
		c.free = append(c.free, vid)
		c.sorted = nil
	}
}

// count is the number of series with value v.
func (c *tagColumn) count(v string) int {
	if vid, ok := c.ids[v]; ok {
		return len(c.postings[vid])
	}
	return 0
}

// valueOf returns series id's value id + 1 (0: none).
func (c *tagColumn) valueOf(id uint32) uint32 {
	if id < uint32(len(c.col)) {
		return c.col[id]
	}
	return 0
}

// insertID inserts id into an ascending list (new ids are the largest, so
// the common case appends).
func insertID(p []uint32, id uint32) []uint32 {
	if n := len(p); n == 0 || p[n-1] < id {
		return append(p, id)
	}
	i := sort.Search(len(p), func(i int) bool { return p[i] >= id })
	if i < len(p) && p[i] == id {
		return p
	}
	p = append(p, 0)
	copy(p[i+1:], p[i:])
	p[i] = id
	return p
}

// removeID removes id from an ascending list.
func removeID(p []uint32, id uint32) []uint32 {
	i := sort.Search(len(p), func(i int) bool { return p[i] >= id })
	if i == len(p) || p[i] != id {
		return p
	}
	return append(p[:i], p[i+1:]...)
}

// sortedTags returns every tag, sorted (cached).
func (t *tagIndex) sortedTags() []string {
	if t.tagList == nil {
		t.tagList = slices.Sorted(maps.Keys(t.byTag))
	}
	return t.tagList
}

// sortedValues returns the values of tag, sorted (cached).
func (t *tagIndex) sortedValues(tag string) []string {
	c := t.byTag[tag]
	if c == nil {
		return nil
	}
	if c.sorted == nil {
		c.sorted = slices.Sorted(maps.Keys(c.ids))
	}
	return c.sorted
}

// tagValue returns key's value among tags ("" when absent).
func tagValue(tags []metricpath.Tag, key string) string {
	for _, t := range tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// noteChanged records that id was added or removed since the last
// refreshOrder; a list longer than the ids it could name becomes a full
// re-sort instead.
func (t *tagIndex) noteChanged(id uint32) {
	if t.reorderAll {
		return
	}
	if len(t.changed) > len(t.recs)+64 {
		t.changed, t.reorderAll = nil, true
		return
	}
	t.changed = append(t.changed, id)
}

// orderFresh reports whether order and pos describe every live series.
func (t *tagIndex) orderFresh() bool { return len(t.changed) == 0 && !t.reorderAll }

// refreshOrder brings order and pos up to date. After a few changes the
// ids not changed keep their relative order and the changed ones still
// live are sorted and inserted by binary search: integer copies and a few
// name comparisons, not a sort of all names; after many, all are sorted.
func (t *tagIndex) refreshOrder() {
	if t.orderFresh() {
		return
	}
	if t.reorderAll || len(t.changed) > len(t.order)/8 {
		t.sortAll()
	} else {
		t.mergeChanged()
	}
	if cap(t.pos) < len(t.recs) {
		t.pos = make([]uint32, len(t.recs), cap(t.recs))
	}
	t.pos = t.pos[:len(t.recs)]
	for i, id := range t.order {
		t.pos[id] = uint32(i)
	}
	t.changed, t.reorderAll = t.changed[:0], false
}

// sortAll sorts every live id by name.
func (t *tagIndex) sortAll() {
	order := t.order[:0]
	for id := range t.recs {
		if t.recs[id].name != "" {
			order = append(order, uint32(id))
		}
	}
	sort.Slice(order, func(i, j int) bool { return t.recs[order[i]].name < t.recs[order[j]].name })
	t.order = order
}

// mergeChanged drops the changed ids from order (each at its old pos) and
// inserts those still live at their place.
func (t *tagIndex) mergeChanged() {
	ch := slices.Clone(t.changed)
	slices.Sort(ch)
	ch = slices.Compact(ch)
	var drop []uint32 // positions in the old order
	var fresh []uint32
	for _, id := range ch {
		if int(id) < len(t.pos) {
			if p := t.pos[id]; int(p) < len(t.order) && t.order[p] == id {
				drop = append(drop, p)
			}
		}
		if t.recs[id].name != "" {
			fresh = append(fresh, id)
		}
	}
	slices.Sort(drop)
	kept := t.order[:0] // in place: each kept id moves down or stays
	prev := 0
	for _, p := range drop {
		kept = append(kept, t.order[prev:p]...)
		prev = int(p) + 1
	}
	kept = append(kept, t.order[prev:]...)
	sort.Slice(fresh, func(i, j int) bool { return t.recs[fresh[i]].name < t.recs[fresh[j]].name })
	order := make([]uint32, 0, len(kept)+len(fresh))
	for _, id := range fresh {
		name := t.recs[id].name
		i := sort.Search(len(kept), func(i int) bool { return t.recs[kept[i]].name > name })
		order = append(append(order, kept[:i]...), id)
		kept = kept[i:]
	}
	t.order = append(order, kept...)
}
