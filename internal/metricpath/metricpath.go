// Package metricpath holds the one set of rules that turns a dotted metric
// name into a whisper file path under the data folder, and back. The whisper
// writer and whisperserver both use it, so a name always maps to the same
// file and no name can reach outside the folder.
package metricpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Ext is the whisper file extension.
const Ext = ".wsp"

// MaxComponent is the longest file or folder name most filesystems accept
// (ext4, xfs, btrfs: 255 bytes).
const MaxComponent = 255

// MaxName bounds a whole metric name.
const MaxName = 4096

// Errors returned by Rel, for counting refused names by reason.
var (
	ErrEmpty     = errors.New("empty metric name")
	ErrTooLong   = errors.New("metric name too long")
	ErrComponent = errors.New("empty or dot-only path component")
	ErrChar      = errors.New("forbidden character")
	ErrLongPart  = errors.New("path component too long for the filesystem")
	ErrOutside   = errors.New("path leaves the data folder")
)

// Rel returns the path of name's whisper file relative to the data folder.
//
// A plain name: each dot-separated component is a folder, the last one the
// file (a.b.c → a/b/c.wsp). Names that are empty, have an empty, "." or ".."
// component, hold a NUL, '/' or '\\', have a component too long for the
// filesystem, or start with "_tagged." (carbon's folder for tagged series) are
// refused.
//
// A tagged name (one holding ';', see ParseTagged) is normalised and placed
// in carbon 1.1's non-hashed layout: _tagged/<sha256[0:3]>/<sha256[3:6]>/
// <normalised name, '.' as _DOT_, '/' as _SLASH_>.wsp. A file name over 255
// bytes is refused with ErrLongPart.
func Rel(name string) (string, error) {
	dir, file, err := Split(name)
	if err != nil || dir == "." {
		return file, err
	}
	return dir + string(filepath.Separator) + file, nil
}

// Split is Rel in two parts: the folder relative to the data folder ("."
// for a name without dots) and the file's name in it (a.b.c → a/b and
// c.wsp), with Rel's rules. It checks the name in one pass and allocates
// only the two strings.
func Split(name string) (dir, file string, err error) {
	if IsTagged(name) {
		return splitTagged(name)
	}
	return splitPlain(name)
}

// splitPlain is Split for a name without tags.
func splitPlain(name string) (dir, file string, err error) {
	if err := check(name); err != nil {
		return "", "", err
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ".", name + Ext, nil
	}
	return strings.ReplaceAll(name[:i], ".", string(filepath.Separator)), name[i+1:] + Ext, nil
}

// check applies Rel's rules to name.
func check(name string) error {
	if name == "" {
		return ErrEmpty
	}
	if len(name) > MaxName {
		return fmt.Errorf("%w: %d bytes", ErrTooLong, len(name))
	}
	if i := strings.IndexAny(name, "/\\\x00"); i >= 0 {
		return fmt.Errorf("%w %q in %q", ErrChar, name[i], truncate(name))
	}
	if strings.HasPrefix(name, TaggedDir+".") {
		return fmt.Errorf("%w: %q", ErrReserved, truncate(name))
	}
	for rest := name; ; {
		part, more, found := strings.Cut(rest, ".")
		if part == "" {
			return fmt.Errorf("%w in %q", ErrComponent, truncate(name))
		}
		limit := MaxComponent
		if !found {
			limit -= len(Ext)
		}
		if len(part) > limit {
			return fmt.Errorf("%w: %d bytes in %q", ErrLongPart, len(part), truncate(name))
		}
		if !found {
			return nil
		}
		rest = more
	}
}

// Path returns the absolute-or-base-relative file path of name under base.
func Path(base, name string) (string, error) {
	rel, err := Rel(name)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, rel), nil
}

// Name turns a path relative to the data folder back into a metric name
// (a/b/c.wsp → a.b.c; _tagged/…/a_DOT_b;k=v.wsp → a.b;k=v). ok is false for
// anything that is not a whisper file a valid name maps to, which includes
// carbon's hashed tagged files (TAG_HASH_FILENAMES = True): their names are
// only in graphite-web's tag database.
func Name(rel string) (name string, ok bool) {
	rel = filepath.ToSlash(rel)
	if !strings.HasSuffix(rel, Ext) {
		return "", false
	}
	if strings.HasPrefix(rel, TaggedDir+"/") {
		return taggedName(rel)
	}
	name = strings.ReplaceAll(strings.TrimSuffix(rel, Ext), "/", ".")
	back, err := Rel(name)
	if err != nil || filepath.ToSlash(back) != rel {
		return "", false
	}
	return name, true
}

// Within reports whether path, with every symlink on it resolved, lies inside
// base (also resolved). Components of path that do not exist yet are taken as
// they are, so it can be asked before a file or its folders are created.
func Within(base, path string) (bool, error) {
	realBase, err := filepath.EvalSymlinks(base)
	if err != nil {
		return false, fmt.Errorf("resolving data folder %s: %w", base, err)
	}
	realBase, err = filepath.Abs(realBase)
	if err != nil {
		return false, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	// Resolve the longest existing prefix, then add the rest.
	existing, rest := abs, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	resolved, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return false, fmt.Errorf("resolving %s: %w", existing, err)
	}
	full := filepath.Join(resolved, rest)
	relToBase, err := filepath.Rel(realBase, full)
	if err != nil {
		return false, nil
	}
	return relToBase != ".." && !strings.HasPrefix(relToBase, ".."+string(filepath.Separator)), nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// SafeComponent maps s to one name component that Rel always accepts: ASCII
// letters, digits, '_' and '-' are kept, every other byte (dots included)
// becomes '_', a multi-byte UTF-8 character one '_'. The result is never
// empty and at most max bytes. Collectors use it to turn device, mount,
// host or collection names into metric name parts.
func SafeComponent(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		case c >= 0x80:
			for i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
				i++
			}
			b.WriteByte('_')
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
