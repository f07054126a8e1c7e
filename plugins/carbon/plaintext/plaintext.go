// Package plaintext parses Graphite's carbon plaintext protocol: one metric a
// line, "path value timestamp", fields separated by spaces or tabs. It is the
// format of the heka.statmetric payloads the project's inputs emit, of
// carbon's line receiver, and of collectd's write_graphite. It imports
// nothing of Heka.
package plaintext

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// Point is one parsed line. Name aliases the input buffer: copy it to keep it.
type Point struct {
	Name      []byte
	Value     float64
	Timestamp int64 // Unix seconds
}

// Parse errors, for counting bad lines by reason.
var (
	ErrFields    = errors.New("want 3 fields: path value timestamp")
	ErrValue     = errors.New("value is not a number")
	ErrTimestamp = errors.New("timestamp is not a Unix time")
)

// ParseLine parses one line, without its line end (a trailing '\r' is
// ignored). The value may be any float Go parses except NaN and ±Inf; the
// timestamp is Unix seconds, with a fractional part (as some senders use)
// truncated. A negative timestamp, as carbon does, means "now" and is
// returned as -1 for the caller to replace.
func ParseLine(line []byte) (Point, error) {
	line = bytes.TrimRight(line, "\r")
	var f [3][]byte
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if n == 3 {
			return Point{}, ErrFields
		}
		f[n] = line[i:j]
		n++
		i = j
	}
	if n != 3 {
		return Point{}, ErrFields
	}
	v, err := strconv.ParseFloat(string(f[1]), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Point{}, ErrValue
	}
	ts, err := parseTimestamp(f[2])
	if err != nil {
		return Point{}, err
	}
	return Point{Name: f[0], Value: v, Timestamp: ts}, nil
}

func parseTimestamp(b []byte) (int64, error) {
	if ts, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		if ts < 0 {
			return -1, nil
		}
		return ts, nil
	}
	fts, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(fts) || math.IsInf(fts, 0) || fts > math.MaxInt64/2 {
		return 0, ErrTimestamp
	}
	if fts < 0 {
		return -1, nil
	}
	return int64(fts), nil
}

// Lines calls fn for every non-empty line of buf (split on '\n').
func Lines(buf []byte, fn func(line []byte)) {
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		var line []byte
		if i < 0 {
			line, buf = buf, nil
		} else {
			line, buf = buf[:i], buf[i+1:]
		}
		if len(bytes.TrimSpace(line)) > 0 {
			fn(line)
		}
	}
}

// AppendLine appends "name value timestamp\n" to dst in the form the
// project's inputs emit: the shortest decimal that round-trips the value.
func AppendLine(dst []byte, name string, value float64, ts int64) []byte {
	dst = append(dst, name...)
	dst = append(dst, ' ')
	dst = strconv.AppendFloat(dst, value, 'f', -1, 64)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ts, 10)
	return append(dst, '\n')
}
