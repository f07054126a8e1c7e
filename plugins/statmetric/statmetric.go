// Package statmetric injects aggregated metrics into Heka's pipeline as
// heka.statmetric messages whose payload is carbon plaintext lines
// ("name value timestamp\n"), the format of Heka's StatAccumInput. Every
// project input that produces metrics (statsd, host, carbon) emits through it,
// and the whisper output consumes it. A payload larger than Heka's maximum
// message size is split at line boundaries into several messages.
package statmetric

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/mozilla-services/heka/message"
	"github.com/mozilla-services/heka/pipeline"
	"github.com/pborman/uuid"
)

// Type is the message type of aggregated metrics.
const Type = "heka.statmetric"

// headroom leaves room in a message for its header fields (uuid, type,
// logger, hostname, …) next to the payload.
const headroom = 1024

// MaxPayload is the largest payload that fits one message under Heka's
// current max_message_size.
func MaxPayload() int {
	return int(message.MAX_MESSAGE_SIZE) - headroom
}

// Chunks splits payload at line boundaries into pieces of at most max bytes.
// A single line longer than max is dropped and counted in dropped: no
// message could carry it.
func Chunks(payload []byte, max int) (chunks [][]byte, dropped int) {
	for len(payload) > 0 {
		if len(payload) <= max {
			chunks = append(chunks, payload)
			break
		}
		cut := bytes.LastIndexByte(payload[:max], '\n')
		if cut < 0 {
			next := bytes.IndexByte(payload, '\n')
			dropped++
			if next < 0 {
				break
			}
			payload = payload[next+1:]
			continue
		}
		chunks = append(chunks, payload[:cut+1])
		payload = payload[cut+1:]
	}
	return chunks, dropped
}

// Injector sends payloads from one input plugin into the router.
type Injector struct {
	Runner   pipeline.InputRunner
	Hostname string
	// Type overrides the message type (default heka.statmetric).
	Type string
}

// Inject sends payload as one or more messages. It blocks while Heka has no
// free pack, which is Heka's back-pressure. It returns how many messages were
// sent and how many over-long lines were dropped.
func (in Injector) Inject(payload []byte, ts time.Time) (messages, dropped int, err error) {
	typ := in.Type
	if typ == "" {
		typ = Type
	}
	chunks, dropped := Chunks(payload, MaxPayload())
	for _, c := range chunks {
		pack := <-in.Runner.InChan()
		pack.Message.SetUuid(uuid.NewRandom())
		pack.Message.SetType(typ)
		pack.Message.SetLogger(in.Runner.Name())
		pack.Message.SetTimestamp(ts.UnixNano())
		pack.Message.SetHostname(in.Hostname)
		pack.Message.SetPid(int32(os.Getpid()))
		pack.Message.SetPayload(string(c))
		if err := in.Runner.Inject(pack); err != nil {
			return messages, dropped, fmt.Errorf("injecting %s message: %w", typ, err)
		}
		messages++
	}
	return messages, dropped, nil
}

// WaitRouter waits, bounded, until Heka's router has taken every queued
// message. An input calls it before Run returns: stock Heka removes the
// outputs' matchers right after the inputs return, and a message still queued
// then is lost. (The project's hekad also patches Heka to wait; this keeps
// the plugins safe in any hekad build.)
func WaitRouter(h pipeline.PluginHelper, timeout time.Duration) {
	ch := h.PipelineConfig().Router().InChan()
	deadline := time.Now().Add(timeout)
	for len(ch) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// The router hands a message to the matchers right after taking it.
	time.Sleep(20 * time.Millisecond)
}
