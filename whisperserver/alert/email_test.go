package alert

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestEmailThroughAiosmtpd: firing and resolved mails reach a real SMTP
// server (Debian's aiosmtpd), which prints them.
func TestEmailThroughAiosmtpd(t *testing.T) {
	smtpd := testutil.StartSMTP(t)
	d := &memData{values: map[string]float64{"disk.used": 97}}
	c := &clock{t: time.Now()}
	e := newTestEngine(t, fmt.Sprintf(`
[[rule]]
name = "DiskFull"
target = "disk.used"
above = 90
every = "200ms"
summary = "disk at {{value}}%%"

[[notify]]
type = "email"
smtp = %q
from = "dreamcatcher@example.org"
to = ["ops@example.org", "oncall@example.org"]
timeout = "5s"
`, smtpd.Addr), d, c, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	smtpd.Proc.WaitOutput("Subject: [FIRING] DiskFull: disk.used", 20*time.Second)
	d.set("disk.used", 50)
	c.add(time.Second)
	e.EvalAll(ctx)
	smtpd.Proc.WaitOutput("Subject: [RESOLVED] DiskFull: disk.used", 20*time.Second)
	out := smtpd.Proc.Output()
	for _, want := range []string{"summary: disk at 97%", "To: ops@example.org, oncall@example.org", "From: dreamcatcher@example.org"} {
		if !strings.Contains(out, want) {
			t.Errorf("the mail lacks %q:\n%s", want, out)
		}
	}
	if ns := e.Notifiers()[0]; ns.Sent != 2 || ns.Failed != 0 {
		t.Errorf("notifier %+v", ns)
	}
}

// TestEmailRefused: an SMTP server that refuses (here: one that needs
// STARTTLS, which aiosmtpd does not offer) is an error counted and
// retried, named in the log with the rule.
func TestEmailRefused(t *testing.T) {
	smtpd := testutil.StartSMTP(t)
	var log logBuffer
	d := &memData{values: map[string]float64{"x": 5}}
	c := &clock{t: time.Now()}
	rs, err := Parse(fmt.Sprintf(`
[[rule]]
name = "Refused"
target = "x"
above = 1
every = "200ms"
[[notify]]
type = "email"
smtp = %q
from = "a@example.org"
to = ["b@example.org"]
starttls = "always"
retries = 2
backoff = "10ms"
`, smtpd.Addr))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, Options{Eval: d.eval, Now: c.now, Log: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	testutil.Eventually(t, 20*time.Second, func() bool { return e.Notifiers()[0].Failed == 1 }, "never failed: %+v", e.Notifiers())
	if ns := e.Notifiers()[0]; ns.Retried != 1 || !strings.Contains(ns.LastError, "STARTTLS") {
		t.Errorf("notifier %+v", ns)
	}
	if l := log.String(); !strings.Contains(l, "rule=Refused") || !strings.Contains(l, "alert notification failed") {
		t.Errorf("log:\n%s", l)
	}
}

// TestAlertmanagerDown: a notifier whose Alertmanager does not listen
// fails, counted, with the rule's name.
func TestAlertmanagerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	var log logBuffer
	d := &memData{values: map[string]float64{"x": 5}}
	rs, err := Parse(`
[[rule]]
name = "Lonely"
target = "x"
above = 1
every = "200ms"
[[notify]]
type = "alertmanager"
url = "http://` + addr + `"
retries = 2
backoff = "10ms"
timeout = "1s"
`)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rs, Options{Eval: d.eval, Log: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	testutil.Eventually(t, 20*time.Second, func() bool { return e.Notifiers()[0].Failed == 1 }, "never failed: %+v", e.Notifiers())
	if l := log.String(); !strings.Contains(l, "rule=Lonely") || !strings.Contains(l, "connection refused") {
		t.Errorf("log:\n%s", l)
	}
}
