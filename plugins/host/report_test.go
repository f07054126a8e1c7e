package host

import (
	"testing"

	"github.com/mozilla-services/heka/message"
)

func TestReportMsg(t *testing.T) {
	in := new(HostInput)
	in.collections.Add(3)
	in.lines.Add(180)
	in.failures.Add(1)
	msg := new(message.Message)
	if err := in.ReportMsg(msg); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{"Collections": 3, "MetricsEmitted": 180, "NamesRefused": 0, "CollectFailures": 1} {
		v, ok := msg.GetFieldValue(name)
		if !ok || v.(int64) != want {
			t.Errorf("%s = %v (present %v), want %d", name, v, ok, want)
		}
	}
}

func TestDefaultsAndInit(t *testing.T) {
	in := new(HostInput)
	conf := in.ConfigStruct().(*HostInputConfig)
	if conf.Interval != 10 || len(conf.Collect) != 8 || len(conf.IgnoreFS) == 0 {
		t.Errorf("defaults %+v", conf)
	}
	if err := in.Init(conf); err != nil {
		t.Fatalf("Init with the defaults: %v", err)
	}
	conf.Interval = 0
	if err := in.Init(conf); err == nil {
		t.Errorf("interval 0 accepted")
	}
}
