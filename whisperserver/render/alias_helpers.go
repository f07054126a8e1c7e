package render

import (
	"fmt"
	"strings"
)

// aggKey joins the given nodes of a series' path (graphite's aggKey).
func aggKey(s *Series, nodes []Value) string {
	path := s.Name
	if strings.HasSuffix(path, ")") {
		if e, err := Parse(path); err == nil {
			if p := e.FirstPath(); p != "" {
				path = p
			}
		}
	}
	path, _, _ = strings.Cut(path, ";")
	parts := strings.Split(path, ".")
	keys := make([]string, 0, len(nodes))
	for _, n := range nodes {
		k := ""
		if n.Kind == KindNumber {
			i := int(n.Num)
			if i < 0 {
				i += len(parts)
			}
			if i >= 0 && i < len(parts) {
				k = parts[i]
			}
		} else if n.Kind == KindString {
			k = s.TagMap()[n.Str] // a tag (getNodeOrTag)
		}
		keys = append(keys, k)
	}
	return strings.Join(keys, ".")
}

// pyReplacement turns a Python re.sub replacement (\1, \g<1>, \g<name>)
// into Go's regexp syntax.
func pyReplacement(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(r):
			n := r[i+1]
			switch {
			case n >= '0' && n <= '9':
				j := i + 1
				for j < len(r) && j < i+3 && r[j] >= '0' && r[j] <= '9' {
					j++
				}
				b.WriteString("${" + r[i+1:j] + "}")
				i = j - 1
			case n == 'g' && i+2 < len(r) && r[i+2] == '<':
				if end := strings.IndexByte(r[i+3:], '>'); end >= 0 {
					b.WriteString("${" + r[i+3:i+3+end] + "}")
					i = i + 3 + end
				} else {
					b.WriteByte(c)
				}
			case n == 'n':
				b.WriteByte('\n')
				i++
			case n == 't':
				b.WriteByte('\t')
				i++
			case n == '\\':
				b.WriteByte('\\')
				i++
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nodesInRange reports a numeric node position that s's path (as aggKey
// reads it) does not have, so aliasByNode never names a series "".
func nodesInRange(s *Series, nodes []Value) error {
	path := s.Name
	if strings.HasSuffix(path, ")") {
		if e, err := Parse(path); err == nil && e.FirstPath() != "" {
			path = e.FirstPath()
		}
	}
	path, _, _ = strings.Cut(path, ";")
	n := strings.Count(path, ".") + 1
	for _, v := range nodes {
		if v.Kind == KindNumber && (int(v.Num) >= n || int(v.Num) < -n) {
			return fmt.Errorf("node %s is out of range for %q (%d nodes: 0…%d or -%d…-1)", PyG(v.Num), path, n, n-1, n)
		}
	}
	return nil
}
