package mongotop

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

// Sanitize says what becomes of the dots of a namespace. A MongoDB namespace
// is "database.collection", and a collection name may itself hold dots
// (fs.chunks, system.profile, oplog.rs).
type Sanitize string

// Sanitize modes.
const (
	// Underscore keeps the database as one path level and replaces the dots
	// inside the collection name by '_': app.fs.chunks → app.fs_chunks. Each
	// collection is then exactly one level under its database, so
	// "mongotop.app.*.total" lists every collection of app. The default.
	Underscore Sanitize = "underscore"
	// Levels makes every dot a path level: app.fs.chunks → app.fs.chunks.
	Levels Sanitize = "levels"
	// Flat makes the whole namespace one level: app.fs.chunks → app_fs_chunks.
	Flat Sanitize = "flat"
)

// ParseSanitize checks a mode name.
func ParseSanitize(s string) (Sanitize, error) {
	switch m := Sanitize(s); m {
	case Underscore, Levels, Flat:
		return m, nil
	}
	return "", fmt.Errorf("unknown sanitize mode %q (want %s, %s or %s)", s, Underscore, Levels, Flat)
}

// MaxComponent bounds one path component made from a namespace, leaving
// room for the ".wsp" extension and the kind on the way to a whisper file.
const MaxComponent = 200

// Namer turns namespaces into gauge names "<prefix>.<namespace>.<kind>".
type Namer struct {
	// Prefix is put before every name; empty means none.
	Prefix string
	// StripDB, when set, removes "StripDB." from the front of namespaces
	// of that database (app.users → users).
	StripDB string
	Mode    Sanitize
}

// ErrName is returned for a namespace no safe name can be made of.
var ErrName = errors.New("namespace gives no usable metric name")

// CheckPrefix checks that a prefix is a valid dotted metric path (or empty).
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	for _, part := range strings.Split(prefix, ".") {
		if part == "" || safeComponent(part) != part {
			return fmt.Errorf("prefix %q: each dot-separated part must be non-empty and use only letters, digits, '_' and '-'", prefix)
		}
	}
	if _, err := metricpath.Rel(prefix + ".x"); err != nil {
		return fmt.Errorf("prefix %q: %w", prefix, err)
	}
	return nil
}

// Base returns the gauge name of ns without the kind:
// "<prefix>.<safe namespace>". Characters other than ASCII letters, digits,
// '_' and '-' become '_' (Etsy statsd would drop most of them; keeping a
// placeholder keeps distinct collections apart), an empty component becomes
// '_', and a component is cut to MaxComponent bytes.
func (n Namer) Base(ns string) (string, error) {
	stripped := false
	if n.StripDB != "" {
		if rest, ok := strings.CutPrefix(ns, n.StripDB+"."); ok && rest != "" {
			ns, stripped = rest, true
		}
	}
	var parts []string
	switch {
	case n.Mode == Levels:
		parts = strings.Split(ns, ".")
	case n.Mode == Flat, stripped:
		// What is left after -strip-db is a collection name: one level.
		parts = []string{ns}
	default: // Underscore
		db, coll, found := strings.Cut(ns, ".")
		parts = []string{db}
		if found {
			parts = append(parts, coll)
		}
	}
	var b strings.Builder
	if n.Prefix != "" {
		b.WriteString(n.Prefix)
	}
	for _, p := range parts {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(safeComponent(p))
	}
	name := b.String()
	// Every kind name has the same length: checking one checks them all.
	if _, err := metricpath.Rel(name + ".total"); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrName, ns, err)
	}
	return name, nil
}

// safeComponent maps s to one path component of ASCII letters, digits, '_'
// and '-', never empty and at most MaxComponent bytes.
func safeComponent(s string) string { return metricpath.SafeComponent(s, MaxComponent) }
