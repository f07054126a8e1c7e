package statsd

import (
	"reflect"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd/aggregate"
)

// TestDefaultsAreEtsys checks an unconfigured input aggregates with exactly
// aggregate.DefaultConfig (Etsy statsd 0.9.0's defaults).
func TestDefaultsAreEtsys(t *testing.T) {
	got, err := aggregateConfig(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := aggregate.DefaultConfig()
	if err := want.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults differ:\n got %+v\nwant %+v", got, want)
	}
}
