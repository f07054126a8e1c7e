package metricpath

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// carbonCases are tagged names whose normalised form and file carbon 1.1.7
// decides (testdata/carbon_tags.golden.jsonl, made by testdata/carbon_tags.py).
var carbonCases = []string{
	"app.req;env=prod;dc=eu",
	"a;y=2;x=1",
	"a;x=1;x=2",
	"a;x=1;y=3;x=2",
	"a;name=foo;z=1",
	"a;name=foo",
	"~~a;b=c",
	"a;a-=1;a=2",
	"a;a=2;a-=1",
	"a;ab=1;a=2",
	"a;k=v=w",
	"a;k=v!^~",
	"a;k~=v",
	"a;~k=v",
	"a;K=1;k=2",
	"a;k=1;k2=2;k10=3",
	"a;k!=v",
	"a;k^=v",
	"a;=v",
	"a;k=",
	"a;k=~v",
	"a;k",
	";k=v",
	"~;k=v",
	";",
	"a;",
	"a;;k=v",
	"a;k=v;",
	"a;k=1.2.3",
	"a.b;c=d.e;b=a",
	"a..b;k=v",
	"a;route=/users/:id",
	"a/b;k=v",
	"a;k=ü;é=x",
	"a;k=_DOT_",
	"a;k=x_DOT_y.z",
	"a;k=C:\\dir",
	"tagobj;service=api;ver=1.2",
	`om{b="c"}`,
	`om.x{z="1",b="2.5"}`,
	`om{b="x\"y"}`,
	`om{b="x\\y"}`,
	`om{b="c":,d="e"}`,
	`om{b="c",}`,
	`om{b="c",b="d"}`,
	`om{name="x",b="c"}`,
	`~om{b="c"}`,
	`om{b=""}`,
	`{b="c"}`,
	`om{{b="c"}`,
	`om{b="~c"}`,
	`om{b!="c"}`,
	`om{b="c;d"}`,
	`om{b="c"d="e"}`,
	`om{b="x\y"}`,
	`om{="c"}`,
	`om{b=c"}`,
}

type carbonAnswer struct {
	In    string `json:"in"`
	Path  string `json:"path"`
	File  string `json:"file"`
	Error string `json:"error"`
}

func readGolden(t *testing.T) []carbonAnswer {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "carbon_tags.golden.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return decodeAnswers(t, data)
}

func decodeAnswers(t *testing.T, data []byte) []carbonAnswer {
	t.Helper()
	var out []carbonAnswer
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var a carbonAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("decoding %q: %v", sc.Text(), err)
		}
		out = append(out, a)
	}
	return out
}

// carbonFileOurs is the file this package writes where carbon writes
// carbonFile: the same, except that a '/' in the name is written as _SLASH_
// instead of making folders.
func carbonFileOurs(carbonFile string) string {
	if !strings.HasPrefix(carbonFile, TaggedDir+"/") {
		return carbonFile
	}
	parts := strings.SplitN(carbonFile, "/", 4)
	return strings.Join(parts[:3], "/") + "/" + strings.ReplaceAll(parts[3], "/", slashToken)
}

func checkAgainstCarbon(t *testing.T, answers []carbonAnswer) {
	t.Helper()
	if len(answers) != len(carbonCases) {
		t.Fatalf("%d answers for %d cases", len(answers), len(carbonCases))
	}
	for i, a := range answers {
		if a.In != carbonCases[i] {
			t.Fatalf("answer %d is for %q, want %q", i, a.In, carbonCases[i])
		}
		norm, err := Normalize(a.In)
		if a.Error != "" {
			if err == nil || !errors.Is(err, ErrTag) {
				t.Errorf("Normalize(%q) = %q, %v; carbon refuses it (%s)", a.In, norm, err, a.Error)
			}
			continue
		}
		if err != nil || norm != a.Path {
			t.Errorf("Normalize(%q) = %q, %v; carbon: %q", a.In, norm, err, a.Path)
			continue
		}
		rel, err := Rel(a.In)
		if want := carbonFileOurs(a.File); err != nil || filepath.ToSlash(rel) != want {
			t.Errorf("Rel(%q) = %q, %v; want %q (carbon: %q)", a.In, rel, err, want, a.File)
			continue
		}
		if back, ok := Name(rel); !ok || back != a.Path {
			t.Errorf("Name(%q) = %q, %v; want %q", rel, back, ok, a.Path)
		}
	}
}

func TestTaggedAsCarbonGolden(t *testing.T) {
	checkAgainstCarbon(t, readGolden(t))
}

// TestTaggedAsCarbonLive asks Debian's carbon 1.1.7 itself and checks that its
// answers are still the golden ones.
func TestTaggedAsCarbonLive(t *testing.T) {
	py := "/usr/bin/python3"
	err := exec.Command(py, "-c", "import carbon.util").Run()
	testutil.RequireReference(t, "carbon's Python module (Debian graphite-carbon)", err)
	var in bytes.Buffer
	for _, c := range carbonCases {
		b, _ := json.Marshal(c)
		in.Write(append(b, '\n'))
	}
	cmd := exec.Command(py, filepath.Join("testdata", "carbon_tags.py"))
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("carbon_tags.py: %v", err)
	}
	live := decodeAnswers(t, out)
	checkAgainstCarbon(t, live)
	golden := readGolden(t)
	for i := range live {
		if i < len(golden) && live[i] != golden[i] {
			t.Errorf("carbon now answers %+v, golden file has %+v", live[i], golden[i])
		}
	}
}

func TestParseTaggedReasons(t *testing.T) {
	cases := map[string]error{
		"a;=v":                                ErrTagEmptyKey,
		"a;k":                                 ErrTagNoEquals,
		";":                                   ErrTagEmptyName,
		";k=v":                                ErrTagEmptyName,
		"a;":                                  ErrTagNoEquals,
		"a;k!=v":                              ErrTagKeyChar,
		"a;k^=v":                              ErrTagKeyChar,
		"a;k=":                                ErrTagEmptyValue,
		"a;k=~x":                              ErrTagValueTilde,
		"a;k=\xff":                            ErrTagUTF8,
		"a;k=x\x00":                           ErrTagNUL,
		"a;k=" + strings.Repeat("v", MaxName): ErrTooLong,
		`a{b=""}`:                             ErrTagOpenMetrics,
		`a;x=1{b="c"}`:                        ErrTagOpenMetrics,
		`a{b="c;d"}`:                          ErrTagOpenMetrics,
		`a{b;="c"}`:                           ErrTagKeyChar,
	}
	for in, want := range cases {
		if _, _, err := ParseTagged(in); !errors.Is(err, want) {
			t.Errorf("ParseTagged(%.40q) error = %v, want %v", in, err, want)
		}
	}
	name, tags, err := ParseTagged("~x.y;b=2;a=1;b=3;name=z")
	want := []Tag{{"a", "1"}, {"b", "3"}}
	if err != nil || name != "x.y" || len(tags) != 2 || tags[0] != want[0] || tags[1] != want[1] {
		t.Errorf("ParseTagged = %q, %v, %v; want x.y, %v", name, tags, err, want)
	}
	if name, tags, err := ParseTagged("plain.~name"); err != nil || name != "plain.~name" || tags != nil {
		t.Errorf("ParseTagged(plain) = %q, %v, %v", name, tags, err)
	}
}

func TestTaggedLayout(t *testing.T) {
	// sha256("a.b;x=1") starts 4c4263 (checked with carbon above).
	rel, err := Rel("a.b;x=1")
	if err != nil || filepath.ToSlash(rel) != "_tagged/4c4/263/a_DOT_b;x=1.wsp" {
		t.Errorf("Rel = %q, %v", rel, err)
	}
	dir, file, err := Split("a.b;x=1")
	if err != nil || filepath.ToSlash(dir) != "_tagged/4c4/263" || file != "a_DOT_b;x=1.wsp" {
		t.Errorf("Split = %q, %q, %v", dir, file, err)
	}
	// Tag order does not matter: one file.
	r1, _ := Rel("m;x=1;y=2")
	r2, _ := Rel("m;y=2;x=1")
	if r1 != r2 {
		t.Errorf("two files for one series: %q, %q", r1, r2)
	}
	// Slashes and backslashes never make folders.
	for _, in := range []string{"a;route=/users/:id/../../x", "a/b;k=../..", "a;k=C:\\x"} {
		rel, err := Rel(in)
		if err != nil {
			t.Errorf("Rel(%q): %v", in, err)
			continue
		}
		if n := strings.Count(filepath.ToSlash(rel), "/"); n != 3 {
			t.Errorf("Rel(%q) = %q: %d folders, want 3", in, rel, n)
		}
	}
	// The longest file name that fits, and one byte more.
	base := "m;k="
	fits := base + strings.Repeat("v", MaxComponent-len(Ext)-len(base))
	if _, err := Rel(fits); err != nil {
		t.Errorf("%d-byte tagged name refused: %v", len(fits), err)
	}
	if _, err := Rel(fits + "v"); !errors.Is(err, ErrLongPart) {
		t.Errorf("over-long tagged file: %v, want ErrLongPart", err)
	}
	// Dots count after encoding (each becomes 5 bytes).
	if _, err := Rel("m;k=" + strings.Repeat(".", 60)); !errors.Is(err, ErrLongPart) {
		t.Errorf("over-long encoded file: %v, want ErrLongPart", err)
	}
	// A plain name may not reach into the tagged folder.
	if _, err := Rel("_tagged.4c4.263.x"); !errors.Is(err, ErrReserved) {
		t.Errorf("plain _tagged name: %v, want ErrReserved", err)
	}
	if _, err := Rel("_taggedx.y"); err != nil {
		t.Errorf("_taggedx.y refused: %v", err)
	}
	// A tagged name with only a name tag is the plain name.
	if rel, err := Rel("a.b;name=z"); err != nil || filepath.ToSlash(rel) != "a/b.wsp" {
		t.Errorf("Rel(a.b;name=z) = %q, %v", rel, err)
	}
	// Bad tags are refused by Rel with the reason.
	if _, err := Rel("a;=v"); !errors.Is(err, ErrTagEmptyKey) {
		t.Errorf("Rel(a;=v): %v", err)
	}
}

func TestTaggedName(t *testing.T) {
	for _, in := range []string{
		"a.b;x=1", "a;k=_DOT_", "a;k=x_DOT_y.z", "a;k=_DOT/", "a;k=_SLASH_/.",
		"a;r=/u/_SLASH_/x", "a;k=v;j=_DOT__SLASH_", "x;k=" + strings.Repeat("_DOT_.", 3),
	} {
		rel, err := Rel(in)
		if err != nil {
			t.Fatalf("Rel(%q): %v", in, err)
		}
		norm, _ := Normalize(in)
		if back, ok := Name(rel); !ok || back != norm {
			t.Errorf("Name(%q) = %q, %v; want %q", rel, back, ok, norm)
		}
	}
	// Too many readings to try: refused, quickly, rather than named wrong.
	many := "x;k=" + strings.Repeat("_DOT_.", 20)
	rel, _ := Rel(many)
	if name, ok := Name(rel); ok {
		t.Errorf("Name(%q) = %q, want refused (over the try budget)", rel, name)
	}
	bad := []string{
		"_tagged/4c4/263/a_DOT_b;x=2.wsp",                     // hash does not match
		"_tagged/4c4/263/a_DOT_b;x=1.txt",                     // not whisper
		"_tagged/4c4/a_DOT_b;x=1.wsp",                         // one folder short
		"_tagged/4c4/263/x/a_DOT_b;x=1.wsp",                   // one folder more
		"_tagged/4C4/263/a_DOT_b;x=1.wsp",                     // carbon's hex is lower case
		"_tagged/4c4/263/plain.wsp",                           // not tagged
		"_tagged/4c4/263/" + strings.Repeat("a", 64) + ".wsp", // hashed file name
		"_tagged/x.wsp",
	}
	for _, rel := range bad {
		if name, ok := Name(rel); ok {
			t.Errorf("Name(%q) = %q, want refused", rel, name)
		}
	}
}

func TestCompareTagsIsStringOrder(t *testing.T) {
	keys := []Tag{{"a", "1"}, {"a", "2"}, {"a-", "0"}, {"ab", "0"}, {"a>", "z"}, {"a<", "z"}, {"é", "1"}, {"a", ""}}
	for _, x := range keys {
		for _, y := range keys {
			want := strings.Compare(";"+x.Key+"="+x.Value, ";"+y.Key+"="+y.Value)
			if got := compareTags(x, y); got != want {
				t.Errorf("compareTags(%v, %v) = %d, want %d", x, y, got, want)
			}
		}
	}
}

func FuzzParseTagged(f *testing.F) {
	for _, c := range carbonCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, tags, err := ParseTagged(s)
		if err != nil {
			if _, nerr := Normalize(s); nerr == nil {
				t.Fatalf("Normalize accepts %q that ParseTagged refuses (%v)", s, err)
			}
			return
		}
		if !IsTagged(s) {
			return
		}
		norm := Format(name, tags)
		// Normalising is idempotent.
		again, err := Normalize(norm)
		if err != nil || again != norm {
			t.Fatalf("Normalize(%q) = %q, %v; not idempotent", norm, again, err)
		}
		for i := 1; i < len(tags); i++ {
			if compareTags(tags[i-1], tags[i]) >= 0 {
				t.Fatalf("tags not sorted or not unique: %v", tags)
			}
		}
		rel, err := Rel(s)
		if err != nil {
			return // plain-name rules (name tag only) or over-long file
		}
		r := filepath.ToSlash(rel)
		if IsTagged(norm) {
			if strings.Count(r, "/") != 3 || !strings.HasPrefix(r, TaggedDir+"/") {
				t.Fatalf("Rel(%q) = %q: not in the tagged layout", s, rel)
			}
			if len(filepath.Base(r)) > MaxComponent {
				t.Fatalf("Rel(%q) = %q: file name too long", s, rel)
			}
		}
		back, ok := Name(rel)
		if !ok || back != norm {
			t.Fatalf("Name(Rel(%q)) = %q, %v; want %q", s, back, ok, norm)
		}
	})
}
