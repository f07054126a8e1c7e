// Package schema holds Graphite's storage rules for whisper files: retention
// definitions ("10s:6h,1m:7d,10m:5y" or the old "seconds:points" form), the
// archive-list checks whisper.py applies, storage-schemas.conf and
// storage-aggregation.conf parsing, and first-match-wins rule lookup with
// defaults that are right for statsd data. It imports nothing of Heka.
package schema

import (
	"fmt"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"math"
	"strconv"
	"strings"
)

// Archive and Archives are the whisper format's archive list, owned by
// internal/whisperfile.
type (
	Archive  = whisperfile.Archive
	Archives = whisperfile.Archives
)

// ErrRetention is wrapped by every retention parse or validation error.
var ErrRetention = whisperfile.ErrRetention

// maxHeaderInt bounds values stored in a whisper header (unsigned 32 bit)
// and keeps products like seconds×points in range.
const maxHeaderInt = math.MaxInt32

var units = []struct {
	word    string
	seconds int
}{
	{"seconds", 1}, {"minutes", 60}, {"hours", 3600}, {"days", 86400},
	{"weeks", 7 * 86400}, {"years", 365 * 86400},
}

// unitSeconds resolves a unit the way whisper.py does: any prefix of
// seconds, minutes, hours, days, weeks or years, first match wins (so "m"
// is minutes).
func unitSeconds(u string) (int, bool) {
	if u == "" {
		return 0, false
	}
	for _, w := range units {
		if strings.HasPrefix(w.word, u) {
			return w.seconds, true
		}
	}
	return 0, false
}

// splitNumber splits "10min" into 10 and "min". Only ASCII digits followed
// by lower-case letters are accepted, as whisper.py's ^(\d+)([a-z]+)$.
func splitNumber(s string) (n int64, unit string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 12 {
		return 0, "", false
	}
	for j := i; j < len(s); j++ {
		if s[j] < 'a' || s[j] > 'z' {
			return 0, "", false
		}
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, s[i:], true
}

// ParseArchive parses one retention definition, "precision:retention":
// precision is seconds, or a number with a unit (10s, 1m, 1h…); retention is
// a number of points, or a duration with a unit that is divided by the
// precision (1d at 1m is 1440 points), as whisper.py's parseRetentionDef.
func ParseArchive(def string) (Archive, error) {
	def = strings.TrimSpace(def)
	prec, pts, found := strings.Cut(def, ":")
	if !found {
		return Archive{}, fmt.Errorf("%w: %q is not precision:retention", ErrRetention, def)
	}
	pn, pu, ok := splitNumber(prec)
	if !ok {
		return Archive{}, fmt.Errorf("%w: precision %q in %q", ErrRetention, prec, def)
	}
	mult := 1
	if pu != "" {
		if mult, ok = unitSeconds(pu); !ok {
			return Archive{}, fmt.Errorf("%w: unknown unit %q in %q", ErrRetention, pu, def)
		}
	}
	precision := pn * int64(mult)
	if precision <= 0 || precision > maxHeaderInt {
		return Archive{}, fmt.Errorf("%w: precision must be 1 to %d seconds in %q", ErrRetention, maxHeaderInt, def)
	}
	rn, ru, ok := splitNumber(pts)
	if !ok {
		return Archive{}, fmt.Errorf("%w: retention %q in %q", ErrRetention, pts, def)
	}
	points := rn
	if ru != "" {
		m, ok := unitSeconds(ru)
		if !ok {
			return Archive{}, fmt.Errorf("%w: unknown unit %q in %q", ErrRetention, ru, def)
		}
		points = rn * int64(m) / precision
	}
	if points <= 0 {
		return Archive{}, fmt.Errorf("%w: %q keeps no point", ErrRetention, def)
	}
	if points > maxHeaderInt || precision*points > maxHeaderInt {
		return Archive{}, fmt.Errorf("%w: %q is too long for a whisper file", ErrRetention, def)
	}
	return Archive{SecondsPerPoint: int(precision), Points: int(points)}, nil
}

// ParseRetentions parses a comma-separated retention list such as
// "10s:6h,1m:7d,10m:5y" (or "10:2160,60:10080"), sorts it finest first and
// validates it as whisper.py does.
func ParseRetentions(s string) (Archives, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty retention list", ErrRetention)
	}
	var as Archives
	for _, def := range strings.Split(s, ",") {
		a, err := ParseArchive(def)
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	if err := as.Validate(); err != nil {
		return nil, err
	}
	return as, nil
}

// FromHekaArchiveInfo converts Heka's stock default_archive_info, a list of
// [offset, seconds_per_point, points] triples (the offset is ignored, as
// Heka did), into a validated archive list.
func FromHekaArchiveInfo(info [][]int64) (Archives, error) {
	var as Archives
	for i, t := range info {
		if len(t) != 3 {
			return nil, fmt.Errorf("%w: default_archive_info entry %d has %d values, want [offset, seconds_per_point, points]", ErrRetention, i, len(t))
		}
		if t[1] <= 0 || t[2] <= 0 || t[1] > maxHeaderInt || t[2] > maxHeaderInt {
			return nil, fmt.Errorf("%w: default_archive_info entry %d: seconds_per_point and points must be 1 to %d", ErrRetention, i, maxHeaderInt)
		}
		as = append(as, Archive{SecondsPerPoint: int(t[1]), Points: int(t[2])})
	}
	if err := as.Validate(); err != nil {
		return nil, err
	}
	return as, nil
}
