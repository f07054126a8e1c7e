// Package attime parses Graphite's time expressions (graphite-web's
// render/attime.py): Unix seconds, "now", relative offsets such as "-1h" or
// "-7d", absolute forms "HH:MM_YYYYMMDD", "YYYYMMDD", "MM/DD/YY", month
// and weekday names, "noon", "midnight", "teatime", "yesterday", "today",
// "tomorrow", optionally followed by an offset.
package attime

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

var months = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// MaxLen bounds the accepted input.
const MaxLen = 100

// Parse parses s relative to now in the location loc.
func Parse(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if len(s) > MaxLen {
		return time.Time{}, fmt.Errorf("time %q too long", s[:20]+"…")
	}
	now = now.In(loc)
	orig := s
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.NewReplacer("_", "", ",", "", " ", "").Replace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if isDigits(s) {
		if !(len(s) == 8 && atoi(s[:4]) > 1900 && atoi(s[4:6]) < 13 && atoi(s[6:]) < 32) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n > 1<<40 {
				return time.Time{}, fmt.Errorf("invalid timestamp %q", orig)
			}
			return time.Unix(n, 0).In(loc), nil
		}
	}
	ref, offset := s, ""
	if i := strings.IndexByte(s, '+'); i >= 0 {
		ref, offset = s[:i], s[i:]
	} else if i := strings.IndexByte(s, '-'); i >= 0 {
		ref, offset = s[:i], s[i:]
	}
	t, err := parseReference(ref, now, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: %w", orig, err)
	}
	d, err := ParseOffset(offset)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q: %w", orig, err)
	}
	return t.Add(d), nil
}

func parseReference(ref string, now time.Time, loc *time.Location) (time.Time, error) {
	if ref == "" || ref == "now" {
		return now, nil
	}
	raw := ref
	hour, minute := 0, 0
	if i := strings.IndexByte(ref, ':'); i > 0 && i < 3 {
		if !isDigits(ref[:i]) || len(ref) < i+3 || !isDigits(ref[i+1:i+3]) {
			return time.Time{}, fmt.Errorf("bad time of day %q", raw)
		}
		hour, minute = atoi(ref[:i]), atoi(ref[i+1:i+3])
		ref = ref[i+3:]
		if strings.HasPrefix(ref, "am") {
			ref = ref[2:]
		} else if strings.HasPrefix(ref, "pm") {
			hour = (hour + 12) % 24
			ref = ref[2:]
		}
	}
	if i := strings.Index(ref, "am"); i > 0 && i < 3 && isDigits(ref[:i]) {
		hour = atoi(ref[:i])
		ref = ref[i+2:]
	}
	if i := strings.Index(ref, "pm"); i > 0 && i < 3 && isDigits(ref[:i]) {
		hour = (atoi(ref[:i]) + 12) % 24
		ref = ref[i+2:]
	}
	switch {
	case strings.HasPrefix(ref, "noon"):
		hour, minute, ref = 12, 0, ref[4:]
	case strings.HasPrefix(ref, "midnight"):
		hour, minute, ref = 0, 0, ref[8:]
	case strings.HasPrefix(ref, "teatime"):
		hour, minute, ref = 16, 0, ref[7:]
	}
	if hour > 23 || minute > 59 {
		return time.Time{}, fmt.Errorf("bad time of day %q", raw)
	}
	y, mo, d := now.Date()
	date := func(y int, mo time.Month, d int) (time.Time, error) {
		t := time.Date(y, mo, d, hour, minute, 0, 0, loc)
		if t.Day() != d || t.Month() != mo {
			return time.Time{}, fmt.Errorf("day is out of range for month in %q", raw)
		}
		return t, nil
	}
	switch {
	case ref == "" || ref == "today":
		return date(y, mo, d)
	case ref == "yesterday":
		return time.Date(y, mo, d-1, hour, minute, 0, 0, loc), nil
	case ref == "tomorrow":
		return time.Date(y, mo, d+1, hour, minute, 0, 0, loc), nil
	case strings.Count(ref, "/") == 2:
		p := strings.Split(ref, "/")
		if !isDigits(p[0]) || !isDigits(p[1]) || !isDigits(p[2]) || len(p[2]) > 4 {
			return time.Time{}, fmt.Errorf("bad date %q", raw)
		}
		yy := atoi(p[2])
		if yy < 1900 {
			yy += 1900
		}
		if yy < 1970 {
			yy += 100
		}
		return date(yy, time.Month(atoi(p[0])), atoi(p[1]))
	case len(ref) == 8 && isDigits(ref):
		return date(atoi(ref[:4]), time.Month(atoi(ref[4:6])), atoi(ref[6:8]))
	case len(ref) >= 3 && index(months, ref[:3]) >= 0:
		var day int
		switch {
		case len(ref) >= 2 && isDigits(ref[len(ref)-2:]):
			day = atoi(ref[len(ref)-2:])
		case isDigits(ref[len(ref)-1:]):
			day = atoi(ref[len(ref)-1:])
		default:
			return time.Time{}, fmt.Errorf("day of month required after month name")
		}
		return date(y, time.Month(index(months, ref[:3])+1), day)
	case len(ref) >= 3 && index(weekdays, ref[:3]) >= 0:
		today := int(now.Weekday())
		off := today - index(weekdays, ref[:3])
		if off < 0 {
			off += 7
		}
		return time.Date(y, mo, d-off, hour, minute, 0, 0, loc), nil
	}
	return time.Time{}, fmt.Errorf("unknown day reference: %s", raw)
}

// ParseOffset parses a signed offset such as "-1h", "+30min", "1d2h"
// (months are 30 days, years 365 days, as in Graphite).
func ParseOffset(offset string) (time.Duration, error) {
	if offset == "" {
		return 0, nil
	}
	sign := int64(1)
	switch offset[0] {
	case '+':
		offset = offset[1:]
	case '-':
		sign = -1
		offset = offset[1:]
	default:
		if offset[0] < '0' || offset[0] > '9' {
			return 0, fmt.Errorf("invalid offset: %s", offset)
		}
	}
	var total int64
	for offset != "" {
		i := 0
		for i < len(offset) && offset[i] >= '0' && offset[i] <= '9' {
			i++
		}
		if i == 0 || i > 12 {
			return 0, fmt.Errorf("invalid offset number in %q", offset)
		}
		num, _ := strconv.ParseInt(offset[:i], 10, 64)
		offset = offset[i:]
		j := 0
		for j < len(offset) && ((offset[j] >= 'a' && offset[j] <= 'z') || (offset[j] >= 'A' && offset[j] <= 'Z')) {
			j++
		}
		unit := strings.ToLower(offset[:j])
		offset = offset[j:]
		secs, err := unitSeconds(unit)
		if err != nil {
			return 0, err
		}
		total += num * secs
		if total > 1<<40 {
			return 0, fmt.Errorf("offset too large")
		}
	}
	return time.Duration(sign*total) * time.Second, nil
}

func unitSeconds(u string) (int64, error) {
	switch {
	case strings.HasPrefix(u, "s"):
		return 1, nil
	case strings.HasPrefix(u, "min"):
		return 60, nil
	case strings.HasPrefix(u, "h"):
		return 3600, nil
	case strings.HasPrefix(u, "d"):
		return 86400, nil
	case strings.HasPrefix(u, "w"):
		return 7 * 86400, nil
	case strings.HasPrefix(u, "mon"):
		return 30 * 86400, nil
	case strings.HasPrefix(u, "y"):
		return 365 * 86400, nil
	}
	return 0, fmt.Errorf("invalid offset unit '%s'", u)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
