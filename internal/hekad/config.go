// Package hekad is the daemon side of the project's hekad: it reads the
// configuration (a file, or every *.toml in a folder), applies the [hekad]
// section to Heka's globals, checks every plugin section before anything
// starts, and runs Heka's pipeline. It mirrors what Heka's own cmd/hekad does,
// with errors that name the file, section and key.
package hekad

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bbangert/toml"
	"github.com/mozilla-services/heka/pipeline"
)

// Config is the [hekad] section, with Heka's keys and defaults.
type Config struct {
	// Maxprocs is GOMAXPROCS; 0 (the default) means every CPU.
	Maxprocs              int    `toml:"maxprocs"`
	PoolSize              int    `toml:"poolsize"`
	ChanSize              int    `toml:"plugin_chansize"`
	CPUProfName           string `toml:"cpuprof"`
	MemProfName           string `toml:"memprof"`
	MaxMsgLoops           uint   `toml:"max_message_loops"`
	MaxMsgProcessInject   uint   `toml:"max_process_inject"`
	MaxMsgProcessDuration uint64 `toml:"max_process_duration"`
	MaxMsgTimerInject     uint   `toml:"max_timer_inject"`
	MaxPackIdle           string `toml:"max_pack_idle"`
	BaseDir               string `toml:"base_dir"`
	ShareDir              string `toml:"share_dir"`
	SampleDenominator     int    `toml:"sample_denominator"`
	PidFile               string `toml:"pid_file"`
	Hostname              string `toml:"hostname"`
	MaxMessageSize        uint32 `toml:"max_message_size"`
	LogFlags              int    `toml:"log_flags"`
	FullBufferMaxRetries  uint32 `toml:"full_buffer_max_retries"`
}

// DefaultConfig returns Heka's defaults for the [hekad] section.
func DefaultConfig() Config {
	hostname, _ := os.Hostname()
	return Config{
		Maxprocs:              0, // all CPUs; Heka's own default was 1
		PoolSize:              100,
		ChanSize:              30,
		MaxMsgLoops:           4,
		MaxMsgProcessInject:   1,
		MaxMsgProcessDuration: 100000,
		MaxMsgTimerInject:     10,
		MaxPackIdle:           "2m",
		BaseDir:               filepath.FromSlash("/var/cache/hekad"),
		ShareDir:              filepath.FromSlash("/usr/share/heka"),
		SampleDenominator:     1000,
		Hostname:              hostname,
		LogFlags:              log.LstdFlags,
		FullBufferMaxRetries:  10,
	}
}

// Section is one plugin section of the configuration and the file it is in.
type Section struct {
	Name string
	File string
	Body toml.Primitive
}

// Type is the plugin type of the section: its `type` key, or its name.
func (s Section) Type() string {
	if m, ok := s.Body.(map[string]interface{}); ok {
		if t, ok := m["type"].(string); ok && t != "" {
			return t
		}
	}
	return s.Name
}

// Loaded is a parsed configuration: the [hekad] settings, the files read (in
// load order) and every plugin section.
type Loaded struct {
	Config   Config
	Files    []string
	Sections []Section
}

// ConfigFiles returns the files that make up the configuration at path: the
// file itself, or the *.toml files of a folder in name order.
func ConfigFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config path %s does not exist", path)
		}
		return nil, fmt.Errorf("config path %s: %w", path, err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("reading config folder %s: %w", path, err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".toml") {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("config folder %s holds no *.toml file", path)
	}
	return files, nil
}

// Load reads the configuration at path. Environment references (%ENV[NAME])
// are substituted as Heka does. Errors name the file and, where it applies,
// the section and key.
func Load(path string) (*Loaded, error) {
	files, err := ConfigFiles(path)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Config: DefaultConfig(), Files: files}
	seen := map[string]string{}
	for _, file := range files {
		contents, err := pipeline.ReplaceEnvsFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		var doc map[string]toml.Primitive
		if _, err := toml.Decode(contents, &doc); err != nil {
			return nil, fmt.Errorf("%s: invalid TOML: %w", file, err)
		}
		names := make([]string, 0, len(doc))
		for name := range doc {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			body := doc[name]
			if _, ok := body.(map[string]interface{}); !ok {
				return nil, fmt.Errorf("%s: top-level key %q is not a [section]", file, name)
			}
			if name == pipeline.HEKA_DAEMON {
				if err := toml.PrimitiveDecodeStrict(body, &l.Config, nil); err != nil {
					return nil, fmt.Errorf("%s: [%s]: %s", file, name, unknownKeyMessage(err))
				}
				continue
			}
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("%s: [%s] is already defined in %s", file, name, prev)
			}
			seen[name] = file
			l.Sections = append(l.Sections, Section{Name: name, File: file, Body: body})
		}
	}
	if len(l.Sections) == 0 {
		return nil, fmt.Errorf("%s: no plugin sections configured", path)
	}
	return l, l.Config.check()
}

// unknownKeyMessage rewrites the toml module's strict-decoding error the way
// Heka does for plugin sections.
func unknownKeyMessage(err error) string {
	const prefix = "Configuration contains key ["
	msg := err.Error()
	if strings.HasPrefix(msg, prefix) {
		if end := strings.Index(msg, "]"); end > len(prefix) {
			return "unknown setting " + msg[len(prefix):end]
		}
	}
	return msg
}

func (c Config) check() error {
	if c.SampleDenominator <= 0 {
		return fmt.Errorf("[hekad]: sample_denominator must be greater than 0")
	}
	if _, err := time.ParseDuration(c.MaxPackIdle); err != nil {
		return fmt.Errorf("[hekad]: max_pack_idle %q is not a duration (e.g. \"2m\")", c.MaxPackIdle)
	}
	if c.MaxMessageSize > 0 && c.MaxMessageSize <= 1024 {
		return fmt.Errorf("[hekad]: max_message_size must be greater than 1024")
	}
	if c.Maxprocs < 0 {
		return fmt.Errorf("[hekad]: maxprocs must not be negative")
	}
	return nil
}
