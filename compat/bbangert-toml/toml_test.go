package toml

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// configFile mirrors heka's pipeline.ConfigFile: sections stay Primitives.
type configFile map[string]Primitive

// pluginConfig mirrors heka's pipeline.PluginConfig, decoded as a non-pointer.
type pluginConfig map[string]Primitive

const doc = `
[hekad]
maxprocs = 2

[StatsdInput]
type = "StatsdInput"
address = "127.0.0.1:8125"
ticker_interval = 10
percentiles = [90, 99.5]
encoder = "PayloadEncoder"

[StatsdInput.buffering]
max_file_size = 1024

[[StatsdInput.schemas]]
name = "fast"
pattern = "^fast\\."
retentions = "1s:1h"

[[StatsdInput.schemas]]
name = "slow"
pattern = "."
retentions = "1m:1d"
`

type schema struct {
	Name       string
	Pattern    string
	Retentions string
}

type statsdConfig struct {
	Address        string
	TickerInterval int       `toml:"ticker_interval"`
	Percentiles    []float64 `toml:"percentiles"`
	Schemas        []schema  `toml:"schemas"`
}

func decodeDoc(t *testing.T) configFile {
	t.Helper()
	var cf configFile
	if _, err := Decode(doc, &cf); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return cf
}

func TestDecodeKeepsSectionsGeneric(t *testing.T) {
	cf := decodeDoc(t)
	sec, ok := cf["StatsdInput"].(map[string]interface{})
	if !ok {
		t.Fatalf("section is %T, want map[string]interface{}", cf["StatsdInput"])
	}
	if sec["type"] != "StatsdInput" {
		t.Errorf("type = %v", sec["type"])
	}
	if _, ok := cf["hekad"]; !ok {
		t.Error("hekad section missing")
	}
}

func TestDecodeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var cf configFile
	md, err := DecodeFile(path, &cf)
	if err != nil {
		t.Fatalf("DecodeFile: %v", err)
	}
	if !md.IsDefined("StatsdInput", "address") {
		t.Error("IsDefined(StatsdInput.address) = false")
	}
	if _, err := DecodeFile(filepath.Join(t.TempDir(), "missing.toml"), &cf); err == nil {
		t.Error("DecodeFile of a missing file: no error")
	}
}

func TestDecodeSyntaxError(t *testing.T) {
	var cf configFile
	_, err := Decode("[a\nb = ", &cf)
	if err == nil {
		t.Fatal("no error for invalid TOML")
	}
}

func TestPrimitiveDecodeNestedTablesAndArrays(t *testing.T) {
	cf := decodeDoc(t)
	var c statsdConfig
	if err := PrimitiveDecode(cf["StatsdInput"], &c); err != nil {
		t.Fatalf("PrimitiveDecode: %v", err)
	}
	want := statsdConfig{
		Address:        "127.0.0.1:8125",
		TickerInterval: 10,
		Percentiles:    []float64{90, 99.5},
		Schemas: []schema{
			{Name: "fast", Pattern: `^fast\.`, Retentions: "1s:1h"},
			{Name: "slow", Pattern: ".", Retentions: "1m:1d"},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestPrimitiveDecodeIntoNonPointerMap(t *testing.T) {
	cf := decodeDoc(t)
	pc := pluginConfig{}
	if err := PrimitiveDecode(cf["StatsdInput"], pc); err != nil {
		t.Fatalf("PrimitiveDecode into map: %v", err)
	}
	if pc["address"] != "127.0.0.1:8125" {
		t.Errorf("address = %v", pc["address"])
	}
	if _, ok := pc["buffering"].(map[string]interface{}); !ok {
		t.Errorf("buffering = %T, want a table", pc["buffering"])
	}
	var nilMap pluginConfig
	if err := PrimitiveDecode(cf["StatsdInput"], nilMap); err == nil {
		t.Error("decoding into a nil map: no error")
	}
	if err := PrimitiveDecode(cf["StatsdInput"], statsdConfig{}); err == nil {
		t.Error("decoding into a non-pointer struct: no error")
	}
}

func TestPrimitiveDecodeStrict(t *testing.T) {
	cf := decodeDoc(t)
	// Heka fills the ignore list from its common config structs, using the
	// toml tag or the Go field name, so case must not matter.
	ignore := map[string]interface{}{"type": true, "Encoder": true, "buffering": true}
	var c statsdConfig
	if err := PrimitiveDecodeStrict(cf["StatsdInput"], &c, ignore); err != nil {
		t.Fatalf("strict decode with ignore list: %v", err)
	}
	if c.Address != "127.0.0.1:8125" {
		t.Errorf("address = %q", c.Address)
	}

	err := PrimitiveDecodeStrict(cf["StatsdInput"], &c, map[string]interface{}{"type": true, "buffering": true})
	if err == nil {
		t.Fatal("strict decode accepted key 'encoder' that is neither used nor ignored")
	}
	if !strings.HasPrefix(err.Error(), "Configuration contains key [encoder]") {
		t.Errorf("error = %q, want prefix %q", err, "Configuration contains key [encoder]")
	}
}

func TestPrimitiveDecodeStrictNestedUnknownKey(t *testing.T) {
	var cf configFile
	if _, err := Decode("[X]\n[[X.schemas]]\nname = \"a\"\nbogus = 1\n", &cf); err != nil {
		t.Fatal(err)
	}
	var c statsdConfig
	err := PrimitiveDecodeStrict(cf["X"], &c, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "Configuration contains key [schemas.bogus]") {
		t.Errorf("error = %v, want one naming schemas.bogus", err)
	}
}

func TestPrimitiveDecodeTypeMismatch(t *testing.T) {
	var cf configFile
	if _, err := Decode("[X]\nticker_interval = \"ten\"\n", &cf); err != nil {
		t.Fatal(err)
	}
	var c statsdConfig
	if err := PrimitiveDecode(cf["X"], &c); err == nil {
		t.Error("string into int: no error")
	}
	if err := PrimitiveDecode(42, &c); err == nil {
		t.Error("non-table primitive: no error")
	}
}

func TestPrimitiveDecodeNil(t *testing.T) {
	var c statsdConfig
	if err := PrimitiveDecode(nil, &c); err != nil {
		t.Errorf("nil primitive: %v", err)
	}
}
