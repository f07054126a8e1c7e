package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"sync/atomic"
	"time"
)

// sender delivers a batch of transitions once; the notifier retries.
type sender func(ctx context.Context, batch []transition) error

// notifier queues transitions for one [[notify]] and delivers them on
// its own goroutine with retries and backoff, so a notifier that is
// down delays nobody else.
type notifier struct {
	cfg    Notify
	engine *Engine
	send   sender
	queue  chan transition
	accept func(rule string) bool

	Sent, Failed, Dropped, Retried atomic.Int64
	lastErr                        atomic.Value // string
}

func newNotifier(n Notify, e *Engine) (*notifier, error) {
	nt := &notifier{cfg: n, engine: e, queue: make(chan transition, 1024)}
	only := map[string]bool{}
	for _, r := range n.Rules {
		only[r] = true
	}
	nt.accept = func(rule string) bool { return len(only) == 0 || only[rule] }
	client := &http.Client{Timeout: n.Timeout.Duration}
	switch n.Type {
	case "alertmanager":
		nt.send = func(ctx context.Context, b []transition) error { return nt.postAlertmanager(ctx, client, b) }
	case "webhook":
		nt.send = func(ctx context.Context, b []transition) error { return nt.postWebhook(ctx, client, b) }
	case "email":
		nt.send = nt.sendEmail
	default:
		return nil, fmt.Errorf("notify %s: unknown type %q", n.Name, n.Type)
	}
	nt.lastErr.Store("")
	return nt, nil
}

func (n *notifier) enqueue(t transition) {
	if !n.accept(t.rule.Name) {
		return
	}
	select {
	case n.queue <- t:
	default:
		n.Dropped.Add(1)
		n.engine.log.Error("alert notification dropped: queue full", "notifier", n.cfg.Name, "rule", t.rule.Name,
			"series", t.alert.Series)
	}
}

// run delivers queued transitions; an Alertmanager notifier also re-sends
// the firing alerts every resend so that Alertmanager does not resolve
// them by its resolve_timeout.
func (n *notifier) run(ctx context.Context) {
	var resend <-chan time.Time
	if n.cfg.Type == "alertmanager" {
		t := time.NewTicker(n.cfg.Resend.Duration)
		defer t.Stop()
		resend = t.C
		// After a restart, tell Alertmanager at once what is still firing.
		if f := n.engine.firing(n.accept); len(f) > 0 {
			n.deliver(ctx, f)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-n.queue:
			batch := []transition{t}
		more:
			for len(batch) < 64 {
				select {
				case t := <-n.queue:
					batch = append(batch, t)
				default:
					break more
				}
			}
			n.deliver(ctx, batch)
		case <-resend:
			if f := n.engine.firing(n.accept); len(f) > 0 {
				n.deliver(ctx, f)
			}
		}
	}
}

// deliver sends a batch, retrying with doubling backoff; each failure is
// logged with the rules' names and counted.
func (n *notifier) deliver(ctx context.Context, batch []transition) {
	backoff := n.cfg.Backoff.Duration
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, n.cfg.Timeout.Duration)
		err := n.send(actx, batch)
		cancel()
		if err == nil {
			n.Sent.Add(int64(len(batch)))
			n.lastErr.Store("")
			return
		}
		n.lastErr.Store(err.Error())
		final := attempt+1 >= n.cfg.Retries || ctx.Err() != nil
		n.engine.log.Error("alert notification failed", "notifier", n.cfg.Name, "type", n.cfg.Type,
			"rule", ruleNames(batch), "attempt", attempt+1, "final", final, "error", err)
		if final {
			n.Failed.Add(int64(len(batch)))
			return
		}
		n.Retried.Add(1)
		select {
		case <-ctx.Done():
			n.Failed.Add(int64(len(batch)))
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

func ruleNames(batch []transition) string {
	seen := map[string]bool{}
	var names []string
	for _, t := range batch {
		if !seen[t.rule.Name] {
			seen[t.rule.Name] = true
			names = append(names, t.rule.Name)
		}
	}
	return strings.Join(names, ",")
}

// amAlert is an alert of Alertmanager's API v2.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// amLabels are an alert's labels: alertname, series and the rule's.
func amLabels(t transition) map[string]string {
	l := map[string]string{"alertname": t.rule.Name, "series": t.alert.Series}
	for k, v := range t.rule.Labels {
		l[k] = v
	}
	return l
}

func (n *notifier) postAlertmanager(ctx context.Context, c *http.Client, batch []transition) error {
	now := n.engine.opts.Now()
	// A firing alert lasts until four re-sends are missed (Prometheus's
	// rule); a resolved one ends when it resolved.
	hold := 4 * max(n.cfg.Resend.Duration, maxEvery(batch))
	list := make([]amAlert, 0, len(batch))
	for _, t := range batch {
		a := amAlert{Labels: amLabels(t), StartsAt: t.alert.FiredAt,
			Annotations: map[string]string{"summary": t.alert.Summary, "value": valueText(t.alert.Value)}}
		if t.alert.State == StateFiring {
			a.EndsAt = now.Add(hold)
		} else {
			a.EndsAt = t.alert.Since
		}
		list = append(list, a)
	}
	// Re-sends of many firing alerts go in bodies of at most 500.
	url := strings.TrimSuffix(n.cfg.URL, "/") + "/api/v2/alerts"
	for len(list) > 0 {
		k := min(len(list), 500)
		if err := n.postJSON(ctx, c, url, list[:k]); err != nil {
			return err
		}
		list = list[k:]
	}
	return nil
}

func maxEvery(batch []transition) time.Duration {
	var d time.Duration
	for _, t := range batch {
		d = max(d, t.rule.Every.Duration)
	}
	return d
}

func valueText(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(*v)
}

// WebhookMessage is what a webhook notifier POSTs: one JSON object per
// batch of transitions.
type WebhookMessage struct {
	Version string           `json:"version"` // "1"
	Alerts  []WebhookPayload `json:"alerts"`
}

// WebhookPayload is one transition in a WebhookMessage.
type WebhookPayload struct {
	Rule     string            `json:"rule"`
	Series   string            `json:"series"`
	Status   State             `json:"status"` // firing or resolved
	Value    *float64          `json:"value"`
	Summary  string            `json:"summary"`
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	EndsAt   *time.Time        `json:"endsAt,omitempty"`
}

func payload(t transition) WebhookPayload {
	p := WebhookPayload{Rule: t.rule.Name, Series: t.alert.Series, Status: t.alert.State, Value: t.alert.Value,
		Summary: t.alert.Summary, Labels: amLabels(t), StartsAt: t.alert.FiredAt}
	if t.alert.State == StateResolved {
		e := t.alert.Since
		p.EndsAt = &e
	}
	return p
}

func (n *notifier) postWebhook(ctx context.Context, c *http.Client, batch []transition) error {
	m := WebhookMessage{Version: "1"}
	for _, t := range batch {
		m.Alerts = append(m.Alerts, payload(t))
	}
	return n.postJSON(ctx, c, n.cfg.URL, m)
}

func (n *notifier) postJSON(ctx context.Context, c *http.Client, url string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range n.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// sendEmail sends one mail per batch over SMTP: STARTTLS when the
// server offers it (auto), always (refuse otherwise) or never; PLAIN
// auth when a username is set.
func (n *notifier) sendEmail(ctx context.Context, batch []transition) error {
	host, _, err := net.SplitHostPort(n.cfg.SMTP)
	if err != nil {
		return fmt.Errorf("smtp %q: %w", n.cfg.SMTP, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", n.cfg.SMTP)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", n.cfg.SMTP, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", n.cfg.SMTP, err)
	}
	defer c.Close()
	if n.cfg.StartTLS != "never" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
				return fmt.Errorf("smtp %s: STARTTLS: %w", n.cfg.SMTP, err)
			}
		} else if n.cfg.StartTLS == "always" {
			return fmt.Errorf("smtp %s: the server does not offer STARTTLS (starttls = \"always\")", n.cfg.SMTP)
		}
	}
	if n.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", n.cfg.Username, n.cfg.Password, host)); err != nil {
			return fmt.Errorf("smtp %s: auth: %w", n.cfg.SMTP, err)
		}
	}
	if err := c.Mail(n.cfg.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", n.cfg.SMTP, err)
	}
	for _, to := range n.cfg.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", n.cfg.SMTP, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", n.cfg.SMTP, err)
	}
	if _, err := w.Write(mailText(n.cfg, batch, n.engine.opts.Now())); err != nil {
		return fmt.Errorf("smtp %s: writing: %w", n.cfg.SMTP, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: end of DATA: %w", n.cfg.SMTP, err)
	}
	if err := c.Quit(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("smtp %s: QUIT: %w", n.cfg.SMTP, err)
	}
	return nil
}

// mailText is the message: a subject naming the first alert, then one
// paragraph per alert.
func mailText(cfg Notify, batch []transition, now time.Time) []byte {
	var b strings.Builder
	first := batch[0]
	subject := fmt.Sprintf("[%s] %s: %s", strings.ToUpper(string(first.alert.State)), first.rule.Name, first.alert.Series)
	if len(batch) > 1 {
		subject += fmt.Sprintf(" (+%d more)", len(batch)-1)
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		cfg.From, strings.Join(cfg.To, ", "), oneLine(subject), now.Format(time.RFC1123Z))
	for _, t := range batch {
		fmt.Fprintf(&b, "%s %s\r\nseries: %s\r\nvalue: %s\r\nsummary: %s\r\nsince: %s\r\n\r\n",
			t.rule.Name, strings.ToUpper(string(t.alert.State)), oneLine(t.alert.Series), valueText(t.alert.Value),
			oneLine(t.alert.Summary), t.alert.Since.UTC().Format(time.RFC3339))
	}
	return []byte(b.String())
}

// oneLine keeps header injection out of a mail.
func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

// NotifierStatus is one notifier's counters.
type NotifierStatus struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Sent      int64  `json:"sent"`
	Failed    int64  `json:"failed"`
	Retried   int64  `json:"retried"`
	Dropped   int64  `json:"dropped"`
	LastError string `json:"last_error"`
}

// Notifiers returns the notifiers' counters.
func (e *Engine) Notifiers() []NotifierStatus {
	out := make([]NotifierStatus, 0, len(e.notifiers))
	for _, n := range e.notifiers {
		out = append(out, NotifierStatus{Name: n.cfg.Name, Type: n.cfg.Type, Sent: n.Sent.Load(), Failed: n.Failed.Load(),
			Retried: n.Retried.Load(), Dropped: n.Dropped.Load(), LastError: n.lastErr.Load().(string)})
	}
	return out
}
