package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// pyPercent is Python's format % value for a format holding one
// conversion of a float (%d %i %u %s %r %f %F %e %E %g %G %x %X %o, with
// flags, width and precision; %% is a percent sign).
func pyPercent(format string, v float64) (string, error) {
	var b strings.Builder
	used := false
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
			j++
		}
		for j < len(format) && (format[j] >= '0' && format[j] <= '9' || format[j] == '.') {
			j++
		}
		if j >= len(format) {
			return "", fmt.Errorf("incomplete format %q", format)
		}
		spec, verb := format[i+1:j], format[j]
		i = j
		if err := specInBounds(spec); err != nil {
			return "", err
		}
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if used {
			return "", fmt.Errorf("not enough arguments for format string %q", format)
		}
		used = true
		switch verb {
		case 'd', 'i', 'u':
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return "", fmt.Errorf("cannot convert %v to integer", v)
			}
			b.WriteString(fmt.Sprintf("%"+spec+"d", int64(v)))
		case 'x', 'X', 'o':
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return "", fmt.Errorf("cannot convert %v to integer", v)
			}
			return "", fmt.Errorf("%%%c format: an integer is required, not float", verb)
		case 's', 'r':
			b.WriteString(fmt.Sprintf("%"+strings.Split(spec, ".")[0]+"s", pyTruncate(PyRepr(v), spec)))
		case 'f', 'F', 'e', 'E':
			if !strings.Contains(spec, ".") {
				spec += ".6"
			}
			b.WriteString(fmt.Sprintf("%"+spec+string(verb), v))
		case 'g', 'G':
			if !strings.Contains(spec, ".") {
				spec += ".6"
			}
			b.WriteString(pyGFormat(spec, verb, v))
		default:
			return "", fmt.Errorf("unsupported format character %q", verb)
		}
	}
	if !used {
		return "", fmt.Errorf("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

// pyTruncate applies a %s precision (%.3s).
func pyTruncate(s, spec string) string {
	if _, p, ok := strings.Cut(spec, "."); ok {
		if n, err := strconv.Atoi(p); err == nil && n < len(s) {
			return s[:n]
		}
	}
	return s
}

// pyGFormat is Python's %g: Go's %g with Python's two-digit exponent.
func pyGFormat(spec string, verb byte, v float64) string {
	s := fmt.Sprintf("%"+spec+string(verb), v)
	e := "e"
	if verb == 'G' {
		e = "E"
	}
	if mant, exp, ok := strings.Cut(s, e); ok && len(exp) == 2 {
		// Go writes e+06 already; a single digit does not occur.
		return mant + e + exp
	}
	return s
}

// maxFormatWidth bounds a conversion's width and precision, so that a
// newName such as "%999999999d" cannot make the server allocate a gigabyte.
const maxFormatWidth = 1000

func specInBounds(spec string) error {
	num := strings.TrimLeft(spec, "-+ #0")
	for _, part := range strings.Split(num, ".") {
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return fmt.Errorf("bad format specification %q", spec)
		}
		if n > maxFormatWidth {
			return fmt.Errorf("format width or precision %d is over %d", n, maxFormatWidth)
		}
	}
	return nil
}
