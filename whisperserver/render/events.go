package render

import (
	"math"
	"strings"
)

// EventSource returns the times (Unix seconds) of the events in
// [start, end] that carry every one of tags (all events when tags is
// nil), as graphite-web's Event.find_events(tags=…) with_all.
type EventSource func(start, end int64, tags []string) []int64

// maxEventPoints bounds events()'s one-point-per-second series (graphite-web
// allocates it whatever the range): about 46 days.
const maxEventPoints = 4_000_000

func eventFunctions() []*Func {
	return []*Func{
		{Name: "events", Group: "Special", Params: []Param{{Name: "tags", Type: "string", Required: true, Multiple: true}}, Fn: fnEvents},
	}
}

// fnEvents counts the events per second of the request's range, as
// graphite-web's events(*tags): step 1, None where there is none, name
// events("a", "b"), "*" alone for every event. An event at the very end of
// the range has no slot (graphite-web fails there with an IndexError) and
// is left out.
func fnEvents(a *args) ([]*Series, error) {
	var tags []string
	for _, v := range a.extra {
		tags = append(tags, v.Str)
	}
	name := `events("` + strings.Join(tags, `", "`) + `")`
	if len(tags) == 1 && tags[0] == "*" {
		tags = nil
	}
	c := a.ctx
	points := c.End - c.Start
	if points < 0 {
		points = 0
	}
	if points > maxEventPoints {
		return nil, a.errf("events() makes one point per second: %d points are over its limit of %d; ask for a shorter range", points, maxEventPoints)
	}
	if c.Reserve != nil {
		if err := c.Reserve(SeriesSize(points, name, name)); err != nil {
			return nil, err
		}
	}
	values := make([]float64, points)
	for i := range values {
		values[i] = math.NaN()
	}
	if c.Events != nil {
		for _, t := range c.Events(c.Start, c.End, tags) {
			i := t - c.Start
			if i < 0 || i >= points {
				continue
			}
			if values[i] != values[i] {
				values[i] = 1
			} else {
				values[i]++
			}
		}
	}
	s := &Series{Name: name, PathExpression: name, Start: c.Start, End: c.End, Step: 1, Values: values,
		ValuesPerPoint: 1, ConsolidationFunc: "sum", XFilesFactor: c.XFilesFactor}
	return []*Series{s}, nil
}
