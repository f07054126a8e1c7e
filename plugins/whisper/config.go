package whisper

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/schema"
)

// DefaultMatcher picks the aggregated metrics of the project's inputs and
// of Heka's StatAccumInput.
const DefaultMatcher = "Type == 'heka.statmetric'"

// Config is the output's TOML section. Heka's stock WhisperOutput keys keep
// their meaning; the rest are new.
type Config struct {
	MessageMatcher string `toml:"message_matcher"`

	// Heka's stock keys.
	BasePath           string      `toml:"base_path"`
	DefaultArchiveInfo [][]int64   `toml:"default_archive_info"`
	DefaultAggMethod   interface{} `toml:"default_agg_method"`
	FolderPerm         string      `toml:"folder_perm"`

	// Storage rules.
	FilePerm               string            `toml:"file_perm"`
	DefaultRetentions      string            `toml:"default_retentions"`
	DefaultXFilesFactor    float64           `toml:"default_xfiles_factor"`
	Schemas                []SchemaRule      `toml:"schemas"`
	Aggregations           []AggregationRule `toml:"aggregations"`
	StorageSchemasFile     string            `toml:"storage_schemas_file"`
	StorageAggregationFile string            `toml:"storage_aggregation_file"`
	StatsdAggregation      bool              `toml:"statsd_aggregation"`

	// Cache and writers.
	MaxCachePoints      int64 `toml:"max_cache_points"`
	MaxCreatesPerSecond int   `toml:"max_creates_per_second"`
	Writers             int   `toml:"writers"`
	WriteIntervalMs     uint  `toml:"write_interval_ms"`
	OpenFiles           uint  `toml:"open_files"`
	FlushTimeout        uint  `toml:"flush_timeout"`
	MaxFuture           uint  `toml:"max_future"`
	SparseCreate        bool  `toml:"sparse_create"`
	LogInterval         uint  `toml:"log_interval"`

	// Self metrics.
	SelfMetrics         string `toml:"self_metrics"`
	SelfMetricsInterval uint   `toml:"self_metrics_interval"`
}

// SchemaRule is one inline storage schema ([[X.schemas]]).
type SchemaRule struct {
	Name       string `toml:"name"`
	Pattern    string `toml:"pattern"`
	Retentions string `toml:"retentions"`
}

// AggregationRule is one inline aggregation rule ([[X.aggregations]]).
type AggregationRule struct {
	Name              string   `toml:"name"`
	Pattern           string   `toml:"pattern"`
	XFilesFactor      *float64 `toml:"xfiles_factor"`
	AggregationMethod string   `toml:"aggregation_method"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{
		MessageMatcher:      DefaultMatcher,
		BasePath:            "whisper",
		FolderPerm:          "755",
		FilePerm:            "644",
		DefaultXFilesFactor: 0.5,
		StatsdAggregation:   true,
		MaxCachePoints:      10_000_000,
		MaxCreatesPerSecond: 1000,
		Writers:             4,
		WriteIntervalMs:     2000,
		OpenFiles:           65536,
		FlushTimeout:        60,
		MaxFuture:           600,
		LogInterval:         10,
		SelfMetrics:         "dreamcatcher.whisper.{hostname}",
		SelfMetricsInterval: 10,
	}
}

// Rules builds the storage rules: inline rules first, then those of the
// conf files, then (aggregation) the statsd defaults, then the defaults.
func (c *Config) Rules() (*schema.Rules, error) {
	r := &schema.Rules{DefaultXFF: c.DefaultXFilesFactor}
	if !(c.DefaultXFilesFactor >= 0 && c.DefaultXFilesFactor <= 1) {
		return nil, fmt.Errorf("default_xfiles_factor %v must be from 0 to 1", c.DefaultXFilesFactor)
	}
	var err error
	switch {
	case c.DefaultRetentions != "" && c.DefaultArchiveInfo != nil:
		return nil, fmt.Errorf("set default_retentions or default_archive_info, not both")
	case c.DefaultRetentions != "":
		if r.DefaultArchives, err = schema.ParseRetentions(c.DefaultRetentions); err != nil {
			return nil, fmt.Errorf("default_retentions: %w", err)
		}
	case c.DefaultArchiveInfo != nil:
		if r.DefaultArchives, err = schema.FromHekaArchiveInfo(c.DefaultArchiveInfo); err != nil {
			return nil, fmt.Errorf("default_archive_info: %w", err)
		}
	default:
		r.DefaultArchives, _ = schema.ParseRetentions(schema.DefaultRetentions)
	}
	if r.DefaultMethod, err = parseAggMethod(c.DefaultAggMethod); err != nil {
		return nil, err
	}
	for i, s := range c.Schemas {
		name := s.Name
		if name == "" {
			name = "schemas[" + strconv.Itoa(i) + "]"
		}
		rule, err := schema.NewSchema(name, s.Pattern, s.Retentions)
		if err != nil {
			return nil, err
		}
		r.Schemas = append(r.Schemas, rule)
	}
	if c.StorageSchemasFile != "" {
		more, err := schema.LoadSchemasFile(c.StorageSchemasFile)
		if err != nil {
			return nil, fmt.Errorf("storage_schemas_file: %w", err)
		}
		r.Schemas = append(r.Schemas, more...)
	}
	for i, a := range c.Aggregations {
		name := a.Name
		if name == "" {
			name = "aggregations[" + strconv.Itoa(i) + "]"
		}
		xff := ""
		if a.XFilesFactor != nil {
			xff = strconv.FormatFloat(*a.XFilesFactor, 'g', -1, 64)
		}
		rule, err := schema.NewAggregation(name, a.Pattern, xff, a.AggregationMethod)
		if err != nil {
			return nil, err
		}
		r.Aggregations = append(r.Aggregations, rule)
	}
	if c.StorageAggregationFile != "" {
		more, err := schema.LoadAggregationFile(c.StorageAggregationFile)
		if err != nil {
			return nil, fmt.Errorf("storage_aggregation_file: %w", err)
		}
		r.Aggregations = append(r.Aggregations, more...)
	}
	if c.StatsdAggregation {
		r.Aggregations = append(r.Aggregations, schema.StatsdAggregations()...)
	}
	return r, nil
}

// parseAggMethod accepts a name ("average", "sum", …) or, as Heka's stock
// WhisperOutput did, the whisper method number (1 to 5 there; 1 to 8,
// all of whisper.py 1.1, here).
func parseAggMethod(v interface{}) (schema.Method, error) {
	switch m := v.(type) {
	case nil:
		return schema.Average, nil
	case string:
		meth, err := schema.ParseMethod(m)
		if err != nil {
			return 0, fmt.Errorf("default_agg_method: %w", err)
		}
		return meth, nil
	case int64:
		if schema.Method(m).Valid() {
			return schema.Method(m), nil
		}
	}
	return 0, fmt.Errorf("default_agg_method %v: want a name (average, sum, last, max, min, avg_zero, absmax, absmin) or its number 1-8", v)
}

// Perm parses an octal permission string such as "755".
func Perm(key, s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("%s %q is not an octal permission such as \"755\"", key, s)
	}
	return os.FileMode(n), nil
}
