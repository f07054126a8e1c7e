package graphiteapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/membudget"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/store"
	ogórek "github.com/kisielk/og-rek"
)

func (a *API) render(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		a.writeError(w, r, err, nil)
		return
	}
	targets := p["target"]
	if len(targets) == 0 {
		targets = p["target[]"]
	}
	format := "json"
	if _, ok := p["pickle"]; ok {
		format = "pickle"
	}
	if _, ok := p["rawData"]; ok {
		format = "raw"
	}
	if f, ok := get(p, "format"); ok {
		format = f
	}
	switch format {
	case "json", "csv", "raw", "pickle", "msgpack":
	default:
		a.writeError(w, r, badRequest("format %q is not supported (json, csv, raw, pickle, msgpack)", format), targets)
		return
	}
	loc := a.location(p)
	start, end, now, err := a.timeRange(p, loc, "-1d")
	if err != nil {
		a.writeError(w, r, err, targets)
		return
	}
	maxDataPoints := 0
	if s, ok := get(p, "maxDataPoints"); ok && s != "" {
		// As /api/data: a positive integer or nothing (graphite-web fails
		// with a 500 on 0 and misbehaves on negative values).
		if maxDataPoints, err = strconv.Atoi(s); err != nil || maxDataPoints < 1 {
			a.writeError(w, r, badRequest("maxDataPoints must be a positive integer, not %q", s), targets)
			return
		}
	}
	_, noNull := p["noNullPoints"]
	xff := 0.0
	if s, ok := get(p, "xFilesFactor"); ok {
		if xff, err = strconv.ParseFloat(s, 64); err != nil || xff < 0 || xff > 1 {
			a.writeError(w, r, badRequest("invalid xFilesFactor %q", s), targets)
			return
		}
	}
	var exprs []*render.Expr
	var kept []string
	for _, t := range targets {
		if strings.TrimSpace(t) == "" {
			continue
		}
		e, err := render.Parse(t)
		if err != nil {
			a.writeError(w, r, err, targets)
			return
		}
		exprs = append(exprs, e)
		kept = append(kept, t)
	}
	budget := int64(a.cfg.MaxSeries)
	if budget <= 0 {
		budget = math.MaxInt64
	}
	// The request's share of the memory budget: every series is reserved
	// before it is read or copied (a nil account reserves nothing).
	acct := membudget.FromContext(r.Context())
	reserve := func(n int64) error { return acct.Reserve(r.Context(), n) }
	ctx := &render.Context{Ctx: r.Context(), Start: start, End: end, Now: now, XFilesFactor: xff, Location: loc,
		MaxSeries: a.cfg.MaxSeries, Reserve: reserve, Events: a.cfg.Events,
		Fetch: func(c2 context.Context, pattern string, s, e, n int64) ([]*render.Series, error) {
			list, err := a.cfg.Store.Fetch(c2, pattern, s, e, n, store.FetchOptions{XFilesFactor: xff, Budget: &budget, Reserve: reserve})
			if a.cfg.MaxDataPointsMethod != MethodFile {
				// graphite-web's TimeSeries: consolidationFunc "average"
				// whatever the file's aggregation method.
				for _, s := range list {
					s.ConsolidationFunc = "average"
				}
			}
			return list, err
		}}
	series, err := ctx.EvalTargets(exprs)
	if err != nil {
		a.writeError(w, r, err, kept)
		return
	}
	// Every series the answer holds counts against max_series, so a target
	// repeated n times counts n times (the fetch budget counts each
	// pattern once, as repeated fetches share one read).
	if a.cfg.MaxSeries > 0 && len(series) > a.cfg.MaxSeries {
		a.writeError(w, r, &httpError{http.StatusUnprocessableEntity,
			fmt.Sprintf("the answer would hold %d series, over the limit of %d (max_series)", len(series), a.cfg.MaxSeries)}, kept)
		return
	}
	if format == "json" && maxDataPoints > 0 {
		consolidateForJSON(series, maxDataPoints)
	}
	total := 0
	for _, s := range series {
		total += len(s.Values) / max(1, s.ValuesPerPoint)
	}
	if a.cfg.MaxPoints > 0 && total > a.cfg.MaxPoints {
		a.writeError(w, r, &httpError{http.StatusUnprocessableEntity,
			fmt.Sprintf("response would hold %d points, over the limit of %d (max_points); use maxDataPoints or a shorter range", total, a.cfg.MaxPoints)}, kept)
		return
	}
	if format == "pickle" || format == "msgpack" {
		// These two are built whole before they are written: reserve them.
		if err := reserve(encodedSize(total, len(series))); err != nil {
			a.writeError(w, r, err, kept)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-cache")
	switch format {
	case "json":
		// Written as it is produced: the answer is never whole in memory.
		w.Header().Set("Content-Type", "application/json")
		_ = writeSeriesJSON(w, series, noNull)
	case "csv":
		w.Header().Set("Content-Type", "text/csv")
		bw := bufio.NewWriterSize(w, 32<<10)
		writeCSV(bw, series, loc)
		_ = bw.Flush()
	case "raw":
		w.Header().Set("Content-Type", "text/plain")
		bw := bufio.NewWriterSize(w, 32<<10)
		writeRaw(bw, series)
		_ = bw.Flush()
	case "pickle":
		w.Header().Set("Content-Type", "application/pickle")
		var buf bytes.Buffer
		if err := ogórek.NewEncoderWithConfig(&buf, &ogórek.EncoderConfig{Protocol: 3}).Encode(seriesInfo(series, true)); err != nil {
			a.writeError(w, r, err, kept)
			return
		}
		_, _ = w.Write(buf.Bytes())
	case "msgpack":
		w.Header().Set("Content-Type", "application/x-msgpack")
		_, _ = w.Write(msgpackEncode(nil, seriesInfo(series, false)))
	}
}

// encodedSize is about the memory a pickle or msgpack answer of points
// values over n series takes while built: each value boxed in an
// interface (24 bytes) plus its encoding (9–10 bytes), and each series'
// map.
func encodedSize(points, n int) int64 { return int64(points)*40 + int64(n)*1024 }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// consolidateForJSON applies maxDataPoints as graphite-web's JSON view does
// (including its start nudge) with each series' consolidation function:
// "average" or consolidateBy's, as graphite-web (max_data_points_method
// "graphite"), or the whisper file's aggregation method ("file").
func consolidateForJSON(series []*render.Series, maxDataPoints int) {
	if !anyValues(series) {
		return
	}
	startTime, endTime := series[0].Start, series[0].End
	for _, s := range series {
		startTime = min(startTime, s.Start)
		endTime = max(endTime, s.End)
	}
	timeRange := endTime - startTime
	for _, s := range series {
		if maxDataPoints == 1 {
			s.ValuesPerPoint = max(1, len(s.Values))
			continue
		}
		n := float64(timeRange) / float64(s.Step)
		if float64(maxDataPoints) < n {
			vpp := int64(math.Ceil(n / float64(maxDataPoints)))
			spp := vpp * s.Step
			nudge := spp + whisperfile.FloorMod(s.Start, s.Step) - whisperfile.FloorMod(s.Start, spp)
			s.Start += nudge
			lose := int(nudge / s.Step)
			for r := 1; r < lose && len(s.Values) > 0; r++ {
				s.Values = s.Values[1:]
			}
			s.ValuesPerPoint = int(vpp)
		}
	}
}

// appendJSONFloat writes v as JSON (null for gaps, ±1e9999 for infinities).
func appendJSONFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "null"...)
	case math.IsInf(v, 1):
		return append(b, "1e9999"...)
	case math.IsInf(v, -1):
		return append(b, "-1e9999"...)
	}
	abs := math.Abs(v)
	if abs < 1e15 && v == math.Trunc(v) && !(v == 0 && math.Signbit(v)) {
		return strconv.AppendInt(b, int64(v), 10) // counts: the common case, and fast
	}
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(b, v, 'e', -1, 64)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

func appendJSONString(b []byte, s string) []byte {
	q := strconv.Quote(s)
	// strconv.Quote escapes are JSON-compatible except \x.. and \a \v;
	// fall back to a careful encoder when they appear.
	if !strings.Contains(q, `\x`) && !strings.Contains(q, `\a`) && !strings.Contains(q, `\v`) && !strings.Contains(q, `\U`) && !strings.Contains(q, `\'`) {
		return append(b, q...)
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20 || r == 0x7f:
			b = append(b, fmt.Sprintf(`\u%04x`, r)...)
		case r == 0xFFFD:
			b = append(b, `\ufffd`...)
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}

// appendJSONTags writes the series' tags, "name" first, then by key.
func appendJSONTags(b []byte, s *render.Series) []byte {
	tags := s.TagMap()
	keys := make([]string, 0, len(tags))
	for k := range tags {
		if k != "name" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if _, ok := tags["name"]; ok {
		keys = append([]string{"name"}, keys...)
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendJSONString(b, k)
		b = append(b, ": "...)
		b = appendJSONString(b, tags[k])
	}
	return append(b, '}')
}

// writeSeriesJSON writes graphite-web's JSON answer to w as it is
// produced, in chunks of about 64 KiB.
func writeSeriesJSON(w io.Writer, series []*render.Series, noNull bool) error {
	if !anyValues(series) {
		_, err := w.Write([]byte("[]")) // graphite-web: "if any(data)"
		return err
	}
	const chunk = 64 << 10
	b := make([]byte, 0, chunk+256)
	flush := func() error {
		_, err := w.Write(b)
		b = b[:0]
		return err
	}
	b = append(b, '[')
	first := true
	for _, s := range series {
		pts := s.Points()
		step := s.Step * int64(max(1, s.ValuesPerPoint))
		n := 0
		if s.End >= s.Start {
			n = int((s.End-s.Start)/step) + 1
		}
		n = min(n, len(pts))
		if noNull {
			any := false
			for i := 0; i < n; i++ {
				if !math.IsNaN(pts[i]) {
					any = true
					break
				}
			}
			if !any {
				continue
			}
		}
		if !first {
			b = append(b, ", "...)
		}
		first = false
		b = append(b, `{"target": `...)
		if s.NoName {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, s.Name)
		}
		b = append(b, `, "tags": `...)
		b = appendJSONTags(b, s)
		b = append(b, `, "datapoints": [`...)
		sep := false
		for i := 0; i < n; i++ {
			if noNull && math.IsNaN(pts[i]) {
				continue
			}
			if sep {
				b = append(b, ", "...)
			}
			sep = true
			b = append(b, '[')
			b = appendJSONFloat(b, pts[i])
			b = append(b, ", "...)
			b = strconv.AppendInt(b, s.Start+int64(i)*step, 10)
			b = append(b, ']')
			if len(b) >= chunk {
				if err := flush(); err != nil {
					return err // the client is gone: stop encoding
				}
			}
		}
		b = append(b, "]}"...)
	}
	b = append(b, ']')
	return flush()
}

func pyValue(s *render.Series, v float64) string {
	if s.IntValues && !math.IsNaN(v) && v == math.Trunc(v) && math.Abs(v) < 1e18 {
		return strconv.FormatInt(int64(v), 10)
	}
	return render.PyRepr(v)
}

func writeCSV(b *bufio.Writer, series []*render.Series, loc *time.Location) {
	for _, s := range series {
		for i, v := range s.Points() {
			ts := time.Unix(s.Start+int64(i)*s.Step, 0).In(loc).Format("2006-01-02 15:04:05")
			val := ""
			if !math.IsNaN(v) {
				val = pyValue(s, v)
			}
			name := s.Name
			if strings.ContainsAny(name, ",\"\r\n") {
				name = `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
			}
			fmt.Fprintf(b, "%s,%s,%s\r\n", name, ts, val)
		}
	}
}

func writeRaw(b *bufio.Writer, series []*render.Series) {
	for _, s := range series {
		fmt.Fprintf(b, "%s,%d,%d,%d|", s.Name, s.Start, s.End, s.Step)
		for i, v := range s.Points() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(pyValue(s, v))
		}
		b.WriteByte('\n')
	}
}

// seriesInfo is graphite-web's TimeSeries.getInfo() for each series.
func seriesInfo(series []*render.Series, pickle bool) []any {
	out := make([]any, 0, len(series))
	for _, s := range series {
		pts := s.Points()
		vals := make([]any, len(pts))
		for i, v := range pts {
			if math.IsNaN(v) {
				if pickle {
					vals[i] = ogórek.None{}
				} else {
					vals[i] = nil
				}
			} else {
				vals[i] = v
			}
		}
		out = append(out, map[any]any{
			"name":              s.Name,
			"start":             s.Start,
			"end":               s.End,
			"step":              s.Step,
			"values":            vals,
			"pathExpression":    s.PathExpression,
			"valuesPerPoint":    int64(max(1, s.ValuesPerPoint)),
			"consolidationFunc": s.ConsolidationFunc,
			"xFilesFactor":      s.XFilesFactor,
		})
	}
	return out
}

// anyValues is Python's any(data) over TimeSeries lists: true when a
// series holds at least one value (null included).
func anyValues(series []*render.Series) bool {
	for _, s := range series {
		if len(s.Values) > 0 {
			return true
		}
	}
	return false
}
