package server

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// EnvPrefix starts the name of every environment variable whisperserver reads.
const EnvPrefix = "WHISPERSERVER_"

// Invocation is what one command line asks for: the layered configuration
// and what to do with it.
type Invocation struct {
	Config      Config
	ConfigFile  string // "" when none
	Version     bool   // print the version and exit
	CheckConfig bool   // validate the configuration and exit
	PrintConfig bool   // print the effective configuration and exit
}

// setting is one field of Config as a flag, a file key and a variable.
type setting struct {
	key   string // file key: max_series
	flag  string // max-series
	env   string // WHISPERSERVER_MAX_SERIES
	help  string
	index int // field index in Config
}

// settings lists Config's fields that have a toml tag.
func settings() []setting {
	t := reflect.TypeOf(Config{})
	out := make([]setting, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if key == "" || key == "-" {
			continue
		}
		out = append(out, setting{key: key, flag: strings.ReplaceAll(key, "_", "-"),
			env: EnvPrefix + strings.ToUpper(key), help: f.Tag.Get("help"), index: i})
	}
	return out
}

// fieldValue is a flag.Value over one field of a Config.
type fieldValue struct {
	v reflect.Value
}

var durationType = reflect.TypeOf(time.Duration(0))

func (f fieldValue) String() string {
	if !f.v.IsValid() {
		return ""
	}
	if f.v.Type() == durationType {
		return time.Duration(f.v.Int()).String()
	}
	return fmt.Sprint(f.v.Interface())
}

func (f fieldValue) IsBoolFlag() bool { return f.v.IsValid() && f.v.Kind() == reflect.Bool }

// Set parses s into the field.
func (f fieldValue) Set(s string) error {
	switch {
	case f.v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		f.v.SetInt(int64(d))
	case f.v.Kind() == reflect.String:
		f.v.SetString(s)
	case f.v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not true or false: %q", s)
		}
		f.v.SetBool(b)
	case f.v.Kind() == reflect.Int || f.v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("not a non-negative integer: %q", s)
		}
		f.v.SetInt(n)
	case f.v.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", s)
		}
		f.v.SetFloat(x)
	default:
		return fmt.Errorf("settings of type %s are not supported", f.v.Type())
	}
	return nil
}

// Load layers the configuration: defaults, then the TOML file (-config, or
// the WHISPERSERVER_CONFIG variable), then WHISPERSERVER_* variables, then
// flags; later wins. The file is decoded once into Config by its toml tags;
// an unknown key is an error. lookupEnv is os.LookupEnv outside tests.
// Usage and flag errors go to output. It returns flag.ErrHelp for -h.
func Load(name string, args []string, lookupEnv func(string) (string, bool), output io.Writer) (Invocation, error) {
	inv := Invocation{Config: Defaults()}
	all := settings()

	// Flags parse into a scratch Config, so they can be applied last.
	flagged := Defaults()
	fv := reflect.ValueOf(&flagged).Elem()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	defaultFile, _ := lookupEnv(EnvPrefix + "CONFIG")
	fs.StringVar(&inv.ConfigFile, "config", defaultFile, "TOML config file (keys like whisper_dir, listen, max_series) (env "+EnvPrefix+"CONFIG)")
	fs.BoolVar(&inv.Version, "version", false, "print the version and exit")
	fs.BoolVar(&inv.CheckConfig, "check-config", false, "check the configuration and exit (status 0 when valid)")
	fs.BoolVar(&inv.PrintConfig, "print-config", false, "print the effective configuration as TOML and exit")
	for _, s := range all {
		fs.Var(fieldValue{fv.Field(s.index)}, s.flag, s.help+" (env "+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return inv, err
	}
	if fs.NArg() > 0 {
		return inv, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}

	cv := reflect.ValueOf(&inv.Config).Elem()
	if inv.ConfigFile != "" {
		if err := decodeFile(inv.ConfigFile, &inv.Config); err != nil {
			return inv, err
		}
	}
	for _, s := range all {
		if v, ok := lookupEnv(s.env); ok {
			if err := (fieldValue{cv.Field(s.index)}).Set(v); err != nil {
				return inv, fmt.Errorf("%s: %w", s.env, err)
			}
		}
	}
	byFlag := map[string]setting{}
	for _, s := range all {
		byFlag[s.flag] = s
	}
	fs.Visit(func(f *flag.Flag) {
		if s, ok := byFlag[f.Name]; ok {
			cv.Field(s.index).Set(fv.Field(s.index))
		}
	})
	return inv, nil
}

// decodeFile decodes a TOML file over cfg.
func decodeFile(path string, cfg *Config) error {
	md, err := toml.DecodeFile(path, cfg)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = fmt.Sprintf("%q", k.String())
		}
		return fmt.Errorf("config %s: unknown setting %s", path, strings.Join(names, ", "))
	}
	return nil
}

// TOML writes the configuration as a config file would hold it, with the
// basic-auth password replaced by "<redacted>" when one is set.
func (c Config) TOML() ([]byte, error) {
	if c.BasicAuthPassword != "" {
		c.BasicAuthPassword = "<redacted>"
	}
	var b bytes.Buffer
	cv := reflect.ValueOf(c)
	for _, s := range settings() {
		v := cv.Field(s.index)
		var err error
		if v.Type() == durationType {
			_, err = fmt.Fprintf(&b, "%s = %q\n", s.key, time.Duration(v.Int()).String())
		} else {
			err = toml.NewEncoder(&b).Encode(map[string]any{s.key: v.Interface()})
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s", s.key), err)
		}
	}
	return b.Bytes(), nil
}
