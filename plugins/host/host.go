// Package host is the Heka adapter of the host metrics input,
// DreamcatcherHostInput: every interval it reads the host's CPU, load,
// memory, swap, filesystems, disk I/O, network and processes (package
// collect, with gopsutil) and injects them as heka.statmetric messages
// (carbon plaintext payloads), the format the statsd input emits and the
// whisper output stores.
package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/host/collect"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statmetric"
	"github.com/mozilla-services/heka/message"
	"github.com/mozilla-services/heka/pipeline"
)

// PluginName is the plugin type to use in the configuration.
const PluginName = "DreamcatcherHostInput"

func init() {
	pipeline.RegisterPlugin(PluginName, func() interface{} { return new(HostInput) })
}

// HostInputConfig is the plugin's TOML section.
type HostInputConfig struct {
	// Interval between two collections, in seconds (default 10).
	Interval uint `toml:"interval"`
	// Prefix of every name (default "hosts.<hostname>", the hostname's
	// dots replaced by '_'; the hostname is [hekad] hostname if set).
	Prefix string `toml:"prefix"`
	// Collect lists the groups to collect (default all).
	Collect []string `toml:"collect"`
	// MountPoints, if set, are the only filesystems reported.
	MountPoints []string `toml:"mount_points"`
	// IgnoreFS are filesystem types not reported.
	IgnoreFS []string `toml:"ignore_fs"`
	// Interfaces, if set, are the only network interfaces reported
	// (names or patterns such as "eth*"; default all but lo and veth*).
	Interfaces []string `toml:"interfaces"`
	// Devices, if set, are the only block devices reported (names or
	// patterns such as "sd*"; default all but loop and RAM disks).
	Devices []string `toml:"devices"`
}

// HostInput is the plugin.
type HostInput struct {
	conf     *HostInputConfig
	stopOnce sync.Once
	stop     chan struct{}

	collections atomic.Int64
	lines       atomic.Int64
	dropped     atomic.Int64
	failures    atomic.Int64
}

// ConfigStruct returns the defaults.
func (in *HostInput) ConfigStruct() interface{} {
	return &HostInputConfig{
		Interval: 10,
		Collect:  append([]string(nil), collect.AllGroups...),
		IgnoreFS: append([]string(nil), collect.DefaultIgnoreFS...),
	}
}

// Init checks the configuration.
func (in *HostInput) Init(config interface{}) error {
	conf := config.(*HostInputConfig)
	if conf.Interval == 0 {
		return errors.New("interval must be at least 1 (seconds)")
	}
	if conf.Interval > 24*3600 {
		return errors.New("interval must be at most 86400 (seconds)")
	}
	if len(conf.Collect) == 0 {
		return fmt.Errorf("collect is empty: name at least one of %s", strings.Join(collect.AllGroups, ", "))
	}
	// Check everything now; the default prefix (from the hostname Heka
	// runs with) is known only in Run.
	probe := in.collectConfig(conf, "hosts.x")
	if conf.Prefix != "" {
		probe.Prefix = conf.Prefix
	}
	if err := probe.Check(); err != nil {
		return err
	}
	in.conf = conf
	in.stop = make(chan struct{})
	return nil
}

func (in *HostInput) collectConfig(conf *HostInputConfig, prefix string) collect.Config {
	return collect.Config{
		Prefix:      prefix,
		Groups:      conf.Collect,
		MountPoints: conf.MountPoints,
		IgnoreFS:    append([]string{}, conf.IgnoreFS...), // never nil: [] means ignore none
		Interfaces:  conf.Interfaces,
		Devices:     conf.Devices,
		Timeout:     5 * time.Second,
	}
}

// Run collects once at start, then at every multiple of the interval on
// the wall clock (so that each collection lands in its own whisper slot),
// until Stop.
func (in *HostInput) Run(ir pipeline.InputRunner, h pipeline.PluginHelper) error {
	prefix := in.conf.Prefix
	if prefix == "" {
		prefix = collect.DefaultPrefix(h.Hostname())
	}
	c, err := collect.New(in.collectConfig(in.conf, prefix))
	if err != nil {
		return err
	}
	interval := time.Duration(in.conf.Interval) * time.Second
	inj := statmetric.Injector{Runner: ir, Hostname: h.Hostname()}
	ir.LogMessage(fmt.Sprintf("collecting %s every %s as %s.*", strings.Join(in.conf.Collect, ", "), interval, prefix))

	lastErrors := ""
	collectOnce := func() error {
		now := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		r := c.Collect(ctx, now)
		cancel()
		in.collections.Add(1)
		in.lines.Add(int64(r.Lines))
		in.dropped.Add(int64(r.Dropped))
		in.failures.Add(int64(len(r.Errors)))
		// Log a problem when it appears or changes, not at every interval.
		msgs := make([]string, len(r.Errors))
		for i, e := range r.Errors {
			msgs[i] = e.Error()
		}
		if joined := strings.Join(msgs, "; "); joined != lastErrors {
			if joined == "" {
				ir.LogMessage("every metric group is collected again")
			} else {
				ir.LogError(fmt.Errorf("not collected (repeats are only counted): %s", joined))
			}
			lastErrors = joined
		}
		if r.Lines == 0 {
			return nil
		}
		_, _, err := inj.Inject(r.Payload, now)
		return err
	}

	if err := collectOnce(); err != nil {
		return err
	}
	timer := time.NewTimer(untilNext(time.Now(), interval))
	defer timer.Stop()
	for {
		select {
		case <-in.stop:
			return nil
		case <-timer.C:
			if err := collectOnce(); err != nil {
				return err
			}
			timer.Reset(untilNext(time.Now(), interval))
		}
	}
}

// untilNext is the time from now to the next multiple of interval since the
// Unix epoch (at least a tenth of the interval, so a late tick does not
// fire twice in one slot).
func untilNext(now time.Time, interval time.Duration) time.Duration {
	d := now.Truncate(interval).Add(interval).Sub(now)
	if d < interval/10 {
		d += interval
	}
	return d
}

// Stop ends Run.
func (in *HostInput) Stop() {
	in.stopOnce.Do(func() { close(in.stop) })
}

// ReportMsg adds the plugin's counters to Heka's self-report.
func (in *HostInput) ReportMsg(msg *message.Message) error {
	message.NewInt64Field(msg, "Collections", in.collections.Load(), "count")
	message.NewInt64Field(msg, "MetricsEmitted", in.lines.Load(), "count")
	message.NewInt64Field(msg, "NamesRefused", in.dropped.Load(), "count")
	message.NewInt64Field(msg, "CollectFailures", in.failures.Load(), "count")
	return nil
}
