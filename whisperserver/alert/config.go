// Package alert evaluates alert rules written as Graphite expressions with
// the render engine, keeps each returned series' state (ok, pending,
// firing, resolved) and hands transitions to notifiers (Alertmanager,
// webhook, email). It imports nothing of Heka or the plugins.
package alert

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/render"
)

// Defaults of a rule.
const (
	DefaultEvery  = 10 * time.Second
	DefaultWindow = 5 * time.Minute
)

// NoData says what an empty or all-null result means.
type NoData string

// The no_data choices.
const (
	NoDataOK       NoData = "ok"       // not alerting
	NoDataAlerting NoData = "alerting" // the condition holds
	NoDataKeep     NoData = "keep"     // keep the last state
)

// Rule is one [[rule]] of the rules file.
type Rule struct {
	Name    string            `toml:"name"`
	Target  string            `toml:"target"`
	Above   *float64          `toml:"above"`
	Below   *float64          `toml:"below"`
	For     duration          `toml:"for"`
	Every   duration          `toml:"every"`
	Window  duration          `toml:"window"`
	Timeout duration          `toml:"timeout"`
	NoData  NoData            `toml:"no_data"`
	Labels  map[string]string `toml:"labels"`
	Summary string            `toml:"summary"`

	expr *render.Expr
}

// Expr is the parsed target.
func (r *Rule) Expr() *render.Expr { return r.expr }

// Threshold is the rule's threshold and whether it is an upper one.
func (r *Rule) Threshold() (float64, bool) {
	if r.Above != nil {
		return *r.Above, true
	}
	return *r.Below, false
}

// breached reports whether v breaks the rule's threshold.
func (r *Rule) breached(v float64) bool {
	if r.Above != nil {
		return v > *r.Above
	}
	return v < *r.Below
}

// Notify is one [[notify]] of the rules file.
type Notify struct {
	Type    string            `toml:"type"` // alertmanager, webhook, email
	Name    string            `toml:"name"` // for logs and counters; default type#n
	URL     string            `toml:"url"`  // alertmanager, webhook
	Timeout duration          `toml:"timeout"`
	Retries int               `toml:"retries"`
	Backoff duration          `toml:"backoff"`
	Resend  duration          `toml:"resend"`  // alertmanager: re-send firing alerts this often
	Headers map[string]string `toml:"headers"` // webhook, alertmanager
	// email
	SMTP     string   `toml:"smtp"` // host:port
	From     string   `toml:"from"`
	To       []string `toml:"to"`
	Username string   `toml:"username"`
	Password string   `toml:"password"`
	StartTLS string   `toml:"starttls"` // auto (default), always, never
	// Rules limits a notifier to these rules (all when empty).
	Rules []string `toml:"rules"`
}

// Rules is a loaded rules file.
type Rules struct {
	Rule   []*Rule  `toml:"rule"`
	Notify []Notify `toml:"notify"`
}

// duration is a time.Duration written as "3s" in TOML.
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", b)
	}
	d.Duration = v
	return nil
}

// LoadFile reads and checks a rules file: unknown keys, duplicate names,
// bad targets and thresholds are errors naming the file and the rule.
func LoadFile(path string) (*Rules, error) {
	var rs Rules
	md, err := toml.DecodeFile(path, &rs)
	if err != nil {
		return nil, fmt.Errorf("alerts %s: %w", path, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = fmt.Sprintf("%q", k.String())
		}
		return nil, fmt.Errorf("alerts %s: unknown key %s", path, strings.Join(names, ", "))
	}
	if err := rs.check(); err != nil {
		return nil, fmt.Errorf("alerts %s: %w", path, err)
	}
	return &rs, nil
}

// Parse checks rules given as TOML text (for tests and tools).
func Parse(text string) (*Rules, error) {
	var rs Rules
	md, err := toml.Decode(text, &rs)
	if err != nil {
		return nil, err
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		return nil, fmt.Errorf("unknown key %q", keys[0].String())
	}
	return &rs, rs.check()
}

func (rs *Rules) check() error {
	var errs []error
	seen := map[string]bool{}
	for i, r := range rs.Rule {
		if err := r.check(); err != nil {
			name := r.Name
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			errs = append(errs, fmt.Errorf("rule %s: %w", name, err))
		}
		if r.Name != "" && seen[r.Name] {
			errs = append(errs, fmt.Errorf("rule %s: the name is used twice (names are unique)", r.Name))
		}
		seen[r.Name] = true
	}
	counts := map[string]int{}
	for i := range rs.Notify {
		n := &rs.Notify[i]
		counts[n.Type]++
		if n.Name == "" {
			n.Name = fmt.Sprintf("%s#%d", n.Type, counts[n.Type])
		}
		if err := n.check(seen); err != nil {
			errs = append(errs, fmt.Errorf("notify %s: %w", n.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (r *Rule) check() error {
	if r.Name == "" {
		return errors.New("name is empty")
	}
	if strings.TrimSpace(r.Target) == "" {
		return errors.New("target is empty")
	}
	e, err := render.Parse(r.Target)
	if err != nil {
		return fmt.Errorf("target %q: %w", r.Target, err)
	}
	if e.Kind != render.KindPath && e.Kind != render.KindCall {
		return fmt.Errorf("target %q is not a series expression", r.Target)
	}
	r.expr = e
	switch {
	case r.Above == nil && r.Below == nil:
		return errors.New("one of above or below is needed")
	case r.Above != nil && r.Below != nil:
		return errors.New("above and below go in separate rules")
	}
	if t, _ := r.Threshold(); math.IsNaN(t) {
		return errors.New("the threshold is NaN")
	}
	if r.Every.Duration == 0 {
		r.Every.Duration = DefaultEvery
	}
	if r.Every.Duration < 100*time.Millisecond {
		return fmt.Errorf("every %s is under 100ms", r.Every.Duration)
	}
	if r.Window.Duration == 0 {
		r.Window.Duration = DefaultWindow
	}
	if r.Window.Duration < time.Second {
		return fmt.Errorf("window %s is under 1s", r.Window.Duration)
	}
	switch r.NoData {
	case "":
		r.NoData = NoDataOK
	case NoDataOK, NoDataAlerting, NoDataKeep:
	default:
		return fmt.Errorf("no_data %q: want ok, alerting or keep", r.NoData)
	}
	for k := range r.Labels {
		if k == "" || k == "alertname" || k == "series" {
			return fmt.Errorf("label %q is reserved or empty", k)
		}
	}
	return nil
}

func (n *Notify) check(rules map[string]bool) error {
	switch n.Type {
	case "alertmanager", "webhook":
		if n.URL == "" {
			return errors.New("url is needed")
		}
		if !strings.HasPrefix(n.URL, "http://") && !strings.HasPrefix(n.URL, "https://") {
			return fmt.Errorf("url %q: want http:// or https://", n.URL)
		}
	case "email":
		if n.SMTP == "" || n.From == "" || len(n.To) == 0 {
			return errors.New("smtp, from and to are needed")
		}
		switch n.StartTLS {
		case "":
			n.StartTLS = "auto"
		case "auto", "always", "never":
		default:
			return fmt.Errorf("starttls %q: want auto, always or never", n.StartTLS)
		}
		if n.Password != "" && n.Username == "" {
			return errors.New("password without username")
		}
	case "":
		return errors.New("type is empty (alertmanager, webhook or email)")
	default:
		return fmt.Errorf("type %q: want alertmanager, webhook or email", n.Type)
	}
	if n.Timeout.Duration == 0 {
		n.Timeout.Duration = 10 * time.Second
	}
	if n.Retries == 0 {
		n.Retries = 3
	}
	if n.Retries < 0 || n.Retries > 100 {
		return fmt.Errorf("retries %d: want 0 to 100", n.Retries)
	}
	if n.Backoff.Duration == 0 {
		n.Backoff.Duration = time.Second
	}
	if n.Resend.Duration == 0 {
		n.Resend.Duration = time.Minute
	}
	for _, r := range n.Rules {
		if !rules[r] {
			return fmt.Errorf("rules: no rule named %q", r)
		}
	}
	return nil
}
