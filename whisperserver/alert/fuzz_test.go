package alert

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseRules: any rules text is either refused with an error or
// yields rules that are usable as they are (a parsed target, a
// threshold, a valid interval and no_data) and whose summary renders.
func FuzzParseRules(f *testing.F) {
	f.Add(goodRules)
	f.Add("[[rule]]\nname=\"a\"\ntarget=\"sumSeries(a.*)\"\nbelow=-1\nno_data=\"keep\"\nsummary=\"{{value}} {{labels.x}}\"\nlabels={x=\"y\"}\n")
	f.Add("[[notify]]\ntype=\"email\"\nsmtp=\"127.0.0.1:25\"\nfrom=\"a\"\nto=[\"b\"]\nstarttls=\"never\"\n")
	f.Add("[[rule]]\nname=\"a\"\ntarget=\"a\"\nabove=nan\n")
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := Parse(text)
		if err != nil {
			return
		}
		for _, r := range rs.Rule {
			if r.Expr() == nil || r.Name == "" || r.Every.Duration < 100*time.Millisecond || (r.Above == nil) == (r.Below == nil) {
				t.Fatalf("accepted an unusable rule %+v", r)
			}
			switch r.NoData {
			case NoDataOK, NoDataAlerting, NoDataKeep:
			default:
				t.Fatalf("no_data %q accepted", r.NoData)
			}
			v := 1.5
			s := summary(r, &Alert{Series: "a.b", Value: &v})
			if r.Summary == "" && !strings.Contains(s, "a.b") {
				t.Fatalf("default summary %q", s)
			}
		}
		for _, n := range rs.Notify {
			if n.Retries < 1 || n.Timeout.Duration <= 0 || n.Backoff.Duration <= 0 {
				t.Fatalf("accepted a notifier without retries or timeouts %+v", n)
			}
		}
	})
}
