package metricpath

// STAND-IN for branch i18a's tags.go (same API), so whisperserver's tag
// index compiles before i18a is merged. Delete this file on merging i18a.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Tag is one key=value pair of a tagged series.
type Tag struct{ Key, Value string }

// ErrTag is a malformed tagged name.
var ErrTag = errors.New("bad tag")

// IsTagged reports whether s is a Graphite 1.1 tagged name (name;k=v…).
func IsTagged(s string) bool { return strings.IndexByte(s, ';') >= 0 }

// ParseTagged splits a tagged name as carbon does: tags sorted by key, a
// later duplicate key wins.
func ParseTagged(s string) (string, []Tag, error) {
	segs := strings.Split(s, ";")
	name := strings.TrimLeft(segs[0], "~")
	if name == "" {
		return "", nil, fmt.Errorf("%w: no metric name in %q", ErrTag, truncate(s))
	}
	m := map[string]string{}
	for _, seg := range segs[1:] {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" || v == "" || strings.ContainsAny(k, ";!^=") || v[0] == '~' {
			return "", nil, fmt.Errorf("%w: segment %q in %q", ErrTag, seg, truncate(s))
		}
		m[k] = v
	}
	tags := make([]Tag, 0, len(m))
	for k, v := range m {
		if k != "name" {
			tags = append(tags, Tag{k, v})
		}
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return name, tags, nil
}

// Normalize returns the normalised tagged name.
func Normalize(s string) (string, error) {
	name, tags, err := ParseTagged(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(name)
	for _, t := range tags {
		b.WriteString(";" + t.Key + "=" + t.Value)
	}
	return b.String(), nil
}

func taggedRel(name string) (string, error) {
	n, err := Normalize(name)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(n))
	x := hex.EncodeToString(h[:])
	file := strings.NewReplacer(".", "_DOT_", "/", "_SLASH_").Replace(n) + Ext
	return filepath.Join("_tagged", x[0:3], x[3:6], file), nil
}

func taggedName(rel string) (string, bool) {
	parts := strings.Split(rel, "/")
	if len(parts) != 4 || parts[0] != "_tagged" || !strings.HasSuffix(parts[3], Ext) {
		return "", false
	}
	n := strings.NewReplacer("_DOT_", ".", "_SLASH_", "/").Replace(strings.TrimSuffix(parts[3], Ext))
	back, err := taggedRel(n)
	if err != nil || filepath.ToSlash(back) != rel {
		return "", false
	}
	return n, true
}
