package whisperfile

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Sizes of the whisper format's parts, in bytes.
const (
	MetadataSize    = 16
	ArchiveInfoSize = 12
	PointSize       = 12
	// MaxArchives bounds the archive count of a header.
	MaxArchives = 64
	// maxHeaderInt bounds values stored in a header (unsigned 32 bit,
	// kept to int32 as whisper.py's struct format does).
	maxHeaderInt = math.MaxInt32
)

// Method is a whisper aggregation method; its values are those stored in a
// whisper header by whisper.py 1.1.
type Method int

// The eight aggregation methods of whisper.py 1.1.
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

var methodNames = [...]string{Average: "average", Sum: "sum", Last: "last", Max: "max", Min: "min",
	AvgZero: "avg_zero", AbsMax: "absmax", AbsMin: "absmin"}

// String is the method's name as whisper.py spells it.
func (m Method) String() string {
	if m.Valid() {
		return methodNames[m]
	}
	return fmt.Sprintf("method(%d)", int(m))
}

// Valid reports whether m is one of whisper.py 1.1's eight methods.
func (m Method) Valid() bool { return m >= Average && m <= AbsMin }

// ErrMethod is wrapped by ParseMethod errors.
var ErrMethod = errors.New("invalid aggregation method")

// ParseMethod parses an aggregation method name as Graphite writes it
// (case-insensitive; "avg" is accepted for average).
func ParseMethod(s string) (Method, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	if n == "avg" {
		return Average, nil
	}
	for m := Average; m <= AbsMin; m++ {
		if methodNames[m] == n {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want average, sum, last, max, min, avg_zero, absmax or absmin)", ErrMethod, s)
}

// ErrRetention is wrapped by every archive-list validation error.
var ErrRetention = errors.New("invalid retention")

// Archive is one retention level: a point every SecondsPerPoint seconds,
// Points of them.
type Archive struct {
	SecondsPerPoint int
	Points          int
}

// Retention is the time the archive covers, in seconds.
func (a Archive) Retention() int { return a.SecondsPerPoint * a.Points }

// Size is the archive's size in bytes.
func (a Archive) Size() int64 { return int64(a.Points) * PointSize }

// Archives is a file's archive list, finest first once validated.
type Archives []Archive

// String renders the list in Graphite's "seconds:points" form.
func (as Archives) String() string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = fmt.Sprintf("%d:%d", a.SecondsPerPoint, a.Points)
	}
	return strings.Join(parts, ",")
}

// Equal reports whether two archive lists are the same.
func (as Archives) Equal(bs Archives) bool {
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// MaxRetention is the retention of the coarsest archive.
func (as Archives) MaxRetention() int {
	m := 0
	for _, a := range as {
		if r := a.Retention(); r > m {
			m = r
		}
	}
	return m
}

// Validate sorts the list finest first and applies whisper.py's
// validateArchiveList rules, so a file created from it is one Graphite
// accepts.
func (as Archives) Validate() error {
	if len(as) == 0 {
		return fmt.Errorf("%w: no archive", ErrRetention)
	}
	if len(as) > MaxArchives {
		return fmt.Errorf("%w: %d archives, at most %d", ErrRetention, len(as), MaxArchives)
	}
	sort.SliceStable(as, func(i, j int) bool { return as[i].SecondsPerPoint < as[j].SecondsPerPoint })
	var total int64
	for i, a := range as {
		if a.SecondsPerPoint <= 0 || a.Points <= 0 {
			return fmt.Errorf("%w: archive %d has %d seconds per point and %d points", ErrRetention, i, a.SecondsPerPoint, a.Points)
		}
		if int64(a.SecondsPerPoint)*int64(a.Points) > maxHeaderInt {
			return fmt.Errorf("%w: archive %d covers more than %d seconds", ErrRetention, i, maxHeaderInt)
		}
		total += int64(a.Points) * PointSize
		if i == len(as)-1 {
			break
		}
		next := as[i+1]
		if a.SecondsPerPoint == next.SecondsPerPoint {
			return fmt.Errorf("%w: two archives with the same precision %ds", ErrRetention, a.SecondsPerPoint)
		}
		if next.SecondsPerPoint%a.SecondsPerPoint != 0 {
			return fmt.Errorf("%w: precision %ds does not evenly divide %ds", ErrRetention, a.SecondsPerPoint, next.SecondsPerPoint)
		}
		if next.Retention() <= a.Retention() {
			return fmt.Errorf("%w: archive %ds:%d must cover a longer time than %ds:%d", ErrRetention,
				next.SecondsPerPoint, next.Points, a.SecondsPerPoint, a.Points)
		}
		if a.Points < next.SecondsPerPoint/a.SecondsPerPoint {
			return fmt.Errorf("%w: archive %ds:%d has too few points to consolidate into %ds", ErrRetention,
				a.SecondsPerPoint, a.Points, next.SecondsPerPoint)
		}
	}
	if total > maxHeaderInt {
		return fmt.Errorf("%w: file would be %d bytes, too large for a whisper header", ErrRetention, total)
	}
	return nil
}
