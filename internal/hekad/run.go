package hekad

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mozilla-services/heka/message"
	"github.com/mozilla-services/heka/pipeline"
)

// Check hooks let the project add start-up checks across plugin sections
// (for example: a whisper retention finer than the statsd flush interval).
// A check returns warnings to log; it does not stop the start.
type Check func(l *Loaded) []string

// Globals turns the [hekad] section into Heka's global settings.
func (c Config) Globals() *pipeline.GlobalConfigStruct {
	g := pipeline.DefaultGlobals()
	g.PoolSize = c.PoolSize
	g.PluginChanSize = c.ChanSize
	g.MaxMsgLoops = c.MaxMsgLoops
	if g.MaxMsgLoops == 0 {
		g.MaxMsgLoops = 1
	}
	g.MaxMsgProcessInject = c.MaxMsgProcessInject
	g.MaxMsgProcessDuration = c.MaxMsgProcessDuration
	g.MaxMsgTimerInject = c.MaxMsgTimerInject
	g.MaxPackIdle, _ = time.ParseDuration(c.MaxPackIdle) // checked in Load
	g.BaseDir = c.BaseDir
	g.ShareDir = c.ShareDir
	g.SampleDenominator = c.SampleDenominator
	g.Hostname = c.Hostname
	g.FullBufferMaxRetries = uint(c.FullBufferMaxRetries)
	return g
}

// Validate builds a throw-away pipeline configuration and checks every
// section: that its plugin type is registered and that its settings decode
// into the plugin's config struct with no unknown key. Nothing is started.
func (l *Loaded) Validate() error {
	pc := pipeline.NewPipelineConfig(l.Config.Globals())
	var problems []string
	for _, s := range l.Sections {
		if _, ok := pipeline.AvailablePlugins[s.Type()]; !ok {
			problems = append(problems, fmt.Sprintf("%s: [%s]: unknown plugin type %q%s",
				s.File, s.Name, s.Type(), suggestType(s.Type())))
			continue
		}
		maker, err := pipeline.NewPluginMaker(s.Name, pc, s.Body)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: [%s]: %s", s.File, s.Name, err))
			continue
		}
		if _, err := maker.PrepConfig(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: [%s]: %s", s.File, s.Name, err))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func suggestType(typ string) string {
	lower := strings.ToLower(typ)
	for name := range pipeline.AvailablePlugins {
		if strings.ToLower(name) == lower {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return ""
}

// prepareBaseDir makes sure base_dir exists and is writable.
func prepareBaseDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("[hekad]: base_dir %s cannot be created: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".hekad-write-check-*")
	if err != nil {
		return fmt.Errorf("[hekad]: base_dir %s is not writable: %w", dir, err)
	}
	name := probe.Name()
	probe.Close()
	return os.Remove(name)
}

// writePidFile writes the pid file, refusing to start when it names a live process.
func writePidFile(path string) error {
	if contents, err := os.ReadFile(path); err == nil {
		pid, err := strconv.Atoi(strings.TrimSpace(string(contents)))
		if err != nil {
			return fmt.Errorf("[hekad]: pid_file %s holds %q, not a process id", path, strings.TrimSpace(string(contents)))
		}
		if pid != os.Getpid() {
			if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
				return fmt.Errorf("[hekad]: pid_file %s: process %d is already running", path, pid)
			}
		}
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("[hekad]: pid_file %s cannot be written: %w", path, err)
	}
	return nil
}

// Run applies the configuration and runs Heka's pipeline until SIGINT or
// SIGTERM. Heka's pipeline.Run ends the process itself, so Run returns only
// an error found before the pipeline starts.
func Run(l *Loaded, checks ...Check) error {
	c := l.Config
	// A closed log pipe (a supervisor or `| tee` gone) must not kill the
	// process before its final flush: with SIGPIPE ignored, writes to it
	// fail with EPIPE instead, and the stop goes on.
	signal.Ignore(syscall.SIGPIPE)
	pipeline.LogInfo.SetFlags(c.LogFlags)
	pipeline.LogError.SetFlags(c.LogFlags)
	if c.Maxprocs > 0 {
		runtime.GOMAXPROCS(c.Maxprocs)
	}
	if c.MaxMessageSize > 0 {
		message.SetMaxMessageSize(c.MaxMessageSize)
	}
	if err := l.Validate(); err != nil {
		return err
	}
	if err := prepareBaseDir(c.BaseDir); err != nil {
		return err
	}
	for _, check := range checks {
		for _, w := range check(l) {
			pipeline.LogError.Println("warning:", w)
		}
	}
	if c.PidFile != "" {
		if err := writePidFile(c.PidFile); err != nil {
			return err
		}
		// pipeline.Run exits the process without running deferred calls; a
		// stale pid file is recognised (no live process) on the next start.
	}
	writeProfiles, err := startProfiles(c.CPUProfName, c.MemProfName)
	if err != nil {
		return err
	}

	pc := pipeline.NewPipelineConfig(c.Globals())
	// pipeline.Run ends the process with os.Exit, so deferred calls would
	// never run; the patched Heka calls BeforeExit once the shutdown is done.
	pc.Globals.BeforeExit = writeProfiles
	for _, file := range l.Files {
		if err := pc.PreloadFromConfigFile(file); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	if err := pc.LoadConfig(); err != nil {
		return l.loadError(err, pc.LogMsgs)
	}
	catchStopSignals(pc.Globals)
	pipeline.LogInfo.Printf("hekad starting with %s", describeFiles(l.Files))
	pipeline.Run(pc)
	return nil
}

// loadError turns Heka's plugin-loading messages (such as "Initialization
// failed for 'NAME': …") into one error whose lines name the file and section.
func (l *Loaded) loadError(err error, msgs []string) error {
	if len(msgs) == 0 {
		return fmt.Errorf("%s: %w", strings.Join(l.Files, ", "), err)
	}
	lines := make([]string, 0, len(msgs))
	for _, m := range msgs {
		lines = append(lines, l.locate(m))
	}
	return errors.New(strings.Join(lines, "\n"))
}

// locate prefixes a message that names a section ('NAME') with its file.
func (l *Loaded) locate(msg string) string {
	for _, s := range l.Sections {
		if strings.Contains(msg, "'"+s.Name+"'") || strings.Contains(msg, "for "+s.Name+":") {
			return fmt.Sprintf("%s: [%s]: %s", s.File, s.Name, msg)
		}
	}
	return msg
}

// QuietLoading drops Heka's "Pre-loading: [NAME]" and "Loading: [NAME]"
// lines (one each per plugin section)
// from the info log; the start-up summary and every error stay.
func QuietLoading() {
	pipeline.LogInfo.SetOutput(dropLines{w: pipeline.LogInfo.Writer(), marker: []byte("oading: [")})
}

// dropLines writes through every log line that does not contain marker.
type dropLines struct {
	w      io.Writer
	marker []byte
}

func (d dropLines) Write(b []byte) (int, error) {
	if bytes.Contains(b, d.marker) {
		return len(b), nil
	}
	return d.w.Write(b)
}

// catchStopSignals closes two windows in Heka's start-up. Heka subscribes
// to signals only after every plugin has started, so a SIGTERM arriving
// before that would kill the process with nothing flushed. And a stop that
// begins before an input's runner goroutine has entered its loop makes that
// runner call ShutDown(1), so hekad would exit with status 1 after a clean
// stop. Catching SIGINT/SIGTERM from now on and answering with ShutDown(0)
// fixes both: Heka's ShutDown takes effect once, so the first (clean) exit
// status wins, and it hands Heka's loop a SIGINT that starts the usual
// orderly shutdown (inputs first, then outputs).
func catchStopSignals(g *pipeline.GlobalConfigStruct) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		g.ShutDown(0)
	}()
}

// startProfiles starts the CPU profile (when cpuName is set) and returns
// what ends it and writes the heap profile (when memName is set); nil when
// neither is asked for.
func startProfiles(cpuName, memName string) (func(), error) {
	if cpuName == "" && memName == "" {
		return nil, nil
	}
	var cpuFile *os.File
	if cpuName != "" {
		f, err := os.Create(cpuName)
		if err != nil {
			return nil, fmt.Errorf("[hekad]: cpuprof: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("[hekad]: cpuprof: %w", err)
		}
		cpuFile = f
	}
	return func() { stopProfiles(cpuFile, memName) }, nil
}

// stopProfiles ends the CPU profile written to cpuFile (when not nil) and
// writes the heap profile to memName (when not "").
func stopProfiles(cpuFile *os.File, memName string) {
	if cpuFile != nil {
		pprof.StopCPUProfile()
		if err := cpuFile.Close(); err != nil {
			pipeline.LogError.Println("cpuprof:", err)
		}
	}
	if memName != "" {
		if err := writeHeapProfile(memName); err != nil {
			pipeline.LogError.Println("memprof:", err)
		}
	}
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func describeFiles(files []string) string {
	if len(files) == 1 {
		return files[0]
	}
	return fmt.Sprintf("%d files in %s", len(files), filepath.Dir(files[0]))
}
