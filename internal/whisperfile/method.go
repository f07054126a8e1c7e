package whisperfile

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Method is a whisper aggregation method; its values are the codes stored
// in a whisper header (whisper.py 1.1's aggregationTypeToMethod).
type Method uint32

// The aggregation methods of whisper.py 1.1.
const (
	Average Method = 1
	Sum     Method = 2
	Last    Method = 3
	Max     Method = 4
	Min     Method = 5
	AvgZero Method = 6
	AbsMax  Method = 7
	AbsMin  Method = 8
)

// methodNames are the names whisper.py and the storage-aggregation rules
// use, indexed by code.
var methodNames = [...]string{Average: "average", Sum: "sum", Last: "last", Max: "max", Min: "min",
	AvgZero: "avg_zero", AbsMax: "absmax", AbsMin: "absmin"}

// MethodNames lists every method's name, in code order.
func MethodNames() []string { return append([]string(nil), methodNames[1:]...) }

func (m Method) String() string {
	if m.Valid() {
		return methodNames[m]
	}
	return fmt.Sprintf("method(%d)", uint32(m))
}

// Valid reports whether m is one of whisper.py 1.1's methods.
func (m Method) Valid() bool { return m >= Average && m <= AbsMin }

// ErrMethod is wrapped by ParseMethod errors.
var ErrMethod = errors.New("invalid aggregation method")

// ParseMethod parses an aggregation method name as Graphite writes it in
// storage-aggregation.conf or whisper-create's --aggregationMethod
// (case-insensitive; "avg" is accepted for average).
func ParseMethod(s string) (Method, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "avg" {
		return Average, nil
	}
	for m := Average; m <= AbsMin; m++ {
		if methodNames[m] == name {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of %s)", ErrMethod, s, strings.Join(methodNames[1:], ", "))
}

// Aggregate rolls known values up into one point of a coarser archive as
// whisper.py's aggregate does: known are the finer archive's values present
// in the interval, in time order (at least one), slots the number of finer
// points the interval spans (avg_zero counts the missing ones as 0). Max,
// min, absmax and absmin keep the first of equal candidates, and compare
// NaN the way Python's max and min do.
func Aggregate(m Method, known []float64, slots int) float64 {
	switch m {
	case Sum, Average, AvgZero:
		s := 0.0
		for _, v := range known {
			s += v
		}
		switch m {
		case Average:
			return s / float64(len(known))
		case AvgZero:
			return s / float64(slots)
		}
		return s
	case Last:
		return known[len(known)-1]
	case Max:
		r := known[0]
		for _, v := range known[1:] {
			if v > r {
				r = v
			}
		}
		return r
	case Min:
		r := known[0]
		for _, v := range known[1:] {
			if v < r {
				r = v
			}
		}
		return r
	case AbsMax:
		r := known[0]
		for _, v := range known[1:] {
			if math.Abs(v) > math.Abs(r) {
				r = v
			}
		}
		return r
	case AbsMin:
		r := known[0]
		for _, v := range known[1:] {
			if math.Abs(v) < math.Abs(r) {
				r = v
			}
		}
		return r
	}
	panic(fmt.Sprintf("whisperfile: aggregation method %d passed the header check", m))
}
