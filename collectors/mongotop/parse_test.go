package mongotop

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/metricpath"
)

func TestParseLine(t *testing.T) {
	cases := []struct {
		line string
		kind LineKind
		rows []Row
		err  error
	}{
		{line: "", kind: Blank},
		{line: "   \t \r", kind: Blank},
		{line: "                    ns    total    read    write    2026-11-25T09:44:37Z", kind: Header},
		{line: "ns total read write", kind: Header},
		{line: "db    total    read    write    2026-11-25T09:44:37+01:00", kind: Header},
		{line: "    app.users    12ms     5ms     7ms    ", kind: Rows,
			rows: []Row{{"app.users", [3]float64{12, 5, 7}}}},
		{line: "local.oplog.rs\t1ms\t1ms\t0ms\r", kind: Rows,
			rows: []Row{{"local.oplog.rs", [3]float64{1, 1, 0}}}},
		{line: "app.my coll  2ms 1ms 1ms", kind: Rows, // spaces in a collection name
			rows: []Row{{"app.my coll", [3]float64{2, 1, 1}}}},
		{line: "app.x 1.5ms 0 1.5", kind: Rows,
			rows: []Row{{"app.x", [3]float64{1.5, 0, 1.5}}}},
		{line: "app.users 12ms 5ms", kind: Rows, err: ErrColumns},
		{line: "app.users 12ms -5ms 7ms", kind: Rows, err: ErrValue},
		{line: "app.users 12ms 5s 7ms", kind: Rows, err: ErrValue},
		{line: "app.users 12ms NaNms 7ms", kind: Rows, err: ErrValue},
		{line: "app.users 12ms 1e999ms 7ms", kind: Rows, err: ErrValue},
		{line: "2026-11-25T09:44:37.123+0000 Failed: connection refused", kind: Rows, err: ErrValue},
		{line: "ms 1ms 1ms 1ms", kind: Rows, rows: []Row{{"ms", [3]float64{1, 1, 1}}}},
		{line: `{"totals":{"b.c":{"total":{"time":30,"count":3},"read":{"time":10,"count":1},"write":{"time":20,"count":2}},` +
			`"a.x.y":{"total":{"time":0,"count":0},"read":{"time":0,"count":0},"write":{"time":0,"count":0}}},"time":"2026-11-25T09:44:37Z"}`,
			kind: Rows, rows: []Row{{"a.x.y", [3]float64{0, 0, 0}}, {"b.c", [3]float64{30, 10, 20}}}},
		{line: ` {"totals":{"app":{"read":4,"write":6}},"time":"2026-11-25T09:44:37Z"}`, // --locks
			kind: Rows, rows: []Row{{"app", [3]float64{10, 4, 6}}}},
		{line: `{"totals":{}}`, kind: Rows, rows: []Row{}},
		{line: `{"time":"x"}`, kind: Rows, err: ErrJSON},
		{line: `{"totals":{"a.b":{"total":{"time":1}}}`, kind: Rows, err: ErrJSON},
		{line: `{"totals":[]}`, kind: Rows, err: ErrJSON},
		// One bad entry does not lose the good ones.
		{line: `{"totals":{"a.b":{"total":{"time":-1},"read":{"time":0},"write":{"time":0}},"a.c":{"read":1,"write":2}}}`,
			kind: Rows, rows: []Row{{"a.c", [3]float64{3, 1, 2}}}, err: ErrJSON},
	}
	for _, c := range cases {
		kind, rows, err := ParseLine([]byte(c.line))
		if kind != c.kind {
			t.Errorf("%q: kind %d, want %d", c.line, kind, c.kind)
		}
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%q: error %v, want %v", c.line, err, c.err)
			}
		} else if err != nil {
			t.Errorf("%q: unexpected error %v", c.line, err)
		}
		if (len(rows) > 0 || len(c.rows) > 0) && !reflect.DeepEqual(rows, c.rows) {
			t.Errorf("%q: rows %+v, want %+v", c.line, rows, c.rows)
		}
	}
}

func TestNamer(t *testing.T) {
	cases := []struct {
		n    Namer
		ns   string
		want string
	}{
		{Namer{Prefix: "mongotop"}, "app.users", "mongotop.app.users"},
		{Namer{Prefix: "mongotop"}, "app.fs.chunks", "mongotop.app.fs_chunks"},
		{Namer{Prefix: "mongotop", Mode: Levels}, "app.fs.chunks", "mongotop.app.fs.chunks"},
		{Namer{Prefix: "mongotop", Mode: Flat}, "app.fs.chunks", "mongotop.app_fs_chunks"},
		{Namer{Prefix: "m", StripDB: "app"}, "app.fs.chunks", "m.fs_chunks"},
		{Namer{Prefix: "m", StripDB: "app", Mode: Levels}, "app.fs.chunks", "m.fs.chunks"},
		{Namer{Prefix: "m", StripDB: "app"}, "application.x", "m.application.x"},
		{Namer{Prefix: "m", StripDB: "app"}, "app", "m.app"}, // --locks: the database itself
		{Namer{}, "admin.$cmd", "admin._cmd"},
		{Namer{Mode: Levels}, "a..b.", "a._.b._"},
		{Namer{Mode: Levels}, "../../etc/passwd", "_._._._._etc_passwd"},
		{Namer{Prefix: "m"}, "app.my coll/ü:|@x", "m.app.my_coll_____x"},
		{Namer{Prefix: "m"}, "app.ü", "m.app._"},
	}
	for _, c := range cases {
		got, err := c.n.Base(c.ns)
		if err != nil || got != c.want {
			t.Errorf("%+v.Base(%q) = %q, %v; want %q", c.n, c.ns, got, err, c.want)
		}
	}
	long := "app." + strings.Repeat("c", 1000)
	got, err := Namer{Prefix: "m"}.Base(long)
	if err != nil || got != "m.app."+strings.Repeat("c", MaxComponent) {
		t.Errorf("long namespace: %q, %v", got, err)
	}
	// Many levels exceed the whole-name bound: refused, not truncated.
	if _, err := (Namer{Mode: Levels}).Base(strings.Repeat("a.", 3000)); !errors.Is(err, ErrName) {
		t.Errorf("4000-level namespace: error %v, want ErrName", err)
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, ok := range []string{"", "mongotop", "db.prod-1.mongotop"} {
		if err := CheckPrefix(ok); err != nil {
			t.Errorf("CheckPrefix(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{".", "a..b", "a.", "a b", "a/b", "a:b", "x|g"} {
		if err := CheckPrefix(bad); err == nil {
			t.Errorf("CheckPrefix(%q) accepted", bad)
		}
	}
}

func TestAppendGauge(t *testing.T) {
	for v, want := range map[float64]string{0: "a.b:0|g", 12: "a.b:12|g", 1.5: "a.b:1.5|g", 1e21: "a.b:1000000000000000000000|g"} {
		if got := string(AppendGauge(nil, "a.b", v)); got != want {
			t.Errorf("AppendGauge(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestPacker(t *testing.T) {
	p := &Packer{Size: 20}
	for _, l := range []string{"aaaa:1|g", "bbbb:2|g", "cccc:3|g", strings.Repeat("x", 30) + ":1|g", "d:4|g"} {
		p.Add([]byte(l))
	}
	var got []string
	for _, d := range p.Take() {
		got = append(got, string(d))
	}
	want := []string{"aaaa:1|g\nbbbb:2|g", "cccc:3|g", strings.Repeat("x", 30) + ":1|g", "d:4|g"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("datagrams %q, want %q", got, want)
	}
	if left := p.Take(); len(left) != 0 {
		t.Errorf("Take after Take: %q", left)
	}
}

// FuzzParseLine checks that no input crashes the parser and that every row
// it returns is sane and names a valid metric path.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"ns    total    read    write    2026-11-25T09:44:37Z",
		"    app.users    12ms     5ms     7ms    ",
		"app.my coll  2ms 1ms 1ms",
		`{"totals":{"b.c":{"total":{"time":30,"count":3},"read":{"time":10,"count":1},"write":{"time":20,"count":2}}},"time":"2026-11-25T09:44:37Z"}`,
		`{"totals":{"app":{"read":4,"write":6}}}`,
		"", "ms ms ms ms", "{", `{"totals":{"":{"read":1,"write":1}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		kind, rows, err := ParseLine(line)
		if kind != Rows && (len(rows) > 0 || err != nil) {
			t.Fatalf("kind %d with rows %v / error %v", kind, rows, err)
		}
		for _, r := range rows {
			if r.Namespace == "" {
				t.Fatalf("empty namespace from %q", line)
			}
			for _, v := range r.Millis {
				if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("bad value %v from %q", v, line)
				}
			}
			for _, mode := range []Sanitize{Underscore, Levels, Flat} {
				base, err := Namer{Prefix: "mongotop", Mode: mode}.Base(r.Namespace)
				if err != nil {
					continue
				}
				for _, k := range Kinds {
					name := base + "." + k
					if _, err := metricpath.Rel(name); err != nil {
						t.Fatalf("name %q from %q: %v", name, r.Namespace, err)
					}
					if strings.ContainsAny(name, ":| \n") {
						t.Fatalf("name %q breaks the statsd line", name)
					}
				}
			}
		}
	})
}

// FuzzNamer checks that every name made is a valid metric path holding no
// character that would break a statsd line.
func FuzzNamer(f *testing.F) {
	for _, s := range []string{"app.users", "a..b", "../x", "app.ü:|@", "", ".", "app"} {
		f.Add(s, "app", uint8(0))
	}
	f.Fuzz(func(t *testing.T, ns, strip string, mode uint8) {
		m := []Sanitize{Underscore, Levels, Flat}[int(mode)%3]
		base, err := Namer{Prefix: "p", StripDB: strip, Mode: m}.Base(ns)
		if err != nil {
			if !errors.Is(err, ErrName) {
				t.Fatalf("error %v is not ErrName", err)
			}
			return
		}
		if _, err := metricpath.Rel(base + ".write"); err != nil {
			t.Fatalf("%q → %q: %v", ns, base, err)
		}
		for i := 0; i < len(base); i++ {
			c := base[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
				t.Fatalf("%q → %q holds %q", ns, base, c)
			}
		}
	})
}
