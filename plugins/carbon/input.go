// Package carbon holds the Heka adapters of the carbon plugins:
// DreamcatcherCarbonInput (Graphite plaintext over TCP and UDP into
// heka.statmetric messages; core in plugins/carbon/receiver) and
// DreamcatcherCarbonOutput (heka.statmetric messages forwarded to a carbon
// relay over TCP; core in plugins/carbon/sender). Only this package imports
// Heka.
package carbon

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mozilla-services/heka/message"
	"github.com/mozilla-services/heka/pipeline"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon/receiver"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statmetric"
)

// InputConfig is DreamcatcherCarbonInput's TOML configuration.
type InputConfig struct {
	// Address for both listeners, host:port.
	Address string `toml:"address"`
	// TCP and UDP switch the two listeners.
	TCP bool `toml:"tcp"`
	UDP bool `toml:"udp"`
	// IdleTimeout closes a TCP connection silent for this many seconds
	// (0: never).
	IdleTimeout int `toml:"idle_timeout"`
	// MaxLineLength drops longer lines.
	MaxLineLength int `toml:"max_line_length"`
	// MaxConnections caps open TCP connections.
	MaxConnections int `toml:"max_connections"`
	// BatchBytes is the payload size of one batch (0: as large as one
	// message may carry).
	BatchBytes int `toml:"batch_bytes"`
	// BatchDelayMs hands a partial batch on after this many milliseconds.
	BatchDelayMs int `toml:"batch_delay_ms"`
	// QueueBatches bounds batches waiting for the pipeline; when full, the
	// sockets are not read (back-pressure).
	QueueBatches int `toml:"queue_batches"`
	// UDPReadBufferBytes sets the UDP socket receive buffer (0: system default).
	UDPReadBufferBytes int `toml:"udp_read_buffer_bytes"`
	// SelfMetricsInterval is how often, in seconds, the input emits its own
	// counters (0: never).
	SelfMetricsInterval int `toml:"self_metrics_interval"`
	// SelfMetricsPrefix names them; {hostname} is the hostname ("" turns them off).
	SelfMetricsPrefix string `toml:"self_metrics"`
}

// Input is DreamcatcherCarbonInput.
type Input struct {
	conf          *InputConfig
	rcv           *receiver.Receiver
	injectErrors  atomic.Uint64
	messages      atomic.Uint64
	droppedInject atomic.Uint64
}

// ConfigStruct returns the defaults.
func (in *Input) ConfigStruct() interface{} {
	return &InputConfig{
		Address:             "127.0.0.1:2003",
		TCP:                 true,
		UDP:                 true,
		IdleTimeout:         120,
		MaxLineLength:       8192,
		MaxConnections:      1024,
		BatchDelayMs:        200,
		QueueBatches:        16,
		SelfMetricsInterval: 10,
		SelfMetricsPrefix:   "dreamcatcher.carbon_input.{hostname}",
	}
}

// Init checks the settings and binds the sockets, so that a busy port stops
// hekad at start with a clear message.
func (in *Input) Init(config interface{}) error {
	c := config.(*InputConfig)
	switch {
	case !c.TCP && !c.UDP:
		return fmt.Errorf("tcp and udp are both false: nothing to listen on")
	case c.IdleTimeout < 0:
		return fmt.Errorf("idle_timeout %d: must be 0 (never) or more seconds", c.IdleTimeout)
	case c.MaxLineLength < 64:
		return fmt.Errorf("max_line_length %d: must be at least 64", c.MaxLineLength)
	case c.MaxConnections < 1:
		return fmt.Errorf("max_connections %d: must be at least 1", c.MaxConnections)
	case c.BatchBytes < 0:
		return fmt.Errorf("batch_bytes %d: must be 0 (automatic) or more", c.BatchBytes)
	case c.BatchDelayMs < 1:
		return fmt.Errorf("batch_delay_ms %d: must be at least 1", c.BatchDelayMs)
	case c.QueueBatches < 1:
		return fmt.Errorf("queue_batches %d: must be at least 1", c.QueueBatches)
	case c.UDPReadBufferBytes < 0:
		return fmt.Errorf("udp_read_buffer_bytes %d: must be 0 (system default) or more", c.UDPReadBufferBytes)
	case c.SelfMetricsInterval < 0:
		return fmt.Errorf("self_metrics_interval %d: must be 0 (off) or more seconds", c.SelfMetricsInterval)
	}
	batch := c.BatchBytes
	if batch == 0 || batch > statmetric.MaxPayload() {
		batch = statmetric.MaxPayload()
	}
	rcv, err := receiver.Listen(receiver.Config{
		Address:        c.Address,
		TCP:            c.TCP,
		UDP:            c.UDP,
		IdleTimeout:    time.Duration(c.IdleTimeout) * time.Second,
		MaxLineLength:  c.MaxLineLength,
		MaxConnections: c.MaxConnections,
		BatchBytes:     batch,
		FlushInterval:  time.Duration(c.BatchDelayMs) * time.Millisecond,
		QueueBatches:   c.QueueBatches,
		UDPReadBuffer:  c.UDPReadBufferBytes,
	})
	if err != nil {
		return err
	}
	in.conf = c
	in.rcv = rcv
	return nil
}

// Run reads batches until Stop and injects them as heka.statmetric messages.
func (in *Input) Run(ir pipeline.InputRunner, h pipeline.PluginHelper) error {
	inj := statmetric.Injector{Runner: ir, Hostname: h.Hostname()}
	self := newSelfLines(expandPrefix(in.conf.SelfMetricsPrefix, h.Hostname()))
	in.rcv.Serve()
	ir.LogMessage(fmt.Sprintf("listening for carbon plaintext on %s", in.listening()))

	// Bad lines are logged at most once per interval, with one example.
	logEvery := 10 * time.Second
	logTick := time.NewTicker(logEvery)
	defer logTick.Stop()
	var statsTick <-chan time.Time
	if in.conf.SelfMetricsInterval > 0 && strings.Trim(in.conf.SelfMetricsPrefix, ".") != "" {
		t := time.NewTicker(time.Duration(in.conf.SelfMetricsInterval) * time.Second)
		defer t.Stop()
		statsTick = t.C
	}
	var lastBad uint64
	for {
		select {
		case b, ok := <-in.rcv.Batches():
			if !ok {
				statmetric.WaitRouter(h, 5*time.Second)
				ir.LogMessage(in.summary())
				return nil
			}
			in.inject(ir, inj, b)
			in.rcv.Recycle(b)
		case now := <-statsTick:
			in.inject(ir, inj, in.selfReport(self, now))
		case <-logTick.C:
			total := in.rcv.Stats().BadLines()
			if total > lastBad {
				msg := fmt.Sprintf("%d bad lines dropped in the last %s", total-lastBad, logEvery)
				if s := in.rcv.TakeBadLine(); s != nil {
					msg += fmt.Sprintf(", e.g. %q: %s", s.Line, s.Reason)
				}
				ir.LogError(fmt.Errorf("%s", msg))
			}
			lastBad = total
		}
	}
}

func (in *Input) listening() string {
	var s string
	if a := in.rcv.TCPAddr(); a != nil {
		s = "tcp " + a.String()
	}
	if a := in.rcv.UDPAddr(); a != nil {
		if s != "" {
			s += " and "
		}
		s += "udp " + a.String()
	}
	return s
}

func (in *Input) inject(ir pipeline.InputRunner, inj statmetric.Injector, payload []byte) {
	if len(payload) == 0 {
		return
	}
	n, dropped, err := inj.Inject(payload, time.Now())
	in.messages.Add(uint64(n))
	in.droppedInject.Add(uint64(dropped))
	if err != nil {
		in.injectErrors.Add(1)
		ir.LogError(err)
	}
}

func (in *Input) selfReport(s *selfLines, now time.Time) []byte {
	st := in.rcv.Stats()
	s.begin()
	s.counter("tcp.metricsReceived", st.TCPLines, now)
	s.counter("udp.metricsReceived", st.UDPLines, now)
	s.counter("tcp.connections", st.Connections, now)
	s.counter("tcp.refused", st.Refused, now)
	s.counter("tcp.idleClosed", st.IdleClosed, now)
	s.gauge("tcp.active", float64(st.Active), now)
	s.counter("badLines", st.BadLines(), now)
	s.counter("bad.fields", st.BadFields, now)
	s.counter("bad.value", st.BadValue, now)
	s.counter("bad.timestamp", st.BadTimestamp, now)
	s.counter("bad.path", st.BadPath, now)
	s.counter("bad.tag", st.BadTag, now)
	s.counter("bad.tooLong", st.TooLong, now)
	s.counter("bad.incomplete", st.Incomplete, now)
	s.counter("batches", st.Batches, now)
	s.counter("queueFull", st.QueueFull, now)
	s.gauge("queued", float64(st.Queued), now)
	s.counter("injectErrors", in.injectErrors.Load(), now)
	return s.buf
}

func (in *Input) summary() string {
	st := in.rcv.Stats()
	return fmt.Sprintf("stopped: %d tcp and %d udp lines accepted, %d bad lines dropped, %d connections",
		st.TCPLines, st.UDPLines, st.BadLines(), st.Connections)
}

// Stop closes the sockets; Run returns once every line read is injected.
func (in *Input) Stop() {
	if in.rcv != nil {
		in.rcv.Close()
	}
}

// ReportMsg adds the counters to Heka's plugin report.
func (in *Input) ReportMsg(msg *message.Message) error {
	if in.rcv == nil {
		return nil
	}
	st := in.rcv.Stats()
	message.NewInt64Field(msg, "TCPLines", int64(st.TCPLines), "count")
	message.NewInt64Field(msg, "UDPLines", int64(st.UDPLines), "count")
	message.NewInt64Field(msg, "BadLines", int64(st.BadLines()), "count")
	message.NewInt64Field(msg, "ActiveConnections", st.Active, "count")
	message.NewInt64Field(msg, "QueuedBatches", int64(st.Queued), "count")
	message.NewInt64Field(msg, "InjectedMessages", int64(in.messages.Load()), "count")
	return nil
}

// InputPluginName is the name the carbon input registers with Heka.
const InputPluginName = "DreamcatcherCarbonInput"

func init() {
	pipeline.RegisterPlugin(InputPluginName, func() interface{} { return new(Input) })
}
