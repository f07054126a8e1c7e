package index

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxPatternLen bounds a find pattern.
const MaxPatternLen = 4096

// component matches one dotted component of a Graphite path pattern.
type component struct {
	literal string         // set when the component has no wildcard
	wild    bool           // the component has a wildcard: stars or re is set
	stars   []string       // set when '*' is the only wildcard: the literal pieces
	re      *regexp.Regexp // set for any other wildcard
	hidden  bool           // the pattern itself starts with '.', so hidden names may match
}

func (c *component) match(s string) bool {
	if !c.wild {
		return s == c.literal
	}
	if !c.hidden && strings.HasPrefix(s, ".") {
		return false
	}
	if c.stars != nil {
		return starMatch(c.stars, s)
	}
	return c.re.MatchString(s)
}

// prefix is the literal text every name the component matches starts
// with ("" when unknown or none).
func (c *component) prefix() string {
	if c.stars == nil {
		return ""
	}
	return c.stars[0]
}

// HasWildcard reports whether pattern uses any glob syntax.
func HasWildcard(pattern string) bool { return strings.ContainsAny(pattern, "*?[{") }

// splitPattern splits a pattern on dots outside braces and brackets.
func splitPattern(p string) ([]string, error) {
	var parts []string
	depth, bracket, start := 0, false, 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case bracket:
			if c == ']' {
				bracket = false
			}
		case c == '[':
			bracket = true
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return nil, fmt.Errorf("unbalanced '}' in %q", p)
			}
			depth--
		case c == '.' && depth == 0:
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced '{' in %q", p)
	}
	if bracket {
		return nil, fmt.Errorf("unclosed '[' in %q", p)
	}
	return append(parts, p[start:]), nil
}

// compile turns a Graphite path pattern (fnmatch globs per component plus
// {a,b} alternatives) into matchers, one per component.
func compile(pattern string) ([]component, error) {
	if pattern == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	if len(pattern) > MaxPatternLen {
		return nil, fmt.Errorf("pattern longer than %d bytes", MaxPatternLen)
	}
	parts, err := splitPattern(pattern)
	if err != nil {
		return nil, err
	}
	out := make([]component, len(parts))
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("empty component in pattern %q", pattern)
		}
		if !HasWildcard(p) {
			out[i] = component{literal: p}
			continue
		}
		out[i] = component{wild: true, hidden: strings.HasPrefix(p, ".")}
		if !strings.ContainsAny(p, "?[{") {
			out[i].stars = strings.Split(p, "*") // no regexp needed
			continue
		}
		expr, err := globToRegexp(p)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", pattern, err)
		}
		if out[i].re, err = regexp.Compile("^(?:" + expr + ")$"); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", pattern, err)
		}
	}
	return out, nil
}

func globToRegexp(p string) (string, error) {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := i + 1
			if j < len(p) && (p[j] == '!' || p[j] == '^') {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				j++
			}
			if j >= len(p) {
				// fnmatch treats an unclosed '[' as a literal.
				b.WriteString(`\[`)
				continue
			}
			body := p[i+1 : j]
			neg := false
			if strings.HasPrefix(body, "!") || strings.HasPrefix(body, "^") {
				neg, body = true, body[1:]
			}
			b.WriteByte('[')
			if neg {
				b.WriteByte('^')
			}
			for k := 0; k < len(body); k++ {
				ch := body[k]
				if ch == '\\' || ch == '[' || ch == ']' || ch == '^' {
					b.WriteByte('\\')
				}
				b.WriteByte(ch)
			}
			b.WriteByte(']')
			i = j
		case '{':
			depth++
			b.WriteString("(?:")
		case '}':
			depth--
			b.WriteString(")")
		case ',':
			if depth > 0 {
				b.WriteString("|")
			} else {
				b.WriteString(",")
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if depth != 0 {
		return "", fmt.Errorf("unbalanced braces")
	}
	return b.String(), nil
}

// starMatch matches s against pieces separated by '*' (pieces[0] is a
// prefix, the last a suffix, the others in order between).
func starMatch(pieces []string, s string) bool {
	first, last := pieces[0], pieces[len(pieces)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, p := range pieces[1 : len(pieces)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}
