package whisper

import (
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/schema"
)

func TestConfigRules(t *testing.T) {
	c := DefaultConfig()
	c.DefaultAggMethod = int64(4) // Heka's whisper-go AggregationMax
	c.DefaultArchiveInfo = [][]int64{{0, 10, 360}, {0, 60, 1440}}
	c.Schemas = []SchemaRule{{Name: "fast", Pattern: `^fast\.`, Retentions: "1s:1h"}}
	xff := 0.9
	c.Aggregations = []AggregationRule{{Pattern: `\.p99$`, XFilesFactor: &xff}}
	r, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"fast.x":                 "fast 1:3600 max 0.5",
		"app.latency.p99":        "default 10:360,60:1440 max 0.9",
		"stats.counters.a.count": "default 10:360,60:1440 sum 0",
		"stats.gauges.g":         "default 10:360,60:1440 last 0",
	}
	for name, want := range cases {
		m := r.Match(name)
		if got := m.Schema + " " + m.Archives.String() + " " + m.Method.String() + " " + ftoa(m.XFilesFactor); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	c.StatsdAggregation = false
	r, _ = c.Rules()
	if m := r.Match("stats.counters.a.count"); m.Method != schema.Max {
		t.Errorf("statsd_aggregation = false still applies statsd rules: %v", m.Method)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.DefaultRetentions = "1s:1h" }, // both defaults set
		func(c *Config) { c.DefaultAggMethod = int64(0) },
		func(c *Config) { c.DefaultAggMethod = 1.5 },
		func(c *Config) { c.DefaultXFilesFactor = 2 },
		func(c *Config) { c.Aggregations = []AggregationRule{{Pattern: "x", AggregationMethod: "median"}} },
		func(c *Config) { c.DefaultAggMethod = int64(9) },
	} {
		c := DefaultConfig()
		c.DefaultArchiveInfo = [][]int64{{0, 10, 360}}
		bad(c)
		if _, err := c.Rules(); err == nil {
			t.Errorf("accepted %+v", c)
		}
	}
	// whisper.py 1.1's three newer methods, by name in a rule and by number.
	c = DefaultConfig()
	c.DefaultArchiveInfo = [][]int64{{0, 10, 360}}
	c.DefaultAggMethod = int64(6)
	c.Aggregations = []AggregationRule{{Pattern: `^a\.`, AggregationMethod: "absmax"}, {Pattern: `^b\.`, AggregationMethod: "absmin"}}
	r, err = c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]schema.Method{"a.x": schema.AbsMax, "b.x": schema.AbsMin, "c.x": schema.AvgZero} {
		if m := r.Match(name); m.Method != want {
			t.Errorf("%s: %v, want %v", name, m.Method, want)
		}
	}
	if _, err := Perm("p", "0755"); err != nil {
		t.Error(err)
	}
	if _, err := Perm("p", "99"); err == nil {
		t.Error("99 accepted as octal")
	}
}

func ftoa(f float64) string {
	switch f {
	case 0:
		return "0"
	case 0.5:
		return "0.5"
	case 0.9:
		return "0.9"
	}
	return "?"
}
