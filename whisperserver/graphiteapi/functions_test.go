package graphiteapi

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
)

// goldenFunction is one entry of graphite-web 1.1.8's /functions answer,
// recorded by scripts/graphite-functions.py.
type goldenFunction struct {
	Group    string `json:"group"`
	Function string `json:"function"`
	Params   []any  `json:"params"`
}

func loadGoldenFunctions(t *testing.T) map[string]goldenFunction {
	t.Helper()
	b, err := os.ReadFile("../render/testdata/functions.json")
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]goldenFunction
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// roundTrip encodes v as /functions does and decodes it like the golden
// file, so that both sides compare as the same JSON.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFunctionsMetadataMatchGraphiteWeb checks every implemented
// function's /functions entry (group, signature, params with type,
// required, multiple, default, options, suggestions) against graphite-web.
func TestFunctionsMetadataMatchGraphiteWeb(t *testing.T) {
	golden := loadGoldenFunctions(t)
	if len(golden) != 151 {
		t.Fatalf("golden file lists %d functions, want graphite-web 1.1.8's 151", len(golden))
	}
	for _, name := range render.Names() {
		f, _ := render.Lookup(name)
		want, ok := golden[name]
		if !ok {
			t.Errorf("%s is not a graphite-web 1.1.8 function", name)
			continue
		}
		info := funcInfo(f)
		if info["group"] != want.Group {
			t.Errorf("%s: group %q, graphite-web %q", name, info["group"], want.Group)
		}
		if info["function"] != want.Function {
			t.Errorf("%s: function %q, graphite-web %q", name, info["function"], want.Function)
		}
		got := roundTrip(t, info["params"])
		exp := roundTrip(t, want.Params)
		if !reflect.DeepEqual(got, exp) {
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(exp)
			t.Errorf("%s params:\n got  %s\n want %s", name, gb, wb)
		}
	}
	t.Logf("%d of graphite-web's %d functions implemented", len(render.Names()), len(golden))
}
