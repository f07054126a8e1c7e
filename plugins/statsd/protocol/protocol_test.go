package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

func TestSplitLine(t *testing.T) {
	cases := []struct {
		in                 string
		name, tags, values string
		ignored, noValue   bool
	}{
		{in: "a.b:1|c", name: "a.b", values: "1|c"},
		{in: "a:1|c:2|ms", name: "a", values: "1|c:2|ms"},
		{in: "a:1|c|#env:prod,x", name: "a", tags: "env:prod,x", values: "1|c"},
		{in: "a:1|c|#t1|#t2", name: "a", tags: "t1", values: "1|c"},
		{in: "novalue", name: "novalue", noValue: true},
		{in: "_e{5,4}:title|text", ignored: true},
		{in: "_sc|check|0", ignored: true},
		{in: "_scx:1|c", name: "_scx", values: "1|c"},
	}
	for _, c := range cases {
		l := SplitLine([]byte(c.in))
		if string(l.Name) != c.name || string(l.Tags) != c.tags || string(l.Values) != c.values ||
			l.Ignored != c.ignored || l.NoValue != c.noValue {
			t.Errorf("SplitLine(%q) = %+v", c.in, l)
		}
	}
}

func TestParseSample(t *testing.T) {
	cases := []struct {
		in    string
		err   error
		typ   Type
		value float64
		count float64
		delta bool
		mem   string
	}{
		{in: "1|c", typ: Counter, value: 1},
		{in: "3|c|@0.5", typ: Counter, value: 6},
		{in: "3|c|@.5", typ: Counter, value: 6},
		{in: "3|c|@0.1", typ: Counter, value: 3 * (1 / 0.1)},
		{in: "2.5|c", typ: Counter, value: 2.5},
		{in: "-2|c", typ: Counter, value: -2},
		{in: "0x10|c", typ: Counter, value: 16},
		{in: "1e3|c", typ: Counter, value: 1000},
		{in: " 7 |c", typ: Counter, value: 7},
		{in: "1|foo", typ: Counter, value: 1}, // unknown type: a counter
		{in: "1|c|@0.5|extra", typ: Counter, value: 2},
		{in: "12|ms", typ: Timer, value: 12, count: 1},
		{in: "12|ms|@0.25", typ: Timer, value: 12, count: 4},
		{in: "12|h", typ: Timer, value: 12, count: 1},
		{in: "-12|d", typ: Timer, value: -12, count: 1},
		{in: "-1|ms ", typ: Timer, value: -1, count: 1}, // raw type "ms " skips the >= 0 check, as in Etsy
		{in: "5|g", typ: Gauge, value: 5},
		{in: "+5|g", typ: Gauge, value: 5, delta: true},
		{in: "-5|g", typ: Gauge, value: -5, delta: true},
		{in: "abc|s", typ: Set, mem: "abc"},
		{in: "|s", typ: Set, mem: "0"},
		{in: "1", err: ErrNoType},
		{in: "", err: ErrNoType},
		{in: "x|c", err: ErrValue},
		{in: "|c", err: ErrValue},
		{in: "-1|ms", err: ErrValue},
		{in: "x|g", err: ErrValue},
		{in: "Infinity|c", err: ErrValue},
		{in: "1e999|g", err: ErrValue},
		{in: "0x|c", err: ErrValue},
		{in: "-0x10|c", err: ErrValue},
		{in: "1|c|0.5", err: ErrSampleRate},
		{in: "1|c|@", err: ErrSampleRate},
		{in: "1|c|@-1", err: ErrSampleRate},
		{in: "1|c|@x", err: ErrSampleRate},
		{in: "1|c|@0", err: ErrSampleRate},
		{in: "1|c|", err: ErrSampleRate},
		{in: "a|s|@x", err: ErrSampleRate},
	}
	for _, c := range cases {
		s, err := ParseSample([]byte(c.in))
		if err != c.err {
			t.Errorf("ParseSample(%q) error = %v, want %v", c.in, err, c.err)
			continue
		}
		if err != nil {
			continue
		}
		if s.Type != c.typ || s.Value != c.value || s.Delta != c.delta || string(s.Member) != c.mem ||
			(c.typ == Timer && s.Count != c.count) {
			t.Errorf("ParseSample(%q) = %+v (member %q)", c.in, s, s.Member)
		}
	}
}

func TestJSNumber(t *testing.T) {
	cases := []struct {
		in string
		v  float64
		ok bool
	}{
		{"0", 0, true}, {"42", 42, true}, {"-3.25", -3.25, true}, {"+.5", 0.5, true},
		{"5.", 5, true}, {"1e3", 1000, true}, {"1E-2", 0.01, true}, {" 8\t", 8, true},
		{"", 0, true}, {"  ", 0, true}, {"0b101", 5, true}, {"0o17", 15, true}, {"0XfF", 255, true},
		{"Infinity", math.Inf(1), true}, {"-Infinity", math.Inf(-1), true},
		{"1234567890123456789", 1234567890123456789, true},
		{"0.1", 0.1, true}, {"123456.789012345", 123456.789012345, true},
		{"inf", 0, false}, {"NaN", 0, false}, {"1.2.3", 0, false}, {"1e", 0, false}, {".", 0, false},
		{"-", 0, false}, {"1_000", 0, false}, {"0x1p3", 0, false}, {"--1", 0, false}, {"1 2", 0, false},
		{"\u00a07\u2003", 7, true},
	}
	for _, c := range cases {
		v, ok := jsNumber([]byte(c.in))
		if ok != c.ok || ok && v != c.v {
			t.Errorf("jsNumber(%q) = %v, %v; want %v, %v", c.in, v, ok, c.v, c.ok)
		}
	}
}

func TestKey(t *testing.T) {
	cases := []struct {
		name, tags string
		keep       bool
		want       string
	}{
		{"a.b.c", "", true, "a.b.c"},
		{"a b\t\tc", "", true, "a_b_c"},
		{"a/b", "", true, "a-b"},
		{"a$b%c!", "", true, "abc"},
		{"é.ü", "", true, "."},
		{"a \u00e9 b", "", true, "a__b"},
		{"a\u00a0\u2003b", "", true, "a_b"},
		{"a\xffb", "", true, "ab"},
		{"m", "env:prod,role", true, "m;env=prod;role"},
		{"m", "a:b:c,x;y;z", true, "m;a=bc;x_y;z"},
		{"m", "a:b:c", true, "m;a=bc"},
		{"m", "a,,b,", true, "m;a;;b;"},
		{"m", "sp ace:v/1", true, "m;sp_ace=v-1"},
		{"m", "env:prod", false, "m"},
		{"m x", "env:prod", false, "m_x"},
	}
	for _, c := range cases {
		got, _ := Key(nil, []byte(c.name), []byte(c.tags), c.keep)
		if string(got) != c.want {
			t.Errorf("Key(%q, %q, %v) = %q, want %q", c.name, c.tags, c.keep, got, c.want)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	lines := [][]byte{
		[]byte("app.requests:1|c|@0.5"),
		[]byte("app.latency:12.5|ms"),
		[]byte("app.temp:-3|g"),
		[]byte("app.users:alice|s"),
		[]byte("app.tagged:1|c|#env:prod,zone:a"),
		[]byte("app with space:1|c"),
	}
	scratch := make([]byte, 0, 256)
	n := testing.AllocsPerRun(200, func() {
		for _, line := range lines {
			l := SplitLine(line)
			var key []byte
			key, scratch = Key(scratch, l.Name, l.Tags, true)
			_ = key
			for v, more := l.Values, true; more; {
				var s []byte
				s, v, more = NextValue(v)
				if _, err := ParseSample(s); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per run, want 0", n)
	}
}

// FuzzParseLine checks that no input crashes the parser, that keys only hold
// Etsy's allowed characters, and that accepted values are finite.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"a:1|c", "a:1|c|@0.1", "t:12|ms:13|ms", "g:+4|g", "g:-4|g", "s:x|s", "h:1|h", "d:2|d",
		"a:1|c|#env:prod,role", "_e{1,1}:a|b", "_sc|n|0", "bad", "a:", "a:|", ":1|c",
		"a b/c:1|c", "\xff\xfe:1|c", "a:0x1F|c", "a:1e400|g", "a:1|c|@", "a:1|c|#a;b:c,,",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, line := range bytes.Split(data, []byte("\n")) {
			l := SplitLine(line)
			if l.Ignored {
				continue
			}
			for _, keep := range []bool{true, false} {
				key, _ := Key(nil, l.Name, l.Tags, keep)
				checkNormalizeTags(t, key)
				for _, c := range key {
					if !keyChar[c] {
						t.Fatalf("key %q of %q holds %q", key, line, c)
					}
				}
				if !keep && bytes.IndexByte(key, ';') >= 0 && bytes.IndexByte(l.Name, ';') < 0 {
					t.Fatalf("dropped tags still in key %q", key)
				}
			}
			if l.NoValue {
				continue
			}
			for v, more := l.Values, true; more; {
				var s []byte
				s, v, more = NextValue(v)
				smp, err := ParseSample(s)
				if err != nil {
					continue
				}
				if smp.Type != Set && (math.IsNaN(smp.Value) || math.IsInf(smp.Value, 0)) {
					t.Fatalf("non-finite value from %q", s)
				}
				if smp.Type == Timer && (smp.Count <= 0 || math.IsInf(smp.Count, 0)) {
					t.Fatalf("bad count %v from %q", smp.Count, s)
				}
				if smp.Type == Set && len(smp.Member) == 0 {
					t.Fatalf("empty set member from %q", s)
				}
				if smp.Type == Timer && !strings.Contains(string(s), "|") {
					t.Fatalf("timer without type from %q", s)
				}
			}
		}
	})
}

// generalLine parses line the general way (SplitLine, Key, NextValue,
// ParseSample) and reports its key and its sample when it has exactly one
// good sample.
func generalLine(line []byte, keepTags bool) (key []byte, s Sample, ok bool) {
	l := SplitLine(line)
	if l.Ignored || l.NoValue {
		return nil, s, false
	}
	key, _ = Key(nil, l.Name, l.Tags, keepTags)
	raw, _, more := NextValue(l.Values)
	if more {
		return nil, s, false
	}
	s, err := ParseSample(raw)
	return key, s, err == nil
}

// checkSimpleLine fails when SimpleLine accepts line and the general path
// does not agree on the key (with and without keep-tags) and the sample.
func checkSimpleLine(t *testing.T, line []byte) bool {
	t.Helper()
	name, s, ok := SimpleLine(line)
	if !ok {
		return false
	}
	for _, keep := range []bool{true, false} {
		key, g, gok := generalLine(line, keep)
		if !gok || !bytes.Equal(key, name) || g.Type != s.Type || g.Delta != s.Delta ||
			g.Count != s.Count || !bytes.Equal(g.Member, s.Member) ||
			math.Float64bits(g.Value) != math.Float64bits(s.Value) {
			t.Fatalf("SimpleLine(%q) = %q %+v; general path (keep tags %v): %q %+v ok %v",
				line, name, s, keep, key, g, gok)
		}
	}
	if &name[0] != &line[0] {
		t.Fatalf("SimpleLine(%q): name does not alias the line", line)
	}
	return true
}

// checkSimpleTaggedLine fails when SimpleTaggedLine accepts line and the
// general path does not agree on the name, the tags and the sample (and so
// on the key, which both build from them).
func checkSimpleTaggedLine(t *testing.T, line []byte) bool {
	t.Helper()
	name, tags, s, ok := SimpleTaggedLine(line)
	if !ok {
		return false
	}
	l := SplitLine(line)
	raw, _, more := NextValue(l.Values)
	g, err := ParseSample(raw)
	if l.Ignored || l.NoValue || more || err != nil || !bytes.Equal(l.Name, name) || !bytes.Equal(l.Tags, tags) ||
		g.Type != s.Type || g.Delta != s.Delta || g.Count != s.Count || !bytes.Equal(g.Member, s.Member) ||
		math.Float64bits(g.Value) != math.Float64bits(s.Value) {
		t.Fatalf("SimpleTaggedLine(%q) = %q %q %+v; general path: %+v %+v %v", line, name, tags, s, l, g, err)
	}
	if len(tags) == 0 && !checkSimpleLine(t, line) {
		t.Fatalf("SimpleTaggedLine(%q) accepts it untagged, SimpleLine does not", line)
	}
	return true
}

func TestSimpleTaggedLine(t *testing.T) {
	for _, c := range []struct {
		in     string
		simple bool
	}{
		{"a:1|c|#env:prod,zone:a", true}, {"a.b:2.5|ms|#x", true}, {"g:+1|g|#k:v", true},
		{"a:1|c|#", true}, {"a:1|c", true},
		{"a:1|c|@0.5|#env:prod", false}, {"a:1|c|#env:prod|@0.5", false}, {"a:1|c|#a|#b", false},
		{"a:1|c|env", false}, {"a:1|c|", false}, {"a:1|s|#k:v", false}, {"a;b=c:1|c|#k:v", false},
		{"a b:1|c|#k:v", false}, {"a:1|c:2|c|#k:v", false}, {"t:-1|ms|#k:v", false},
	} {
		if got := checkSimpleTaggedLine(t, []byte(c.in)); got != c.simple {
			t.Errorf("SimpleTaggedLine(%q) ok = %v, want %v", c.in, got, c.simple)
		}
	}
}

func TestSimpleLine(t *testing.T) {
	for _, c := range []struct {
		in     string
		simple bool
	}{
		{"a:1|c", true}, {"bench.n000123:1|c", true}, {"a.b-c_d:12.5|ms", true},
		{"a.b-c_d;e=f:12.5|ms", false}, // tagged: normalised on the general path
		{"g:+4|g", true}, {"g:-4|g", true}, {"g:4|g", true}, {"t:-0|ms", true},
		{"c:-3|c", true}, {"c:.5|c", true}, {"c:5.|c", true}, {"c:123456789012345|c", true},
		{"t:-1|ms", false},                 // bad value: the general path counts it
		{"c:1234567890123456|c", false},    // 16 digits
		{"c:1|c|@0.5", false},              // sample rate
		{"c:1|c|#env:prod", false},         // tags
		{"c:1|c:2|c", false},               // two samples
		{"c:1|s", false}, {"c:1|h", false}, // other types
		{"c:1|x", false}, {"c:1|", false}, {"c:1", false}, {"c:|c", false}, {"c:+|c", false},
		{":1|c", false}, {"a b:1|c", false}, {"a/b:1|c", false}, {"_e{1,1}:a|b", false},
		{"_sc|n|0", false}, {"c: 1|c", false}, {"c:0x1F|c", false}, {"c:1e3|c", false},
		{"c:1|c ", false}, {"c:1|C", false}, {"novalue", false}, {"", false},
	} {
		if got := checkSimpleLine(t, []byte(c.in)); got != c.simple {
			t.Errorf("SimpleLine(%q) ok = %v, want %v", c.in, got, c.simple)
		}
	}
}

// FuzzSimpleLine: whatever SimpleLine accepts, the general path parses to
// the same key and sample.
func FuzzSimpleLine(f *testing.F) {
	for _, s := range []string{"a:1|c", "t:12.5|ms", "g:+4|g", "g:-0|g", "t:-0|ms", "a:1|c|@0.1",
		"a.b;c=d:1|c", "x:1|c:2|c", "a:1.|c", "a:.1|ms"} {
		f.Add([]byte(s))
	}
	f.Add([]byte("a:1|c|#env:prod,zone:a"))
	f.Add([]byte("a:1|c|#k|@0.5"))
	f.Fuzz(func(t *testing.T, line []byte) {
		checkSimpleLine(t, line)
		checkSimpleTaggedLine(t, line)
	})
}

// BenchmarkParse measures splitting, key building and sample parsing of
// typical lines: ns/op is per line, 0 allocs/op in steady state.
func BenchmarkParse(b *testing.B) {
	lines := [][]byte{
		[]byte("api.requests.total:1|c"),
		[]byte("api.requests.sampled:1|c|@0.1"),
		[]byte("api.latency.p:12.25|ms"),
		[]byte("db.pool.active:+3|g"),
		[]byte("users.online:u123456|s"),
		[]byte("api.tagged:1|c|#env:prod,zone:eu-1"),
		[]byte("host 01/cpu:42|g"),
		[]byte("multi.value:1|c:2|c:3|ms"),
	}
	scratch := make([]byte, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := SplitLine(lines[i%len(lines)])
		var key []byte
		key, scratch = Key(scratch, l.Name, l.Tags, true)
		_ = key
		for v, more := l.Values, true; more; {
			var s []byte
			s, v, more = NextValue(v)
			_, _ = ParseSample(s)
		}
	}
}

// checkNormalizeTags: NormalizeTags' result is a name carbon keeps as it is
// (metricpath.Normalize changes nothing), and where the key has no tag
// NormalizeTags rewrites beyond carbon (bare or empty), it is carbon's.
func checkNormalizeTags(t *testing.T, key []byte) {
	t.Helper()
	norm, _, err := NormalizeTags(key, nil)
	if err != nil {
		if !errors.Is(err, ErrTagEmptyKey) && !errors.Is(err, ErrTagEmptyValue) {
			t.Fatalf("NormalizeTags(%q): unexpected error %v", key, err)
		}
		return
	}
	semi := bytes.IndexByte(norm, ';')
	if semi == 0 {
		return // empty name: refused later as unstorable
	}
	again, err := metricpath.Normalize(string(norm))
	if err != nil || again != string(norm) {
		t.Fatalf("NormalizeTags(%q) = %q, which carbon normalises to %q, %v", key, norm, again, err)
	}
	if i := bytes.IndexByte(key, ';'); i > 0 {
		plain := true
		for _, seg := range bytes.Split(key[i+1:], []byte(";")) {
			if len(seg) == 0 || bytes.IndexByte(seg, '=') < 0 {
				plain = false
			}
		}
		if want, err := metricpath.Normalize(string(key)); plain && (err != nil || want != string(norm)) {
			t.Fatalf("NormalizeTags(%q) = %q, carbon: %q, %v", key, norm, want, err)
		}
	}
}

func TestNormalizeTags(t *testing.T) {
	cases := []struct{ in, want string }{
		{"m", "m"},
		{"m;b=2;a=1", "m;a=1;b=2"},
		{"m;a=1;b=2", "m;a=1;b=2"},
		{"m;a=1;a=2", "m;a=2"},
		{"m;a=2;b=1;a=3", "m;a=3;b=1"},
		{"m;a=1;a-=2", "m;a-=2;a=1"},
		{"m;ab=1;a=2", "m;a=2;ab=1"},
		{"m;canary", "m;canary=true"},
		{"m;env=prod;canary", "m;canary=true;env=prod"},
		{"m;name=x", "m"},
		{"m;name=x;z=1", "m;z=1"},
		{"m;;a=1;", "m;a=1"},
		{"m;", "m"},
		{"m;k=v=w", "m;k=v=w"},
		{"m.x;ver=1.2", "m.x;ver=1.2"},
	}
	for _, c := range cases {
		got, _, err := NormalizeTags([]byte(c.in), nil)
		if err != nil || string(got) != c.want {
			t.Errorf("NormalizeTags(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for in, want := range map[string]error{"m;=v": ErrTagEmptyKey, "m;k=": ErrTagEmptyValue, "m;a=1;=": ErrTagEmptyKey} {
		if _, _, err := NormalizeTags([]byte(in), nil); !errors.Is(err, want) {
			t.Errorf("NormalizeTags(%q) error %v, want %v", in, err, want)
		}
	}
	// Many tags (past the stack array) still sort.
	var b strings.Builder
	b.WriteString("m")
	for i := 40; i > 0; i-- {
		fmt.Fprintf(&b, ";k%02d=%d", i, i)
	}
	got, _, err := NormalizeTags([]byte(b.String()), nil)
	want, _ := metricpath.Normalize(b.String())
	if err != nil || string(got) != want {
		t.Errorf("40 tags: %q, %v; want %q", got, err, want)
	}
	// Steady state: no allocation.
	work := make([]byte, 0, 256)
	key := []byte("app.req;zone=eu-1;env=prod;canary;env=dev")
	if n := testing.AllocsPerRun(100, func() { _, work, _ = NormalizeTags(key, work) }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}
