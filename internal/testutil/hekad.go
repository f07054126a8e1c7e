package testutil

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// HekadReadyTimeout bounds how long Hekad.Start waits for hekad's ready
// line: hekad starts in well under a second, but the test machine may be
// heavily loaded.
const HekadReadyTimeout = 20 * time.Second

// Hekad is one test's setting for the real hekad: the binary, a temp folder
// for its config and data, and a free loopback port for its input.
type Hekad struct {
	t testing.TB
	// Bin is the hekad binary (built once per test process).
	Bin string
	// Dir is the test's temp folder; it holds the config, base_dir is
	// Dir/heka and Whisper is Dir/whisper.
	Dir string
	// Whisper is the folder meant as the whisper output's base_path.
	Whisper string
	// Port is a free port on 127.0.0.1 (TCP and UDP) for the config's input.
	Port int
}

// NewHekad builds hekad (once per test process) and gives the test a temp
// folder and a free port for it.
func NewHekad(t testing.TB) *Hekad {
	t.Helper()
	dir := t.TempDir()
	return &Hekad{t: t, Bin: Binary(t, "hekad"), Dir: dir,
		Whisper: filepath.Join(dir, "whisper"), Port: FreePort(t)}
}

// Addr is 127.0.0.1:Port.
func (h *Hekad) Addr() string { return fmt.Sprintf("127.0.0.1:%d", h.Port) }

// BaseDir is the base_dir WriteConfig gives hekad (Heka's own files, such
// as the statsd input's state dump, go there).
func (h *Hekad) BaseDir() string { return filepath.Join(h.Dir, "heka") }

// StockStatsd is the TOML of Heka's stock statsd input on Port and
// StatAccumInput flushing every second.
func (h *Hekad) StockStatsd() string {
	return fmt.Sprintf("[StatsdInput]\naddress = %q\n[StatAccumInput]\nticker_interval = 1\n", h.Addr())
}

// WriteConfig writes Dir/hekad.toml: a [hekad] section with base_dir =
// BaseDir(), then sections (TOML, written as given). It returns the path.
func (h *Hekad) WriteConfig(sections string) string {
	h.t.Helper()
	return WriteFile(h.t, h.Dir, "hekad.toml", fmt.Sprintf("[hekad]\nbase_dir = %q\n%s", h.BaseDir(), sections))
}

// Start runs hekad on config and waits until its log holds ready; the
// process is killed at the test's end if it still runs.
func (h *Hekad) Start(config, ready string) *Proc {
	h.t.Helper()
	p := Start(h.t, h.Bin, "-config", config)
	p.WaitOutput(ready, HekadReadyTimeout)
	return p
}

// StopClean sends sig and fails the test unless the process exits with
// status 0 within timeout.
func (p *Proc) StopClean(sig syscall.Signal, timeout time.Duration) {
	p.t.Helper()
	if code := p.Stop(sig, timeout); code != 0 {
		p.t.Fatalf("exit code %d after %s, want 0:\n%s", code, sig, p.Output())
	}
}

// Run runs hekad on config to completion (bounded by timeout) and returns
// its exit code and output.
func (h *Hekad) Run(config string, timeout time.Duration) (int, string) {
	h.t.Helper()
	return Run(h.t, timeout, h.Bin, "-config", config)
}

// PayloadFileOutput is the TOML of Heka's FileOutput writing the payloads of
// the messages matcher selects to path as they are (PayloadEncoder, no
// newlines added), flushed every 100 ms.
func PayloadFileOutput(matcher, path string) string {
	return fmt.Sprintf(`[PayloadEncoder]
append_newlines = false
[FileOutput]
message_matcher = %q
path = %q
encoder = "PayloadEncoder"
flush_interval = 100
`, matcher, path)
}
