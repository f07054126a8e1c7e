package render

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the type of an expression node.
type Kind int

// Expression node kinds.
const (
	KindPath Kind = iota
	KindCall
	KindString
	KindNumber
	KindBool
	KindNone
	KindInf
)

// Expr is a parsed target expression.
type Expr struct {
	Kind   Kind
	Path   string // KindPath (escapes decoded)
	Raw    string // KindPath, KindCall: the source text
	Func   string // KindCall
	Args   []*Expr
	Kwargs []Kwarg
	Str    string  // KindString (between the quotes, as Graphite keeps it)
	Num    float64 // KindNumber
	IsInt  bool
	Bool   bool
}

// Kwarg is a keyword argument of a call.
type Kwarg struct {
	Name  string
	Value *Expr
}

// ParseError is a syntax error in a target.
type ParseError struct {
	Target string
	Pos    int
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s at position %d in target %q", e.Msg, e.Pos, e.Target)
}

// MaxTargetLen and MaxDepth bound what the parser accepts.
const (
	MaxTargetLen = 16 << 10
	MaxDepth     = 64
)

// Parse parses one render target, following graphite-web's grammar.
func Parse(target string) (*Expr, error) {
	if len(target) > MaxTargetLen {
		return nil, &ParseError{Target: target[:40] + "…", Msg: fmt.Sprintf("target longer than %d bytes", MaxTargetLen)}
	}
	p := &parser{s: target}
	e, err := p.expression(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, p.errf("unexpected %q", p.s[p.i:min(len(p.s), p.i+20)])
	}
	return e, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) errf(format string, args ...any) error {
	return &ParseError{Target: p.s, Pos: p.i, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// identAt returns the identifier starting at i.
func (p *parser) identAt(i int) string {
	j := i
	if j < len(p.s) && isIdentStart(p.s[j]) {
		for j < len(p.s) && isIdent(p.s[j]) {
			j++
		}
	}
	return p.s[i:j]
}

// expression: (call | pathExpression) ('|' call)*
func (p *parser) expression(depth int) (*Expr, error) {
	if depth > MaxDepth {
		return nil, p.errf("expression nested deeper than %d", MaxDepth)
	}
	p.ws()
	e, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for {
		save := p.i
		p.ws()
		if p.peek() != '|' {
			p.i = save
			return e, nil
		}
		p.i++
		p.ws()
		call, ok, err := p.call(depth)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, p.errf("expected a function call after '|'")
		}
		call.Args = append([]*Expr{e}, call.Args...)
		e = call
	}
}

func (p *parser) term(depth int) (*Expr, error) {
	if call, ok, err := p.call(depth); err != nil || ok {
		return call, err
	}
	return p.path()
}

// call parses funcname '(' args ')' if one starts here.
func (p *parser) call(depth int) (e *Expr, ok bool, err error) {
	start := p.i
	defer func() {
		if ok && e != nil {
			e.Raw = p.s[start:p.i]
		}
	}()
	name := p.identAt(p.i)
	if name == "" {
		return nil, false, nil
	}
	j := p.i + len(name)
	for j < len(p.s) && p.s[j] == ' ' {
		j++
	}
	if j >= len(p.s) || p.s[j] != '(' {
		return nil, false, nil
	}
	p.i = j + 1
	e = &Expr{Kind: KindCall, Func: name}
	p.ws()
	if p.peek() == ')' {
		p.i++
		return e, true, nil
	}
	for {
		p.ws()
		// keyword argument?
		if kw := p.identAt(p.i); kw != "" {
			k := p.i + len(kw)
			for k < len(p.s) && p.s[k] == ' ' {
				k++
			}
			if k < len(p.s) && p.s[k] == '=' {
				p.i = k + 1
				p.ws()
				v, err := p.arg(depth)
				if err != nil {
					return nil, false, err
				}
				e.Kwargs = append(e.Kwargs, Kwarg{Name: kw, Value: v})
				goto next
			}
		}
		if len(e.Kwargs) > 0 {
			return nil, false, p.errf("positional argument after keyword argument")
		}
		{
			v, err := p.arg(depth)
			if err != nil {
				return nil, false, err
			}
			e.Args = append(e.Args, v)
		}
	next:
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case ')':
			p.i++
			return e, true, nil
		case 0:
			return nil, false, p.errf("missing ')' to close %s(", name)
		default:
			return nil, false, p.errf("expected ',' or ')' in arguments of %s", name)
		}
	}
}

func (p *parser) arg(depth int) (*Expr, error) {
	p.ws()
	if p.i >= len(p.s) {
		return nil, p.errf("missing argument")
	}
	// keywords: true, false, none, inf (caseless, whole word)
	if w := p.identAt(p.i); w != "" {
		end := p.i + len(w)
		atEnd := p.followedByArgEnd(end)
		switch strings.ToLower(w) {
		case "true", "false":
			if atEnd {
				p.i = end
				return &Expr{Kind: KindBool, Bool: strings.ToLower(w) == "true"}, nil
			}
		case "none":
			if atEnd {
				p.i = end
				return &Expr{Kind: KindNone}, nil
			}
		case "inf":
			if atEnd {
				p.i = end
				return &Expr{Kind: KindInf, Num: inf}, nil
			}
		}
	}
	if n, ok := p.number(); ok {
		return n, nil
	}
	if c := p.peek(); c == '"' || c == '\'' {
		return p.str()
	}
	return p.expression(depth + 1)
}

func (p *parser) followedByArgEnd(j int) bool {
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t' || p.s[j] == '\n' || p.s[j] == '\r') {
		j++
	}
	return j >= len(p.s) || p.s[j] == ',' || p.s[j] == ')'
}

// number: -?\d+(\.\d+)?([eE]-?\d+)? followed by ',' ')' or the end.
func (p *parser) number() (*Expr, bool) {
	i := p.i
	s := p.s
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	d := j
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == d {
		return nil, false
	}
	isInt := true
	if j+1 < len(s) && s[j] == '.' && s[j+1] >= '0' && s[j+1] <= '9' {
		isInt = false
		j++
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && s[k] == '-' {
			k++
		}
		kd := k
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > kd {
			isInt = false
			j = k
		}
	}
	if !p.followedByArgEnd(j) {
		return nil, false
	}
	f, err := strconv.ParseFloat(s[i:j], 64)
	if err != nil {
		return nil, false
	}
	p.i = j
	return &Expr{Kind: KindNumber, Num: f, IsInt: isInt}, true
}

// str parses a quoted string; like graphite-web, the text between the
// quotes is kept as is (a backslash escape is not decoded).
func (p *parser) str() (*Expr, error) {
	q := p.s[p.i]
	j := p.i + 1
	for j < len(p.s) {
		switch p.s[j] {
		case '\\':
			j += 2
			continue
		case q:
			e := &Expr{Kind: KindString, Str: p.s[p.i+1 : j]}
			p.i = j + 1
			return e, nil
		case '\n', '\r':
			return nil, p.errf("newline in string")
		}
		j++
	}
	return nil, p.errf("unterminated string")
}

const pathSymbols = "(){},.'\"\\|"

func isPathChar(c byte) bool {
	return c > ' ' && c != 0x7f && !strings.ContainsRune(pathSymbols, rune(c))
}

// path parses a metric path expression (globs, {a,b}, backslash escapes).
func (p *parser) path() (*Expr, error) {
	var b strings.Builder
	start := p.i
	elem := func() bool { // one path element; false if empty
		n := b.Len()
		for p.i < len(p.s) {
			c := p.s[p.i]
			switch {
			case isPathChar(c) || c >= 0x80:
				b.WriteByte(c)
				p.i++
			case c == '\\' && p.i+1 < len(p.s) && p.s[p.i+1] != '.' && (strings.IndexByte(pathSymbols, p.s[p.i+1]) >= 0 || p.s[p.i+1] == '='):
				b.WriteByte(p.s[p.i+1])
				p.i += 2
			case c == '{':
				end := strings.IndexByte(p.s[p.i:], '}')
				if end < 0 {
					return b.Len() > n
				}
				inner := p.s[p.i+1 : p.i+end]
				for k := 0; k < len(inner); k++ {
					if !(isPathChar(inner[k]) || inner[k] == ',' || inner[k] >= 0x80) {
						return b.Len() > n
					}
				}
				b.WriteString(p.s[p.i : p.i+end+1])
				p.i += end + 1
			default:
				return b.Len() > n
			}
		}
		return b.Len() > n
	}
	if !elem() {
		if p.i >= len(p.s) {
			return nil, p.errf("missing expression")
		}
		return nil, p.errf("unexpected %q", p.s[p.i:p.i+1])
	}
	for p.i+1 < len(p.s) && p.s[p.i] == '.' {
		save, saveLen := p.i, b.Len()
		p.i++
		b.WriteByte('.')
		if !elem() {
			p.i = save
			s := b.String()[:saveLen]
			b.Reset()
			b.WriteString(s)
			break
		}
	}
	return &Expr{Kind: KindPath, Path: b.String(), Raw: p.s[start:p.i]}, nil
}

// String renders the expression back in Graphite syntax.
func (e *Expr) String() string {
	switch e.Kind {
	case KindPath:
		raw := e.Raw
		if raw == "" {
			raw = e.Path
		}
		return escapeKeywordLike(raw)
	case KindString:
		return `"` + e.Str + `"`
	case KindNumber:
		return pyNum(e.Num, e.IsInt)
	case KindBool:
		if e.Bool {
			return "True"
		}
		return "False"
	case KindNone:
		return "None"
	case KindInf:
		return "inf"
	}
	var parts []string
	for _, a := range e.Args {
		parts = append(parts, a.String())
	}
	for _, k := range e.Kwargs {
		parts = append(parts, k.Name+"="+k.Value.String())
	}
	return e.Func + "(" + strings.Join(parts, ",") + ")"
}

// escapeKeywordLike escapes the '=' of a path that starts like a keyword
// argument ("a=…"), so that inside a call it reads back as a path, not as
// a keyword: `\=` is a path escape for '='.
func escapeKeywordLike(path string) string {
	kw := (&parser{s: path}).identAt(0)
	k := len(kw)
	for k < len(path) && path[k] == ' ' {
		k++
	}
	if kw == "" || k >= len(path) || path[k] != '=' {
		return path
	}
	return path[:k] + `\` + path[k:]
}

// FirstPath returns the first metric path in the expression (as graphite's
// _getFirstPathExpression), or "".
func (e *Expr) FirstPath() string {
	for e != nil {
		switch e.Kind {
		case KindPath:
			return e.Path
		case KindCall:
			if len(e.Args) == 0 {
				return ""
			}
			e = e.Args[0]
		default:
			return ""
		}
	}
	return ""
}

// pyNum formats a number as Python's str() would for an int or a float.
func pyNum(f float64, isInt bool) string {
	if isInt && f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return PyRepr(f)
}
