// Package protocol parses the statsd line protocol exactly as Etsy statsd
// 0.9.0 (stats.js, lib/helpers.js) does, in one pass over the bytes and
// without allocating. It imports nothing of Heka.
//
// A datagram holds lines separated by '\n'; empty lines are skipped. A line is
//
//	name:value|type[|@rate][:value|type[|@rate]…][|#tag,tag:v]
//
// Everything before the first '|#' is the metric part, the text between the
// first and a second '|#' are DogStatsD tags. The name ends at the first ':'
// and each ':'-separated piece after it is one sample. A line without ':' is a
// bad line; each bad sample is a bad line.
//
// Two deliberate differences from Etsy 0.9.0: types "h" and "d" (DogStatsD
// histograms and distributions) are timers (Etsy counts them as counters), and
// DogStatsD events ("_e{…") and service checks ("_sc|…") are recognised and
// ignored instead of counted as bad lines. Values that are not finite
// (Infinity, 1e999) and sample rates Etsy cannot use (zero, or rates its
// regular expression does not match, which crash Etsy) are bad lines.
package protocol

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// Type is the kind of a sample.
type Type uint8

// Sample types.
const (
	Counter Type = iota
	Timer
	Gauge
	Set
)

func (t Type) String() string {
	switch t {
	case Counter:
		return "counter"
	case Timer:
		return "timer"
	case Gauge:
		return "gauge"
	case Set:
		return "set"
	}
	return "unknown"
}

// Errors for bad samples.
var (
	ErrNoValue    = errors.New("no ':' between name and value")
	ErrNoType     = errors.New("no '|type' after the value")
	ErrSampleRate = errors.New("bad sample rate")
	ErrValue      = errors.New("bad value")
)

// Line is one statsd line split into its parts. All slices alias the input.
type Line struct {
	Name    []byte // raw metric name, before sanitising
	Tags    []byte // raw DogStatsD tag list (without "|#"), empty when none
	Values  []byte // the ':'-separated samples after the name
	Ignored bool   // a DogStatsD event or service check
	NoValue bool   // no ':' after the name: one bad line
}

var tagMark = []byte("|#")

// SplitLine splits one line (without its '\n').
func SplitLine(line []byte) Line {
	var l Line
	if len(line) >= 3 && line[0] == '_' && (line[1] == 'e' && line[2] == '{' ||
		len(line) >= 4 && line[1] == 's' && line[2] == 'c' && line[3] == '|') {
		l.Ignored = true
		return l
	}
	main := line
	if i := bytes.Index(line, tagMark); i >= 0 {
		main = line[:i]
		rest := line[i+2:]
		if j := bytes.Index(rest, tagMark); j >= 0 {
			rest = rest[:j]
		}
		l.Tags = rest
	}
	c := bytes.IndexByte(main, ':')
	if c < 0 {
		l.Name = main
		l.NoValue = true
		return l
	}
	l.Name = main[:c]
	l.Values = main[c+1:]
	return l
}

// NextValue returns the first ':'-separated sample of values and the rest.
// more is false when values held the last sample.
func NextValue(values []byte) (sample, rest []byte, more bool) {
	if i := bytes.IndexByte(values, ':'); i >= 0 {
		return values[:i], values[i+1:], true
	}
	return values, nil, false
}

// SimpleLine recognises the commonest form of line in one pass over its
// bytes: "name:value|c", "name:value|ms" or "name:value|g", where the name
// is at least one byte and needs no sanitising, the value is a plain
// decimal ([-+]digits[.digits], at most 15 digits) and nothing follows the
// type (no sample rate, tags or further samples). For such a line it
// returns the name, which is also its key with or without keep-tags, and
// its one sample, exactly as SplitLine, Key, NextValue and ParseSample
// would; for any other line ok is false and the caller takes that path.
func SimpleLine(line []byte) (name []byte, s Sample, ok bool) {
	name, tags, s, ok := SimpleTaggedLine(line)
	if !ok || len(tags) > 0 {
		return nil, Sample{}, false
	}
	return name, s, true
}

// SimpleTaggedLine is SimpleLine that also accepts a DogStatsD tag list
// after the type: "name:value|type|#tags" where tags hold no '|'. tags is
// that list as sent (empty without one, or for a bare "|#"), what
// SplitLine's Line.Tags would be; name and the sample are what the general
// path gives, and with an empty tag list the name is the key with or
// without keep-tags, as for SimpleLine.
func SimpleTaggedLine(line []byte) (name, tags []byte, s Sample, ok bool) {
	i := 0
	for i < len(line) && keyChar[line[i]] && line[i] != ';' {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		return nil, nil, s, false // ';': a tagged name, normalised on the general path
	}
	rest := line[i+1:]
	j := 0
	for j < len(rest) && rest[j] != '|' {
		j++
	}
	if j == len(rest) {
		return nil, nil, s, false
	}
	num, typ := rest[:j], rest[j+1:]
	k := 0 // a simple type is at most 2 bytes: look no further for its end
	for k < len(typ) && k < 3 && typ[k] != '|' {
		k++
	}
	if k < len(typ) {
		if typ[k] != '|' {
			return nil, nil, s, false
		}
		tags = typ[k+1:]
		typ = typ[:k]
		if len(tags) < 1 || tags[0] != '#' || bytes.IndexByte(tags, '|') >= 0 {
			return nil, nil, s, false // a sample rate, or more after the tags
		}
		tags = tags[1:]
	}
	v, ok := fastDecimal(num)
	if !ok {
		return nil, nil, s, false
	}
	switch {
	case len(typ) == 1 && typ[0] == 'c':
		s.Type, s.Value = Counter, v
	case len(typ) == 2 && typ[0] == 'm' && typ[1] == 's' && !(v < 0):
		s.Type, s.Value, s.Count = Timer, v, 1
	case len(typ) == 1 && typ[0] == 'g':
		s.Type, s.Value = Gauge, v
		s.Delta = num[0] == '+' || num[0] == '-'
	default:
		return nil, nil, s, false
	}
	return line[:i], tags, s, true
}

// Sample is one parsed "value|type[|@rate]".
type Sample struct {
	Type Type
	// Value: for counters already divided by the sample rate (Etsy:
	// value * (1/rate)); for timers and gauges the value as sent.
	Value float64
	// Count is 1/rate: what a timer sample adds to its count.
	Count float64
	// Delta is true for a gauge value with a leading '+' or '-'.
	Delta bool
	// Member is a set's member, as sent ("0" when empty). Aliases the input.
	Member []byte
}

var zeroMember = []byte("0")

// ParseSample parses one sample.
func ParseSample(b []byte) (Sample, error) {
	var s Sample
	p := bytes.IndexByte(b, '|')
	if p < 0 {
		return s, ErrNoType
	}
	f0 := b[:p]
	f1 := b[p+1:]
	var f2 []byte
	hasRate := false
	if q := bytes.IndexByte(f1, '|'); q >= 0 {
		f2 = f1[q+1:]
		f1 = f1[:q]
		if r := bytes.IndexByte(f2, '|'); r >= 0 {
			f2 = f2[:r]
		}
		hasRate = true
	}
	rate := 1.0
	if hasRate {
		var ok bool
		if rate, ok = sampleRate(f2); !ok {
			return s, ErrSampleRate
		}
	}
	// Validation on the raw type (helpers.is_valid_packet), dispatch on the
	// trimmed type (stats.js), as Etsy does.
	var v float64
	isSet := len(f1) == 1 && f1[0] == 's'
	if !isSet {
		var ok bool
		v, ok = jsNumber(f0)
		if !ok || len(f0) == 0 {
			return s, ErrValue
		}
		if len(f1) == 2 && f1[0] == 'm' && f1[1] == 's' && v < 0 {
			return s, ErrValue
		}
	}
	t := jsTrim(f1)
	switch {
	case len(t) == 2 && t[0] == 'm' && t[1] == 's', len(t) == 1 && (t[0] == 'h' || t[0] == 'd'):
		s.Type = Timer
		s.Value = v
		s.Count = 1 / rate
	case len(t) == 1 && t[0] == 'g':
		s.Type = Gauge
		s.Value = v
		s.Delta = len(f0) > 0 && (f0[0] == '+' || f0[0] == '-')
	case len(t) == 1 && t[0] == 's':
		s.Type = Set
		s.Member = f0
		if len(f0) == 0 {
			s.Member = zeroMember
		}
		return s, nil
	default:
		s.Type = Counter
		s.Value = v * (1 / rate)
	}
	if math.IsInf(s.Value, 0) || math.IsNaN(s.Value) {
		return Sample{}, ErrValue
	}
	return s, nil
}

// sampleRate checks "@rate" as helpers.isValidSampleRate does and returns
// Number(/^@([\d\.]+)/ match) as stats.js computes it.
func sampleRate(f []byte) (float64, bool) {
	if len(f) < 2 || f[0] != '@' {
		return 0, false
	}
	num := f[1:]
	if num[0] == '-' {
		return 0, false
	}
	if _, ok := jsNumber(num); !ok {
		return 0, false
	}
	n := 0
	for n < len(num) && (num[n] >= '0' && num[n] <= '9' || num[n] == '.') {
		n++
	}
	if n == 0 {
		return 0, false // Etsy throws a TypeError here
	}
	r, ok := jsNumber(num[:n])
	if !ok || r <= 0 || math.IsInf(r, 0) || math.IsInf(1/r, 0) {
		return 0, false
	}
	return r, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15}

// jsNumber converts b as JavaScript's Number(string) does (whitespace
// trimmed, "" is 0, Infinity, 0x/0o/0b integers, decimal with exponent).
// ok is false where JavaScript gives NaN.
func jsNumber(b []byte) (float64, bool) {
	// Fast path: [-+]?digits[.digits] with at most 15 digits is exact.
	if v, ok := fastDecimal(b); ok {
		return v, true
	}
	b = jsTrim(b)
	if len(b) == 0 {
		return 0, true
	}
	neg := false
	body := b
	if body[0] == '+' || body[0] == '-' {
		neg = body[0] == '-'
		body = body[1:]
	}
	if string(body) == "Infinity" {
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	if len(b) > 2 && b[0] == '0' {
		base := 0
		switch b[1] | 0x20 {
		case 'x':
			base = 16
		case 'o':
			base = 8
		case 'b':
			base = 2
		}
		if base != 0 {
			return radixInt(b[2:], base)
		}
	}
	if !decimalSyntax(body) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return v, true
}

func fastDecimal(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i++
	}
	var mant uint64
	digits, frac := 0, 0
	dot := false
	start := i
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 || i == start {
		return 0, false
	}
	v := float64(mant)
	if frac > 0 {
		v /= pow10[frac]
	}
	if neg {
		v = -v
	}
	return v, true
}

func radixInt(b []byte, base int) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	v := 0.0
	for _, c := range b {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		v = v*float64(base) + float64(d)
	}
	return v, true
}

// decimalSyntax reports whether b (sign removed) is a JavaScript decimal
// literal: digits[.digits][e[+-]digits] or .digits[e…].
func decimalSyntax(b []byte) bool {
	i, n := 0, 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
		n++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
	}
	if n == 0 {
		return false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		e := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			e++
		}
		if e == 0 {
			return false
		}
	}
	return i == len(b)
}

// jsSpace reports whether r is whitespace for JavaScript's \s and trim().
func jsSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// jsTrim trims JavaScript whitespace from both ends.
func jsTrim(b []byte) []byte {
	for len(b) > 0 {
		r, n := rune(b[0]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(b)
		}
		if !jsSpace(r) {
			break
		}
		b = b[n:]
	}
	for len(b) > 0 {
		r, n := rune(b[len(b)-1]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeLastRune(b)
		}
		if !jsSpace(r) {
			break
		}
		b = b[:len(b)-n]
	}
	return b
}

// keyChar marks the bytes Etsy keeps in a key: [a-zA-Z_\-0-9.;=].
var keyChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_-.;=" {
		t[c] = true
	}
	return t
}()

// clean reports whether b needs no sanitising.
func clean(b []byte) bool {
	for _, c := range b {
		if !keyChar[c] {
			return false
		}
	}
	return true
}

// sanitizer appends text the way Etsy's sanitizeKeyName rewrites it: runs of
// whitespace become '_', '/' becomes '-', other bytes outside
// [a-zA-Z_\-0-9.;=] are removed (non-ASCII characters included).
type sanitizer struct{ inSpace bool }

func (s *sanitizer) append(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case keyChar[c]:
				dst = append(dst, c)
				s.inSpace = false
			case jsSpace(rune(c)):
				if !s.inSpace {
					dst = append(dst, '_')
				}
				s.inSpace = true
			case c == '/':
				dst = append(dst, '-')
				s.inSpace = false
			default:
				s.inSpace = false
			}
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		i += n
		if jsSpace(r) {
			if !s.inSpace {
				dst = append(dst, '_')
			}
			s.inSpace = true
		} else {
			s.inSpace = false
		}
	}
	return dst
}

func (s *sanitizer) appendByte(dst []byte, c byte) []byte {
	return s.append(dst, []byte{c})
}

// Key returns the aggregation key of a line: the sanitised name, followed
// (when keepTags) by ";tag" for each DogStatsD tag, with a tag's first ':'
// turned into '=' and its first ';' into '_', all sanitised, as Etsy 0.9.0
// builds it. When nothing needs rewriting the name itself is returned;
// otherwise the key is built in scratch (grown as needed) and the grown
// scratch is returned too, for reuse.
func Key(scratch, name, tags []byte, keepTags bool) (key, newScratch []byte) {
	if !keepTags || len(tags) == 0 {
		if clean(name) {
			return name, scratch
		}
		var s sanitizer
		scratch = s.append(scratch[:0], name)
		return scratch, scratch
	}
	if out, ok := cleanTaggedKey(scratch[:0], name, tags); ok {
		return out, out
	}
	var s sanitizer
	out := s.append(scratch[:0], name)
	for last := false; !last; {
		tag := tags
		if i := bytes.IndexByte(tags, ','); i >= 0 {
			tag, tags = tags[:i], tags[i+1:]
		} else {
			last = true
		}
		var t sanitizer
		out = append(out, ';')
		semi, colon := false, false
		start := 0
		for j := 0; j < len(tag); j++ {
			switch {
			case tag[j] == ';' && !semi:
				semi = true
				out = t.append(out, tag[start:j])
				out = t.appendByte(out, '_')
				start = j + 1
			case tag[j] == ':' && !colon:
				colon = true
				out = t.append(out, tag[start:j])
				out = t.appendByte(out, '=')
				start = j + 1
			}
		}
		out = t.append(out, tag[start:])
	}
	return out, out
}

// Errors for tags Graphite cannot keep (see NormalizeTags).
var (
	ErrTagEmptyKey   = errors.New("tag with an empty key (\":value\")")
	ErrTagEmptyValue = errors.New("tag with an empty value (\"key:\")")
)

// BareTagValue is the value a bare DogStatsD tag ("|#canary", no ':') gets:
// Graphite 1.1 tags need a value, so it becomes "canary=true". (Etsy 0.9.0
// sends "name;canary", which carbon 1.1.7 cannot parse and stores under an
// unnormalised name graphite-web does not index.)
const BareTagValue = "true"

// maxStackTags is how many tags NormalizeTags sorts without allocating.
const maxStackTags = 16

type tagSeg struct{ start, eq, end int } // key = k[start:eq], value = k[eq+1:end]; eq == end: bare

// NormalizeTags rewrites the ";tag" part of an Etsy key (everything after
// the key's first ';', see Key) as carbon 1.1.7 normalises a tagged name:
// tags sorted (as carbon sorts its ";key=value" strings), a repeated key
// keeps its last value, a "name" tag is dropped (carbon's name tag is the
// name itself). On top of carbon: an empty tag (",," or a tag emptied by
// sanitising) is skipped and a bare tag gets the value BareTagValue. A tag
// with an empty key or value is an error (the line is a bad line). A key
// without ';' is returned as it is; otherwise the result is built in work
// (grown as needed, returned for reuse). No tags left: the plain name.
func NormalizeTags(key, work []byte) (norm, newWork []byte, err error) {
	semi := bytes.IndexByte(key, ';')
	if semi < 0 {
		return key, work, nil
	}
	var stack [maxStackTags]tagSeg
	segs := stack[:0]
	for start := semi + 1; start <= len(key); {
		end := start + bytes.IndexByte(key[start:], ';')
		if end < start {
			end = len(key)
		}
		if end > start {
			eq := start + bytes.IndexByte(key[start:end], '=')
			switch {
			case eq < start:
				eq = end // bare tag
			case eq == start:
				return nil, work, ErrTagEmptyKey
			case eq == end-1:
				return nil, work, ErrTagEmptyValue
			}
			if string(key[start:eq]) != "name" {
				segs = append(segs, tagSeg{start, eq, end})
			}
		}
		start = end + 1
	}
	// Stable insertion sort by key (carbon's order), so that among equal
	// keys the last one sent stays last.
	for i := 1; i < len(segs); i++ {
		for j := i; j > 0 && compareTagKeys(key, segs[j-1], segs[j]) > 0; j-- {
			segs[j-1], segs[j] = segs[j], segs[j-1]
		}
	}
	work = append(work[:0], key[:semi]...)
	for i, sg := range segs {
		if i+1 < len(segs) && compareTagKeys(key, sg, segs[i+1]) == 0 {
			continue // a later value for the same key wins
		}
		work = append(work, ';')
		work = append(work, key[sg.start:sg.end]...)
		if sg.eq == sg.end {
			work = append(work, '=')
			work = append(work, BareTagValue...)
		}
	}
	return work, work, nil
}

// compareTagKeys orders two tags by key+"=" as bytes: the order carbon's
// sorted() gives their ";key=value" strings when keys are unique (a key
// never holds '=').
func compareTagKeys(k []byte, a, b tagSeg) int {
	ka, kb := k[a.start:a.eq], k[b.start:b.eq]
	n := min(len(ka), len(kb))
	if c := bytes.Compare(ka[:n], kb[:n]); c != 0 {
		return c
	}
	switch {
	case len(ka) == len(kb):
		return 0
	case len(ka) < len(kb):
		if '=' < kb[n] {
			return -1
		}
		return 1
	default:
		if ka[n] < '=' {
			return -1
		}
		return 1
	}
}

// cleanTaggedKey is Key for the common case where the name and the tags
// hold only bytes sanitising keeps (plus the tags' ',' and ':'): one pass
// that copies, turning ',' into ';', each tag's first ':' into '=' (later
// ones are removed, as sanitising removes them) and its first ';' into '_'.
// ok is false, and the caller takes the general path, for any other byte.
func cleanTaggedKey(dst, name, tags []byte) (out []byte, ok bool) {
	if !clean(name) {
		return dst, false
	}
	dst = append(dst, name...)
	dst = append(dst, ';')
	colon, semi := false, false
	for _, c := range tags {
		switch {
		case c == ',':
			dst = append(dst, ';')
			colon, semi = false, false
		case c == ':':
			if !colon {
				dst = append(dst, '=')
				colon = true
			}
		case c == ';':
			if semi {
				dst = append(dst, ';')
			} else {
				dst = append(dst, '_')
				semi = true
			}
		case keyChar[c]:
			dst = append(dst, c)
		default:
			return dst, false
		}
	}
	return dst, true
}
