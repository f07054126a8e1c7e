package carbon

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mozilla-services/heka/message"
	"github.com/mozilla-services/heka/pipeline"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/plaintext"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/sender"
)

// OutputConfig is DreamcatcherCarbonOutput's TOML configuration.
type OutputConfig struct {
	// MessageMatcher picks the messages whose payload is forwarded.
	MessageMatcher string `toml:"message_matcher"`
	// Address of the relay (or carbon-cache, go-carbon, storage hekad).
	Address string `toml:"address"`
	// ConnectTimeout and WriteTimeout, in seconds, bound each attempt.
	ConnectTimeout int `toml:"connect_timeout"`
	WriteTimeout   int `toml:"write_timeout"`
	// ReconnectMinMs and ReconnectMaxMs bound the backoff between attempts.
	ReconnectMinMs int `toml:"reconnect_min_ms"`
	ReconnectMaxMs int `toml:"reconnect_max_ms"`
	// BufferBytes bounds the data held while the relay is unreachable; the
	// oldest is dropped (and counted) beyond it.
	BufferBytes int `toml:"buffer_bytes"`
	// StopTimeout, in seconds, is how long a stopping hekad keeps trying to
	// send what is buffered.
	StopTimeout int `toml:"stop_timeout"`
	// SelfMetricsInterval (seconds, 0: never) and SelfMetricsPrefix ({hostname}:
	// the hostname; "" turns them off) for the output's own counters, which are forwarded with
	// the data.
	SelfMetricsInterval int    `toml:"self_metrics_interval"`
	SelfMetricsPrefix   string `toml:"self_metrics"`
}

// Output is DreamcatcherCarbonOutput.
type Output struct {
	conf     *OutputConfig
	snd      atomic.Pointer[sender.Sender]
	badLines atomic.Uint64
	lines    atomic.Uint64
}

// ConfigStruct returns the defaults.
func (o *Output) ConfigStruct() interface{} {
	return &OutputConfig{
		MessageMatcher:      "Type == 'heka.statmetric'",
		Address:             "127.0.0.1:2003",
		ConnectTimeout:      5,
		WriteTimeout:        10,
		ReconnectMinMs:      100,
		ReconnectMaxMs:      10000,
		BufferBytes:         32 << 20,
		StopTimeout:         5,
		SelfMetricsInterval: 10,
		SelfMetricsPrefix:   "dreamcatcher.carbon_output.{hostname}",
	}
}

// Init checks the settings.
func (o *Output) Init(config interface{}) error {
	c := config.(*OutputConfig)
	switch {
	case c.ConnectTimeout < 1:
		return fmt.Errorf("connect_timeout %d: must be at least 1 second", c.ConnectTimeout)
	case c.WriteTimeout < 1:
		return fmt.Errorf("write_timeout %d: must be at least 1 second", c.WriteTimeout)
	case c.ReconnectMinMs < 1 || c.ReconnectMaxMs < c.ReconnectMinMs:
		return fmt.Errorf("reconnect_min_ms %d, reconnect_max_ms %d: need 1 ≤ min ≤ max", c.ReconnectMinMs, c.ReconnectMaxMs)
	case c.BufferBytes < 64*1024:
		return fmt.Errorf("buffer_bytes %d: must be at least 65536", c.BufferBytes)
	case c.StopTimeout < 0:
		return fmt.Errorf("stop_timeout %d: must be 0 or more seconds", c.StopTimeout)
	case c.SelfMetricsInterval < 0:
		return fmt.Errorf("self_metrics_interval %d: must be 0 (off) or more seconds", c.SelfMetricsInterval)
	}
	o.conf = c
	return nil
}

// Run forwards every matched message's payload lines until Heka stops the
// output, then sends what is buffered within stop_timeout.
func (o *Output) Run(or pipeline.OutputRunner, h pipeline.PluginHelper) error {
	snd, err := sender.New(sender.Config{
		Address:      o.conf.Address,
		DialTimeout:  time.Duration(o.conf.ConnectTimeout) * time.Second,
		WriteTimeout: time.Duration(o.conf.WriteTimeout) * time.Second,
		ReconnectMin: time.Duration(o.conf.ReconnectMinMs) * time.Millisecond,
		ReconnectMax: time.Duration(o.conf.ReconnectMaxMs) * time.Millisecond,
		BufferBytes:  o.conf.BufferBytes,
		StopTimeout:  time.Duration(o.conf.StopTimeout) * time.Second,
		Log:          or.LogMessage,
	})
	if err != nil {
		return err
	}
	o.snd.Store(snd)
	self := newSelfLines(expandPrefix(o.conf.SelfMetricsPrefix, h.Hostname()))
	var statsTick <-chan time.Time
	if o.conf.SelfMetricsInterval > 0 && strings.Trim(o.conf.SelfMetricsPrefix, ".") != "" {
		t := time.NewTicker(time.Duration(o.conf.SelfMetricsInterval) * time.Second)
		defer t.Stop()
		statsTick = t.C
	}
	logTick := time.NewTicker(10 * time.Second)
	defer logTick.Stop()
	var (
		buf        []byte
		lastBad    uint64
		lastDrop   uint64
		badExample string
	)
	for {
		select {
		case pack, ok := <-or.InChan():
			if !ok {
				if err := snd.Close(); err != nil {
					or.LogError(err)
				}
				st := snd.Stats()
				or.LogMessage(fmt.Sprintf("stopped: %d lines sent to %s, %d dropped, %d bad lines", st.SentLines, o.conf.Address, st.DroppedLines, o.badLines.Load()))
				return nil
			}
			var n int
			buf, n = o.normalise(buf[:0], pack.Message.GetPayload(), &badExample)
			or.UpdateCursor(pack.QueueCursor)
			pack.Recycle(nil)
			o.lines.Add(uint64(n))
			snd.Send(buf, n)
		case now := <-statsTick:
			report := o.selfReport(snd, self, now)
			snd.Send(report, bytes.Count(report, []byte{'\n'}))
		case <-logTick.C:
			st := snd.Stats()
			if bad := o.badLines.Load(); bad > lastBad {
				or.LogError(fmt.Errorf("%d bad lines not forwarded in the last 10s, e.g. %q", bad-lastBad, badExample))
				lastBad = bad
			}
			if st.DroppedLines > lastDrop {
				or.LogError(fmt.Errorf("%d lines dropped in the last 10s: %s unreachable and the %d-byte buffer full",
					st.DroppedLines-lastDrop, o.conf.Address, o.conf.BufferBytes))
				lastDrop = st.DroppedLines
			}
		}
	}
}

// normalise keeps the payload's well-formed carbon lines, rewritten in the
// canonical form (a negative timestamp, carbon's "now", made absolute), and
// counts the others.
func (o *Output) normalise(dst []byte, payload string, example *string) ([]byte, int) {
	n := 0
	now := time.Now().Unix()
	plaintext.Lines([]byte(payload), func(line []byte) {
		p, err := plaintext.ParseLine(line)
		if err != nil {
			o.badLines.Add(1)
			if len(line) > 200 {
				line = line[:200]
			}
			*example = string(line)
			return
		}
		ts := p.Timestamp
		if ts < 0 {
			ts = now
		}
		dst = append(dst, p.Name...)
		dst = append(dst, ' ')
		dst = strconv.AppendFloat(dst, p.Value, 'f', -1, 64)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, '\n')
		n++
	})
	return dst, n
}

func (o *Output) selfReport(snd *sender.Sender, s *selfLines, now time.Time) []byte {
	st := snd.Stats()
	s.begin()
	s.counter("linesIn", o.lines.Load(), now)
	s.counter("sent", st.SentLines, now)
	s.counter("sentBytes", st.SentBytes, now)
	s.counter("dropped", st.DroppedLines, now)
	s.counter("badLines", o.badLines.Load(), now)
	s.counter("connects", st.Connects, now)
	s.counter("connectFailures", st.ConnectFailures, now)
	s.counter("writeErrors", st.WriteErrors, now)
	s.gauge("queuedBytes", float64(st.QueuedBytes), now)
	s.gauge("queuedLines", float64(st.QueuedLines), now)
	connected := 0.0
	if st.Connected {
		connected = 1
	}
	s.gauge("connected", connected, now)
	return s.buf
}

// ReportMsg adds the counters to Heka's plugin report.
func (o *Output) ReportMsg(msg *message.Message) error {
	snd := o.snd.Load()
	if snd == nil {
		return nil
	}
	st := snd.Stats()
	message.NewInt64Field(msg, "SentLines", int64(st.SentLines), "count")
	message.NewInt64Field(msg, "DroppedLines", int64(st.DroppedLines), "count")
	message.NewInt64Field(msg, "BadLines", int64(o.badLines.Load()), "count")
	message.NewInt64Field(msg, "QueuedBytes", int64(st.QueuedBytes), "B")
	message.NewInt64Field(msg, "WriteErrors", int64(st.WriteErrors), "count")
	return nil
}

// OutputPluginName is the name the carbon output registers with Heka.
const OutputPluginName = "DreamcatcherCarbonOutput"

func init() {
	pipeline.RegisterPlugin(OutputPluginName, func() interface{} { return new(Output) })
}
