// Package mongotop turns mongotop's output into statsd gauges: it parses
// both of mongotop's output forms (the text grid and --json, with or without
// --locks), makes namespaces safe as metric path components, and packs the
// gauges into UDP datagrams for a statsd server. It is the library behind
// cmd/mongotop-statsd and imports nothing of Heka.
package mongotop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kinds are the three times mongotop reports per namespace, in output order.
var Kinds = [3]string{"total", "read", "write"}

// Row is one namespace of one mongotop sample: the time spent in it during
// the sample, in milliseconds.
type Row struct {
	Namespace string
	// Millis holds total, read and write, in the order of Kinds.
	Millis [3]float64
}

// LineKind says what a line of mongotop's output is.
type LineKind int

// Kinds of lines.
const (
	Blank  LineKind = iota // empty or only spaces: ends a text block
	Header                 // "ns total read write <time>" (or "db …" with --locks)
	Rows                   // a text row or a --json document
)

// Parse errors, for counting malformed lines by reason.
var (
	ErrColumns   = errors.New("want: namespace total read write (e.g. \"app.users  12ms  5ms  7ms\")")
	ErrValue     = errors.New("time is not a number of milliseconds (e.g. \"12ms\")")
	ErrNamespace = errors.New("empty namespace")
	ErrJSON      = errors.New("not a mongotop --json document")
	ErrTooLong   = errors.New("line too long")
)

// MaxLine bounds a line the parser accepts. A --json document of a server
// with many collections is one long line, so the bound is generous.
const MaxLine = 16 << 20

// ParseLine parses one line of mongotop's output (without its line end; a
// trailing '\r' is ignored). For a text row or a --json document it returns
// Rows and the namespaces it holds (a --json document's in name order). A
// --json document with some bad entries returns the good ones together with
// an error naming the others. It never keeps a reference to line.
func ParseLine(line []byte) (LineKind, []Row, error) {
	line = bytes.TrimRight(line, "\r")
	if len(line) > MaxLine {
		return Rows, nil, fmt.Errorf("%w: %d bytes", ErrTooLong, len(line))
	}
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 {
		return Blank, nil, nil
	}
	if trimmed[0] == '{' {
		rows, err := parseJSON(trimmed)
		return Rows, rows, err
	}
	fields := fieldSpans(trimmed)
	if isHeader(trimmed, fields) {
		return Header, nil, nil
	}
	row, err := parseTextRow(trimmed, fields)
	if err != nil {
		return Rows, nil, err
	}
	return Rows, []Row{row}, nil
}

type span struct{ start, end int }

// fieldSpans returns the positions of the space- or tab-separated fields.
func fieldSpans(b []byte) []span {
	var out []span
	for i := 0; i < len(b); {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		if i == len(b) {
			break
		}
		j := i
		for j < len(b) && b[j] != ' ' && b[j] != '\t' {
			j++
		}
		out = append(out, span{i, j})
		i = j
	}
	return out
}

// isHeader recognises mongotop's grid header: "ns" (or "db" with --locks),
// then "total read write", then the sample's time.
func isHeader(b []byte, f []span) bool {
	if len(f) < 4 || len(f) > 5 {
		return false
	}
	first := string(b[f[0].start:f[0].end])
	if first != "ns" && first != "db" {
		return false
	}
	for i, k := range Kinds {
		if string(b[f[i+1].start:f[i+1].end]) != k {
			return false
		}
	}
	return true
}

// parseTextRow parses "namespace  12ms  5ms  7ms". The three times are the
// last three fields; everything before them is the namespace, so a
// namespace holding spaces (MongoDB allows them in collection names) keeps
// them.
func parseTextRow(b []byte, f []span) (Row, error) {
	if len(f) < 4 {
		return Row{}, ErrColumns
	}
	var r Row
	for i := 0; i < 3; i++ {
		s := f[len(f)-3+i]
		v, err := parseMillis(b[s.start:s.end])
		if err != nil {
			return Row{}, err
		}
		r.Millis[i] = v
	}
	ns := bytes.TrimSpace(b[:f[len(f)-3].start])
	if len(ns) == 0 {
		return Row{}, ErrNamespace
	}
	r.Namespace = string(ns)
	return r, nil
}

// parseMillis parses a time as mongotop prints it: "12ms" (an integer in
// current versions; a decimal is accepted too). Negative, NaN and infinite
// values are refused: a time spent cannot be any of them.
func parseMillis(b []byte) (float64, error) {
	b = bytes.TrimSuffix(b, []byte("ms"))
	if len(b) == 0 || b[0] == '+' || b[0] == '-' {
		return 0, ErrValue
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' {
			return 0, ErrValue
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, ErrValue
	}
	return v, nil
}

// parseJSON parses one mongotop --json document. Without --locks it is
// {"totals": {"db.coll": {"total": {"time": ms, "count": n}, "read": {…},
// "write": {…}}, …}, "time": "…"}; with --locks it is {"totals": {"db":
// {"read": ms, "write": ms}, …}, "time": "…"}, whose total is read + write
// as mongotop's own grid shows it. mongotop has already turned the server's
// microseconds into milliseconds.
func parseJSON(b []byte) ([]Row, error) {
	var doc struct {
		Totals map[string]json.RawMessage `json:"totals"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJSON, err)
	}
	if doc.Totals == nil {
		return nil, fmt.Errorf("%w: no \"totals\" object", ErrJSON)
	}
	names := make([]string, 0, len(doc.Totals))
	for ns := range doc.Totals {
		names = append(names, ns)
	}
	sort.Strings(names)
	rows := make([]Row, 0, len(names))
	var bad []string
	for _, ns := range names {
		var r Row
		var err error
		switch {
		case ns == "":
			err = ErrNamespace
		case !utf8.ValidString(ns):
			err = errors.New("namespace is not UTF-8")
		default:
			r, err = parseJSONEntry(ns, doc.Totals[ns])
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("namespace %q: %v", ns, err))
			continue
		}
		rows = append(rows, r)
	}
	if len(bad) > 0 {
		return rows, fmt.Errorf("%w: %s", ErrJSON, strings.Join(bad, "; "))
	}
	return rows, nil
}

func parseJSONEntry(ns string, raw json.RawMessage) (Row, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Row{}, errors.New("not an object")
	}
	r := Row{Namespace: ns}
	if _, top := fields["total"]; top {
		for i, k := range Kinds {
			var tf struct {
				Time *float64 `json:"time"`
			}
			if err := json.Unmarshal(fields[k], &tf); err != nil || tf.Time == nil {
				return Row{}, fmt.Errorf("%q has no \"time\" number", k)
			}
			if err := checkMillis(*tf.Time); err != nil {
				return Row{}, fmt.Errorf("%q: %w", k, err)
			}
			r.Millis[i] = *tf.Time
		}
		return r, nil
	}
	// --locks form: read and write only.
	for i, k := range Kinds[1:] {
		var v *float64
		if err := json.Unmarshal(fields[k], &v); err != nil || v == nil {
			return Row{}, fmt.Errorf("%q is not a number", k)
		}
		if err := checkMillis(*v); err != nil {
			return Row{}, fmt.Errorf("%q: %w", k, err)
		}
		r.Millis[i+1] = *v
	}
	r.Millis[0] = r.Millis[1] + r.Millis[2]
	return r, nil
}

func checkMillis(v float64) error {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return ErrValue
	}
	return nil
}
