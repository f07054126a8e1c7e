package schema

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/whisperfile"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Method is a whisper aggregation method, owned by internal/whisperfile.
type Method = whisperfile.Method

// The aggregation methods of whisper.py 1.1.
const (
	Average = whisperfile.Average
	Sum     = whisperfile.Sum
	Last    = whisperfile.Last
	Max     = whisperfile.Max
	Min     = whisperfile.Min
	AvgZero = whisperfile.AvgZero
	AbsMax  = whisperfile.AbsMax
	AbsMin  = whisperfile.AbsMin
)

// ErrMethod is wrapped by ParseMethod errors.
var ErrMethod = whisperfile.ErrMethod

// ParseMethod parses an aggregation method name as Graphite writes it
// (case-insensitive; "avg" is accepted for average): all eight of whisper.py 1.1.
func ParseMethod(s string) (Method, error) { return whisperfile.ParseMethod(s) }

// Schema is one storage-schemas rule: metrics whose name matches Pattern
// (anywhere, as Python's re.search) get Archives.
type Schema struct {
	Name     string
	Pattern  *regexp.Regexp
	Archives Archives
}

// Aggregation is one storage-aggregation rule. A nil XFilesFactor or a zero
// Method leave that setting to the default, as in Graphite.
type Aggregation struct {
	Name         string
	Pattern      *regexp.Regexp
	XFilesFactor *float64
	Method       Method
}

// NewSchema builds a rule, checking the pattern and the retentions.
func NewSchema(name, pattern, retentions string) (Schema, error) {
	re, err := compile(pattern)
	if err != nil {
		return Schema{}, fmt.Errorf("schema [%s]: %w", name, err)
	}
	as, err := ParseRetentions(retentions)
	if err != nil {
		return Schema{}, fmt.Errorf("schema [%s]: %w", name, err)
	}
	return Schema{Name: name, Pattern: re, Archives: as}, nil
}

// NewAggregation builds a rule; xff is "" or a number 0…1, method "" or a
// method name.
func NewAggregation(name, pattern, xff, method string) (Aggregation, error) {
	re, err := compile(pattern)
	if err != nil {
		return Aggregation{}, fmt.Errorf("aggregation [%s]: %w", name, err)
	}
	a := Aggregation{Name: name, Pattern: re}
	if strings.TrimSpace(xff) != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(xff), 64)
		if err != nil || !(f >= 0 && f <= 1) {
			return Aggregation{}, fmt.Errorf("aggregation [%s]: xFilesFactor %q must be a number from 0 to 1", name, xff)
		}
		a.XFilesFactor = &f
	}
	if strings.TrimSpace(method) != "" {
		m, err := ParseMethod(method)
		if err != nil {
			return Aggregation{}, fmt.Errorf("aggregation [%s]: %w", name, err)
		}
		a.Method = m
	}
	return a, nil
}

func compile(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, errors.New("missing pattern")
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q is not a regular expression Go accepts: %w", pattern, err)
	}
	return re, nil
}

// Section is one [section] of an INI file with its keys (lower-cased) in file order.
type Section struct {
	Name string
	Line int
	Keys map[string]string
}

// ParseINI reads the INI dialect of Graphite's conf files (Python's
// ConfigParser): [section] headers, "key = value" or "key: value", full-line
// comments starting with # or ;, indented continuation lines. Keys are
// lower-cased, values trimmed. Sections keep file order.
func ParseINI(r io.Reader) ([]Section, error) {
	var out []Section
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	lineNo := 0
	lastKey := ""
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			if line == "" {
				lastKey = ""
			}
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if lastKey != "" && len(out) > 0 {
				s := &out[len(out)-1]
				s.Keys[lastKey] = strings.TrimSpace(s.Keys[lastKey] + "\n" + line)
				continue
			}
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("line %d: bad section header %q", lineNo, line)
			}
			name := strings.TrimSpace(line[1 : len(line)-1])
			for _, s := range out {
				if s.Name == name {
					return nil, fmt.Errorf("line %d: section [%s] defined twice", lineNo, name)
				}
			}
			out = append(out, Section{Name: name, Line: lineNo, Keys: map[string]string{}})
			lastKey = ""
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("line %d: want key = value, got %q", lineNo, line)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("line %d: key outside any [section]", lineNo)
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		out[len(out)-1].Keys[key] = strings.TrimSpace(line[i+1:])
		lastKey = key
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseSchemasConf parses a storage-schemas.conf. Unlike carbon, which logs
// and skips a section without pattern or retentions, it refuses the file:
// a silently ignored rule is a surprise weeks later. Sections are in order.
func ParseSchemasConf(r io.Reader) ([]Schema, error) {
	secs, err := ParseINI(r)
	if err != nil {
		return nil, err
	}
	var out []Schema
	for _, s := range secs {
		ret, ok := s.Keys["retentions"]
		if !ok {
			return nil, fmt.Errorf("line %d: schema [%s] has no retentions", s.Line, s.Name)
		}
		pat := s.Keys["pattern"]
		if pat == "" {
			return nil, fmt.Errorf("line %d: schema [%s] has no pattern", s.Line, s.Name)
		}
		sc, err := NewSchema(s.Name, pat, ret)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", s.Line, err)
		}
		out = append(out, sc)
	}
	return out, nil
}

// ParseAggregationConf parses a storage-aggregation.conf (keys pattern,
// xFilesFactor, aggregationMethod).
func ParseAggregationConf(r io.Reader) ([]Aggregation, error) {
	secs, err := ParseINI(r)
	if err != nil {
		return nil, err
	}
	var out []Aggregation
	for _, s := range secs {
		pat := s.Keys["pattern"]
		if pat == "" {
			return nil, fmt.Errorf("line %d: aggregation [%s] has no pattern", s.Line, s.Name)
		}
		a, err := NewAggregation(s.Name, pat, s.Keys["xfilesfactor"], s.Keys["aggregationmethod"])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", s.Line, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// LoadSchemasFile and LoadAggregationFile read Graphite's conf files.
func LoadSchemasFile(path string) ([]Schema, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("storage schemas: %w", err)
	}
	defer f.Close()
	s, err := ParseSchemasConf(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// LoadAggregationFile reads a storage-aggregation.conf.
func LoadAggregationFile(path string) ([]Aggregation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("storage aggregation: %w", err)
	}
	defer f.Close()
	a, err := ParseAggregationConf(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// StatsdAggregations are the aggregation rules right for statsd data, in
// the spirit of Etsy statsd's recommended storage-aggregation.conf: gauges
// keep the last value; counts and sums add up; lower/min keep the minimum;
// upper/max (and upper_90…) the maximum. Everything else is averaged by the
// final default.
func StatsdAggregations() []Aggregation {
	f := func(v float64) *float64 { return &v }
	mk := func(name, pat string, xff float64, m Method) Aggregation {
		return Aggregation{Name: name, Pattern: regexp.MustCompile(pat), XFilesFactor: f(xff), Method: m}
	}
	return []Aggregation{
		mk("statsd_gauges", `(^|\.)gauges\.`, 0, Last),
		mk("statsd_counts", `^stats_counts\.|\.(count|sum)$`, 0, Sum),
		mk("statsd_min", `\.(lower|min)(_\d+)?$`, 0.1, Min),
		mk("statsd_max", `\.(upper|max)(_\d+)?$`, 0.1, Max),
	}
}

// DefaultRetentions is used when no rule matches and none is configured.
const DefaultRetentions = "10s:6h,1m:7d,10m:5y"

// Rules is the complete rule set: schemas and aggregations, first match
// wins, then the defaults.
type Rules struct {
	Schemas         []Schema
	Aggregations    []Aggregation
	DefaultArchives Archives
	DefaultXFF      float64
	DefaultMethod   Method
}

// Match is what the rules say for one metric.
type Match struct {
	Schema       string // rule name, "default" for the default
	Archives     Archives
	Aggregation  string
	XFilesFactor float64
	Method       Method
}

// Match returns the archives and aggregation for a metric name.
func (r *Rules) Match(name string) Match {
	m := Match{Aggregation: "default", XFilesFactor: r.DefaultXFF, Method: r.DefaultMethod}
	m.Schema, m.Archives = r.MatchSchema(name)
	for _, a := range r.Aggregations {
		if a.Pattern.MatchString(name) {
			m.Aggregation = a.Name
			if a.XFilesFactor != nil {
				m.XFilesFactor = *a.XFilesFactor
			}
			if a.Method != 0 {
				m.Method = a.Method
			}
			break
		}
	}
	return m
}

// MatchSchema returns the name and archives of the first storage-schema rule
// matching name, or "default" and the default archives.
func (r *Rules) MatchSchema(name string) (string, Archives) {
	for _, s := range r.Schemas {
		if s.Pattern.MatchString(name) {
			return s.Name, s.Archives
		}
	}
	return "default", r.DefaultArchives
}
