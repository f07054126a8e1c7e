package metricpath

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Tagged series (Graphite 1.1): "name;key=value;key2=value2".
//
// The rules are carbon 1.1.7's and graphite-web 1.1.8's TaggedSeries
// (carbon/util.py, graphite/tags/utils.py):
//   - the text is split on ';'; the first part is the name, every further part
//     must be key=value (split at the first '=', so a value may hold '=');
//   - a key must not be empty nor hold any of ';', '!', '^', '=';
//   - a value must not be empty nor start with '~';
//   - a later key overrides an earlier one (carbon keeps them in a dict);
//   - a key "name" is overridden by the name itself;
//   - the name loses its leading '~' characters and must not end up empty;
//   - the normalised form is the name followed by the ";key=value" parts
//     sorted as strings (Python's sorted on ";k=v", which is not quite the same
//     as sorting by key: ";a-=1" sorts before ";a=1").
//
// On top of carbon's rules, a tagged name must be valid UTF-8 (carbon decodes
// every line as UTF-8 and hashes the UTF-8 bytes) and must not hold NUL.

// TaggedDir is the top folder carbon 1.1 keeps tagged series in. A plain
// (untagged) name whose first component is TaggedDir is refused, so every
// file under it is a tagged series.
const TaggedDir = "_tagged"

// Tag is one key=value pair of a tagged series.
type Tag struct {
	Key, Value string
}

// Errors for malformed tagged names. Each wraps ErrTag, so
// errors.Is(err, ErrTag) tells a tag problem from any other.
var (
	ErrTag           = errors.New("malformed tagged name")
	ErrTagEmptyName  = fmt.Errorf("%w: empty name before ';'", ErrTag)
	ErrTagNoEquals   = fmt.Errorf("%w: '=' missing in tag", ErrTag)
	ErrTagEmptyKey   = fmt.Errorf("%w: empty tag key", ErrTag)
	ErrTagKeyChar    = fmt.Errorf("%w: forbidden character in tag key", ErrTag)
	ErrTagEmptyValue = fmt.Errorf("%w: empty tag value", ErrTag)
	ErrTagValueTilde = fmt.Errorf("%w: tag value starts with '~'", ErrTag)
	ErrTagUTF8       = fmt.Errorf("%w: not valid UTF-8", ErrTag)
	ErrTagNUL        = fmt.Errorf("%w: NUL byte", ErrTag)
	// ErrReserved refuses a plain name in carbon's tagged folder.
	ErrReserved = errors.New("plain metric name may not start with \"" + TaggedDir + ".\"")
)

// IsTagged reports whether s is written as a tagged series: it holds a ';',
// or it is in the OpenMetrics form carbon also parses, name{k="v",…} (ends
// with `"}` and holds a '{').
func IsTagged(s string) bool {
	return strings.IndexByte(s, ';') >= 0 || isOpenMetrics(s)
}

func isOpenMetrics(s string) bool {
	return strings.HasSuffix(s, `"}`) && strings.IndexByte(s, '{') >= 0
}

// ParseTagged splits a tagged series into its name and tags, sorted as carbon
// sorts them, with duplicate keys resolved as carbon does (the last wins) and
// a "name" tag dropped (the name wins). A string without ';' is returned as the
// name with no tags and no checks: plain names keep Rel's rules. Errors wrap
// ErrTag (or ErrTooLong) and name the reason and the offending part.
func ParseTagged(s string) (name string, tags []Tag, err error) {
	if !IsTagged(s) {
		return s, nil, nil
	}
	if len(s) > MaxName {
		return "", nil, fmt.Errorf("%w: %d bytes", ErrTooLong, len(s))
	}
	if !utf8.ValidString(s) {
		return "", nil, fmt.Errorf("%w in %q", ErrTagUTF8, truncate(s))
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", nil, fmt.Errorf("%w in %q", ErrTagNUL, truncate(s))
	}
	if isOpenMetrics(s) {
		return parseOpenMetrics(s)
	}
	raw, rest, _ := strings.Cut(s, ";")
	name = strings.TrimLeft(raw, "~")
	if name == "" {
		return "", nil, fmt.Errorf("%w in %q", ErrTagEmptyName, truncate(s))
	}
	tags = make([]Tag, 0, strings.Count(rest, ";")+1)
	for {
		seg, more, found := strings.Cut(rest, ";")
		t, err := parseSegment(seg)
		if err != nil {
			return "", nil, err
		}
		tags = addTag(tags, t)
		if !found {
			break
		}
		rest = more
	}
	tags = slices.DeleteFunc(tags, func(t Tag) bool { return t.Key == "name" })
	slices.SortFunc(tags, compareTags)
	return name, tags, nil
}

// parseSegment checks one "key=value" part with carbon's rules.
func parseSegment(seg string) (Tag, error) {
	key, value, found := strings.Cut(seg, "=")
	if !found {
		return Tag{}, fmt.Errorf("%w: %q", ErrTagNoEquals, truncate(seg))
	}
	if key == "" {
		return Tag{}, fmt.Errorf("%w: %q", ErrTagEmptyKey, truncate(seg))
	}
	if i := strings.IndexAny(key, "!^;"); i >= 0 {
		return Tag{}, fmt.Errorf("%w: %q in %q", ErrTagKeyChar, key[i], truncate(key))
	}
	if value == "" {
		return Tag{}, fmt.Errorf("%w for %q", ErrTagEmptyValue, truncate(key))
	}
	if value[0] == '~' {
		return Tag{}, fmt.Errorf("%w for %q", ErrTagValueTilde, truncate(key))
	}
	return Tag{Key: key, Value: value}, nil
}

// addTag appends t, or overwrites the value of an earlier tag with its key.
func addTag(tags []Tag, t Tag) []Tag {
	for i := range tags {
		if tags[i].Key == t.Key {
			tags[i].Value = t.Value
			return tags
		}
	}
	return append(tags, t)
}

// compareTags orders tags as Python's sorted() orders their ";key=value"
// strings: by key+"="+value compared byte by byte (UTF-8 byte order is code
// point order).
func compareTags(a, b Tag) int {
	n := min(len(a.Key), len(b.Key))
	if c := strings.Compare(a.Key[:n], b.Key[:n]); c != 0 {
		return c
	}
	// One key is a prefix of the other: the shorter one continues with '=',
	// the longer one with its next key byte (never '=').
	switch {
	case len(a.Key) == len(b.Key):
		return strings.Compare(a.Value, b.Value)
	case len(a.Key) < len(b.Key):
		return compareByte('=', b.Key[n])
	default:
		return compareByte(a.Key[n], '=')
	}
}

func compareByte(a, b byte) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Format writes name and tags in carbon's normalised form, in the order given
// ("name;k1=v1;k2=v2").
func Format(name string, tags []Tag) string {
	n := len(name)
	for _, t := range tags {
		n += len(t.Key) + len(t.Value) + 2
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(name)
	for _, t := range tags {
		b.WriteByte(';')
		b.WriteString(t.Key)
		b.WriteByte('=')
		b.WriteString(t.Value)
	}
	return b.String()
}

// Normalize returns s in carbon's normalised form: "name;k1=v1;k2=v2" with the
// tags sorted and deduplicated. A plain name is returned as it is. A tagged
// name whose only tag is "name" normalises to a plain name, as in carbon.
func Normalize(s string) (string, error) {
	if !IsTagged(s) {
		return s, nil
	}
	name, tags, err := ParseTagged(s)
	if err != nil {
		return "", err
	}
	return Format(name, tags), nil
}

// Tokens a tagged file name uses for characters that would make folders.
// "_DOT_" is carbon's; "_SLASH_" is this project's (carbon writes '/' as it
// is, which makes a folder, so such a file is not where carbon would put it).
const (
	dotToken   = "_DOT_"
	slashToken = "_SLASH_"
)

var tagEncoder = strings.NewReplacer(".", dotToken, "/", slashToken)

// splitTagged is Split for a tagged name: carbon 1.1's non-hashed layout
// (TAG_HASH_FILENAMES = False), _tagged/<sha256[0:3]>/<sha256[3:6]>/<name>.wsp,
// where sha256 is of the normalised name and <name> is the normalised name
// with '.' written as _DOT_ and '/' as _SLASH_.
func splitTagged(s string) (dir, file string, err error) {
	norm, err := Normalize(s)
	if err != nil {
		return "", "", err
	}
	if !IsTagged(norm) {
		return splitPlain(norm)
	}
	if filepath.Separator != '/' && strings.IndexByte(norm, filepath.Separator) >= 0 {
		return "", "", fmt.Errorf("%w %q in %q", ErrChar, filepath.Separator, truncate(norm))
	}
	file = tagEncoder.Replace(norm) + Ext
	if len(file) > MaxComponent {
		return "", "", fmt.Errorf("%w: tagged file name of %d bytes for %q", ErrLongPart, len(file), truncate(norm))
	}
	sum := sha256.Sum256([]byte(norm))
	h := hex.EncodeToString(sum[:3])
	sep := string(filepath.Separator)
	return TaggedDir + sep + h[0:3] + sep + h[3:6], file, nil
}

// maxCandidates bounds how many decodings of one tagged file name Name tries.
const maxCandidates = 256

// taggedName maps a file under _tagged/ (slash form) back to its normalised
// tagged name. The file name is decoded (_DOT_ → '.', _SLASH_ → '/'); where a
// token could also be literal text, every reading is tried (all decoded first,
// then all literal, then the mixed ones, at most maxCandidates) and the one
// whose hash matches the two folders and that is already normalised wins.
func taggedName(rel string) (string, bool) {
	parts := strings.Split(rel, "/")
	if len(parts) != 4 || parts[0] != TaggedDir || !isHex3(parts[1]) || !isHex3(parts[2]) {
		return "", false
	}
	stem, ok := strings.CutSuffix(parts[3], Ext)
	if !ok || !IsTagged(stem) {
		return "", false
	}
	want := parts[1] + parts[2]
	try := func(c string) bool { return matchesTagged(c, want, rel) }
	decoded := strings.NewReplacer(dotToken, ".", slashToken, "/").Replace(stem)
	if try(decoded) {
		return decoded, true
	}
	if decoded == stem {
		return "", false
	}
	if try(stem) {
		return stem, true
	}
	budget := maxCandidates
	var found string
	var walk func(prefix []byte, i int) bool
	walk = func(prefix []byte, i int) bool {
		if budget <= 0 {
			return false
		}
		if i == len(stem) {
			budget--
			if c := string(prefix); try(c) {
				found = c
				return true
			}
			return false
		}
		for _, tok := range [...]struct {
			text string
			char byte
		}{{dotToken, '.'}, {slashToken, '/'}} {
			if strings.HasPrefix(stem[i:], tok.text) && walk(append(prefix, tok.char), i+len(tok.text)) {
				return true
			}
		}
		return walk(append(prefix, stem[i]), i+1)
	}
	if walk(make([]byte, 0, len(stem)), 0) {
		return found, true
	}
	return "", false
}

// matchesTagged reports whether c is a normalised tagged name whose hash
// starts with want and whose path is rel.
func matchesTagged(c, want, rel string) bool {
	sum := sha256.Sum256([]byte(c))
	if hex.EncodeToString(sum[:3]) != want {
		return false
	}
	norm, err := Normalize(c)
	if err != nil || norm != c || !IsTagged(c) {
		return false
	}
	back, err := Rel(c)
	return err == nil && filepath.ToSlash(back) == rel
}

func isHex3(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ErrTagOpenMetrics is a malformed name{k="v",…} form.
var ErrTagOpenMetrics = fmt.Errorf("%w: bad OpenMetrics tag list", ErrTag)

// parseOpenMetrics is carbon's parse_openmetrics: metric{k="v",k2="v2"},
// values with \" and \\ escapes, pairs separated by ',' (or ":,", as
// carbon's regular expression also allows); the same key and value rules.
func parseOpenMetrics(s string) (string, []Tag, error) {
	body := s[:len(s)-1] // without the final '}'
	raw, rest, _ := strings.Cut(body, "{")
	if strings.IndexByte(rest, '{') >= 0 {
		return "", nil, fmt.Errorf("%w: more than one '{' in %q", ErrTagOpenMetrics, truncate(s))
	}
	if raw == "" {
		return "", nil, fmt.Errorf("%w in %q", ErrTagEmptyName, truncate(s))
	}
	if strings.IndexByte(raw, ';') >= 0 {
		// Carbon would keep "a;x=1{b=\"c\"}" as "a;x=1;b=c", which is not
		// normalised: refused, so that a series stays one file.
		return "", nil, fmt.Errorf("%w: ';' in the name of %q", ErrTagOpenMetrics, truncate(s))
	}
	var tags []Tag
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || eq+1 >= len(rest) || rest[eq+1] != '"' {
			return "", nil, fmt.Errorf("%w: %q", ErrTagOpenMetrics, truncate(rest))
		}
		key := rest[:eq]
		var v strings.Builder
		i := eq + 2
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' {
				if i+1 >= len(rest) || (rest[i+1] != '"' && rest[i+1] != '\\') {
					return "", nil, fmt.Errorf("%w: bad escape in %q", ErrTagOpenMetrics, truncate(rest))
				}
				i++
			}
			v.WriteByte(rest[i])
		}
		if i >= len(rest) || i == eq+2 {
			return "", nil, fmt.Errorf("%w: %q", ErrTagOpenMetrics, truncate(rest))
		}
		rest = rest[i+1:]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ","):
			rest = rest[1:]
		case strings.HasPrefix(rest, ":,"):
			rest = rest[2:]
		default:
			return "", nil, fmt.Errorf("%w: %q", ErrTagOpenMetrics, truncate(rest))
		}
		t, err := parseSegment(key + "=" + v.String())
		if err != nil {
			return "", nil, err
		}
		if strings.IndexByte(t.Value, ';') >= 0 {
			return "", nil, fmt.Errorf("%w: ';' in the value of %q", ErrTagOpenMetrics, truncate(key))
		}
		tags = addTag(tags, t)
	}
	name := strings.TrimLeft(raw, "~")
	if name == "" {
		return "", nil, fmt.Errorf("%w in %q", ErrTagEmptyName, truncate(s))
	}
	tags = slices.DeleteFunc(tags, func(t Tag) bool { return t.Key == "name" })
	slices.SortFunc(tags, compareTags)
	return name, tags, nil
}
