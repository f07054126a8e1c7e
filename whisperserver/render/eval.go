package render

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

var inf = math.Inf(1)

// ErrInput matches (errors.Is) every error caused by the request (a 400).
var ErrInput = errors.New("invalid parameters")

// InputError is an invalid target or argument; Msg is graphite-web's text.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrInput) true.
func (e *InputError) Is(target error) bool { return target == ErrInput }

// inputErr builds a graphite-style "Invalid parameters (…)" error.
func inputErr(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// Fetcher returns the series whose names match a path pattern, sorted by
// name, read for [start, end] relative to now.
type Fetcher func(ctx context.Context, pattern string, start, end, now int64) ([]*Series, error)

// Context is one render request.
type Context struct {
	Ctx          context.Context
	Start, End   int64 // Unix seconds
	Now          int64
	XFilesFactor float64
	Location     *time.Location
	Fetch        Fetcher
	// MaxSeries bounds the series the request reads, counting every
	// read: a path given three times, inside a function or not, counts
	// three times (each read is a copy in memory). 0: no limit.
	MaxSeries int
	// Reserve, when set, is asked for the bytes of the copies a read
	// hands to the functions (the fetched originals stay cached) before
	// they are made; its error ends the evaluation.
	Reserve func(bytes int64) error
	// Events gives events() its events (alert transitions); nil: none.
	Events EventSource

	cache map[fetchKey][]*Series
	reads *int // series read so far, shared with reEval's contexts
	// stacks are stacked()'s running totals by stack name, shared by the
	// request's targets as graphite-web's requestContext['totalStack'].
	stacks map[string][]float64
	// nested counts the targets being evaluated inside a function
	// (aliasQuery's query built from a series name), bounded by MaxDepth.
	nested int
}

// ErrTooManySeries matches (errors.Is) the error of a request that reads
// more than MaxSeries series.
var ErrTooManySeries = errors.New("too many series")

// TooManySeriesError is a request reading more series than MaxSeries.
type TooManySeriesError struct {
	Pattern string
	Read    int // series read with this pattern's read included
	Limit   int
}

func (e *TooManySeriesError) Error() string {
	return fmt.Sprintf("the targets read %d series (the last %q), over the limit of %d (max_series); "+
		"every path counts each time it is read, inside functions too", e.Read, e.Pattern, e.Limit)
}

// Is makes errors.Is(err, ErrTooManySeries) true.
func (e *TooManySeriesError) Is(target error) bool { return target == ErrTooManySeries }

type fetchKey struct {
	pattern         string
	start, end, now int64
}

// Value is an evaluated argument.
type Value struct {
	Kind   Kind // KindCall stands for a series list
	Series []*Series
	Num    float64
	IsInt  bool
	Str    string
	Bool   bool
	Expr   *Expr // the expression it came from
	// Lists holds mapSeries' list of series lists (Series is them
	// flattened); reduceSeries takes it.
	Lists [][]*Series
}

func (v Value) isSeries() bool { return v.Kind == KindCall || v.Kind == KindPath }

// EvalTargets evaluates targets in order and concatenates their series.
func (c *Context) EvalTargets(targets []*Expr) ([]*Series, error) {
	var out []*Series
	for _, t := range targets {
		v, err := c.eval(t)
		if err != nil {
			return nil, err
		}
		if !v.isSeries() {
			return nil, inputErr("target %s is not a series expression", t)
		}
		if v.Lists != nil {
			// graphite-web cannot render a list of lists: a 500 there.
			return nil, inputErr("target %s is a list of series lists (mapSeries); give it to reduceSeries", t)
		}
		out = append(out, v.Series...)
	}
	return out, nil
}

func (c *Context) fetch(pattern string) ([]*Series, error) {
	if c.cache == nil {
		c.cache = map[fetchKey][]*Series{}
	}
	k := fetchKey{pattern, c.Start, c.End, c.Now}
	list, ok := c.cache[k]
	if !ok {
		var err error
		list, err = c.Fetch(c.Ctx, pattern, c.Start, c.End, c.Now)
		if err != nil {
			return nil, err
		}
		c.cache[k] = list
	}
	if err := c.count(pattern, len(list)); err != nil {
		return nil, err
	}
	if c.Reserve != nil {
		var bytes int64
		for _, s := range list {
			bytes += s.Bytes()
		}
		if err := c.Reserve(bytes); err != nil {
			return nil, err
		}
	}
	out := make([]*Series, len(list))
	for i, s := range list {
		out[i] = s.Copy()
		if out[i].Tags == nil {
			out[i].Tags = map[string]string{"name": s.Name}
		}
	}
	return out, nil
}

// count adds n series read with pattern to the request's reads and fails
// past MaxSeries.
func (c *Context) count(pattern string, n int) error {
	if c.MaxSeries <= 0 {
		return nil
	}
	if c.reads == nil {
		c.reads = new(int)
	}
	*c.reads += n
	if *c.reads > c.MaxSeries {
		return &TooManySeriesError{Pattern: pattern, Read: *c.reads, Limit: c.MaxSeries}
	}
	return nil
}

func (c *Context) eval(e *Expr) (Value, error) {
	if err := c.Ctx.Err(); err != nil {
		return Value{}, err
	}
	switch e.Kind {
	case KindPath:
		s, err := c.fetch(e.Path)
		return Value{Kind: KindPath, Series: s, Expr: e}, err
	case KindString:
		return Value{Kind: KindString, Str: e.Str, Expr: e}, nil
	case KindNumber, KindInf:
		return Value{Kind: KindNumber, Num: e.Num, IsInt: e.IsInt, Expr: e}, nil
	case KindBool:
		return Value{Kind: KindBool, Bool: e.Bool, Expr: e}, nil
	case KindNone:
		return Value{Kind: KindNone, Expr: e}, nil
	}
	f, ok := functions[e.Func]
	if !ok {
		return Value{}, inputErr("Received request for unknown function: %s", e.Func)
	}
	pos := make([]Value, 0, len(e.Args))
	for _, a := range e.Args {
		v, err := c.eval(a)
		if err != nil {
			return Value{}, err
		}
		pos = append(pos, v)
	}
	kws := make([]keywordValue, 0, len(e.Kwargs))
	for _, kw := range e.Kwargs {
		v, err := c.eval(kw.Value)
		if err != nil {
			return Value{}, err
		}
		kws = append(kws, keywordValue{kw.Name, v})
	}
	return c.apply(f, e, pos, kws)
}

// keywordValue is an evaluated keyword argument.
type keywordValue struct {
	name string
	v    Value
}

// apply binds evaluated arguments to f's parameters, checks them and
// calls f (eval, and reduceSeries calling its reduce function).
func (c *Context) apply(f *Func, e *Expr, pos []Value, kws []keywordValue) (Value, error) {
	vals := make([]Value, len(f.Params))
	set := make([]bool, len(f.Params))
	var extra []Value
	for i, v := range pos {
		switch {
		case i < len(f.Params) && !f.Params[i].Multiple:
			vals[i], set[i] = v, true
		case len(f.Params) > 0 && f.Params[len(f.Params)-1].Multiple && i >= len(f.Params)-1:
			extra = append(extra, v)
		default:
			return Value{}, inputErr("too many arguments for %s; func: %q", e.Func, e.String())
		}
	}
	for _, kw := range kws {
		idx := -1
		for i, p := range f.Params {
			if p.Keyword() == kw.name {
				idx = i
			}
		}
		if idx < 0 || f.Params[idx].Multiple {
			return Value{}, inputErr("unexpected keyword argument %s for %s", kw.name, e.Func)
		}
		if set[idx] {
			return Value{}, inputErr("argument %s given twice to %s", kw.name, e.Func)
		}
		vals[idx], set[idx] = kw.v, true
	}
	a := &args{ctx: c, call: e, fn: f, vals: vals, set: set, extra: extra}
	for i, p := range f.Params {
		if p.Multiple {
			if p.Required && len(extra) == 0 {
				return Value{}, a.errf("missing required parameter %s", p.Name)
			}
			for _, v := range extra {
				if err := checkType(p, v); err != nil {
					return Value{}, a.errf("%v", err)
				}
			}
			continue
		}
		if !set[i] || vals[i].Kind == KindNone {
			if p.Required {
				return Value{}, a.errf("missing required parameter %s", p.Name)
			}
			continue
		}
		if err := checkType(p, vals[i]); err != nil {
			return Value{}, a.errf("%v", err)
		}
	}
	if f.ListsFn != nil {
		lists, err := f.ListsFn(a)
		if err != nil {
			return Value{}, err
		}
		var flat []*Series
		for _, l := range lists {
			flat = append(flat, l...)
		}
		return Value{Kind: KindCall, Series: flat, Lists: lists, Expr: e}, c.Ctx.Err()
	}
	out, err := f.Fn(a)
	if err != nil {
		return Value{}, err
	}
	if err := c.Ctx.Err(); err != nil {
		return Value{}, err
	}
	return Value{Kind: KindCall, Series: out, Expr: e}, nil
}

func checkType(p Param, v Value) error {
	switch p.Type {
	case "seriesList", "seriesLists":
		if !v.isSeries() {
			return fmt.Errorf("%s: expected a series list", p.Name)
		}
	case "integer", "float", "intOrInterval", "node", "nodeOrTag", "intOrInf":
		if v.Kind == KindNumber {
			if p.Type == "integer" && !v.IsInt {
				return fmt.Errorf("%s: expected an integer", p.Name)
			}
			return nil
		}
		if v.Kind == KindString && (p.Type == "intOrInterval" || p.Type == "nodeOrTag") {
			return nil
		}
		return fmt.Errorf("%s: expected a number", p.Name)
	case "string", "interval", "aggFunc":
		if v.Kind == KindBool && hasOption(p, v.Bool) {
			return nil // smartSummarize's alignTo lists true and false
		}
		if v.Kind != KindString {
			return fmt.Errorf("%s: expected a string", p.Name)
		}
		if len(p.Options) > 0 && !p.AnyValue {
			for _, o := range p.Options {
				if o == any(v.Str) {
					return nil
				}
			}
			return fmt.Errorf("%s: invalid option %q (one of %s)", p.Name, v.Str, fmt.Sprint(p.Options...))
		}
	case "boolean":
		if v.Kind != KindBool && v.Kind != KindNumber && v.Kind != KindString {
			return fmt.Errorf("%s: expected a boolean", p.Name)
		}
	}
	return nil
}

func hasOption(p Param, v any) bool {
	for _, o := range p.Options {
		if o == v {
			return true
		}
	}
	return false
}

// args gives a function its bound arguments.
type args struct {
	ctx   *Context
	call  *Expr
	fn    *Func
	vals  []Value
	set   []bool
	extra []Value
}

func (a *args) errf(format string, v ...any) error {
	return inputErr("%s; func: %q", fmt.Sprintf(format, v...), a.call.String())
}

func (a *args) has(i int) bool         { return a.set[i] && a.vals[i].Kind != KindNone }
func (a *args) series(i int) []*Series { return a.vals[i].Series }
func (a *args) num(i int, def float64) float64 {
	if !a.has(i) {
		return def
	}
	return a.vals[i].Num
}
func (a *args) str(i int, def string) string {
	if !a.has(i) {
		return def
	}
	return a.vals[i].Str
}
func (a *args) boolean(i int, def bool) bool {
	if !a.has(i) {
		return def
	}
	v := a.vals[i]
	switch v.Kind {
	case KindNumber:
		return v.Num != 0
	case KindString:
		return strings.EqualFold(v.Str, "true")
	}
	return v.Bool
}

// seriesLists returns all series of a Multiple series parameter.
func (a *args) seriesLists() [][]*Series {
	var out [][]*Series
	for _, v := range a.extra {
		out = append(out, v.Series)
	}
	return out
}

// reEval evaluates the call's first argument again over another time range
// (movingAverage's bootstrap, timeShift).
func (a *args) reEval(start, end int64) ([]*Series, error) {
	sub := &Context{Ctx: a.ctx.Ctx, Start: start, End: end, Now: a.ctx.Now, XFilesFactor: a.ctx.XFilesFactor,
		Location: a.ctx.Location, Fetch: a.ctx.Fetch, MaxSeries: a.ctx.MaxSeries, Reserve: a.ctx.Reserve, Events: a.ctx.Events, cache: a.ctx.cache, reads: a.ctx.reads,
		stacks: a.ctx.stacks, nested: a.ctx.nested}
	if sub.reads == nil && sub.MaxSeries > 0 {
		a.ctx.reads = new(int)
		sub.reads = a.ctx.reads
	}
	v, err := sub.eval(a.call.Args[0])
	if err != nil {
		return nil, err
	}
	return v.Series, nil
}

// evalTarget parses and evaluates a target built by a function
// (useSeriesAbove, aliasQuery, applyByNode) over the request's range.
func (a *args) evalTarget(target string) ([]*Series, error) {
	if a.ctx.nested >= MaxDepth {
		return nil, a.errf("targets built by functions nest deeper than %d levels", MaxDepth)
	}
	a.ctx.nested++
	defer func() { a.ctx.nested-- }()
	e, err := Parse(target)
	if err != nil {
		return nil, a.errf("target %q built by %s: %v", target, a.fn.Name, err)
	}
	v, err := a.ctx.eval(e)
	if err != nil {
		return nil, err
	}
	if !v.isSeries() {
		return nil, a.errf("target %q built by %s is not a series expression", target, a.fn.Name)
	}
	return v.Series, nil
}
