// Package aggregate accumulates parsed statsd samples and, on each flush,
// computes exactly the metrics, names and values of Etsy statsd 0.9.0
// (stats.js, lib/process_metrics.js, backends/graphite.js), as carbon
// plaintext lines. It imports nothing of Heka.
//
// Samples arrive in Shards, one per reader goroutine, each behind its own
// mutex, so readers never contend with each other; a flush merges the shards
// into the aggregator's state in shard order and then computes the output.
package aggregate

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Histogram gives the bins of the timers whose key contains Metric (the
// first matching entry wins, as in Etsy). Bins are upper bounds (exclusive);
// +Inf is Etsy's 'inf'.
type Histogram struct {
	Metric string
	Bins   []float64
}

// Config is the aggregation configuration; the zero value is not usable, use
// DefaultConfig and change fields.
type Config struct {
	FlushInterval int // seconds

	LegacyNamespace bool
	GlobalPrefix    string
	PrefixCounter   string
	PrefixTimer     string
	PrefixGauge     string
	PrefixSet       string
	GlobalSuffix    string // "" means none
	PrefixStats     string

	PercentThresholds      []float64
	Histograms             []Histogram
	CalculatedTimerMetrics []string // empty: all

	DeleteCounters bool
	DeleteTimers   bool
	DeleteGauges   bool
	DeleteSets     bool
	GaugesMaxTTL   int
	FlushCounts    bool
	KeepTags       bool
}

// DefaultConfig returns Etsy statsd 0.9.0's defaults.
func DefaultConfig() Config {
	return Config{
		FlushInterval:     10,
		LegacyNamespace:   true,
		GlobalPrefix:      "stats",
		PrefixCounter:     "counters",
		PrefixTimer:       "timers",
		PrefixGauge:       "gauges",
		PrefixSet:         "sets",
		PrefixStats:       "statsd",
		PercentThresholds: []float64{90},
		GaugesMaxTTL:      1,
		FlushCounts:       true,
		KeepTags:          true,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.FlushInterval < 1 {
		return fmt.Errorf("flush_interval must be at least 1 second, got %d", c.FlushInterval)
	}
	for _, p := range c.PercentThresholds {
		if p == 0 || p < -100 || p > 100 || math.IsNaN(p) {
			return fmt.Errorf("percent_thresholds: %v is not in [-100, 0) or (0, 100]", p)
		}
	}
	for _, h := range c.Histograms {
		if len(h.Bins) == 0 {
			return fmt.Errorf("histogram for %q has no bins", h.Metric)
		}
		for i, b := range h.Bins {
			if math.IsNaN(b) || i > 0 && b <= h.Bins[i-1] {
				return fmt.Errorf("histogram for %q: bins must be increasing numbers (or \"inf\" last)", h.Metric)
			}
		}
	}
	for _, m := range c.CalculatedTimerMetrics {
		if !validTimerMetric[m] {
			return fmt.Errorf("calculated_timer_metrics: unknown metric %q (known: %s)", m, strings.Join(timerMetricNames, ", "))
		}
	}
	if c.PrefixStats == "" {
		return errors.New("prefix_stats must not be empty")
	}
	if c.GaugesMaxTTL < 1 {
		c.GaugesMaxTTL = 1 // Etsy forces it to 1 when not an integer > 1
	}
	return nil
}

var timerMetricNames = []string{"count", "count_ps", "lower", "upper", "sum", "sum_squares", "mean", "median", "std",
	"histogram", "count_percent", "mean_percent", "upper_percent", "lower_percent", "sum_percent", "sum_squares_percent"}

var validTimerMetric = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range timerMetricNames {
		m[n] = true
	}
	return m
}()

// ParseBin converts one histogram bin from configuration: a number, or the
// string "inf".
func ParseBin(v interface{}) (float64, error) {
	switch b := v.(type) {
	case int64:
		return float64(b), nil
	case int:
		return float64(b), nil
	case float64:
		return b, nil
	case string:
		if b == "inf" {
			return math.Inf(1), nil
		}
		f, err := strconv.ParseFloat(b, 64)
		if err != nil || math.IsNaN(f) {
			return 0, fmt.Errorf("histogram bin %q is neither a number nor \"inf\"", b)
		}
		return f, nil
	}
	return 0, fmt.Errorf("histogram bin %v (%T) is neither a number nor \"inf\"", v, v)
}

// FormatNumber writes v as JavaScript's Number.prototype.toString does,
// which is how Etsy statsd writes values and names percentiles and bins.
func FormatNumber(dst []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(v, -1):
		return append(dst, "-Infinity"...)
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case v == 0:
		return append(dst, '0')
	}
	a := math.Abs(v)
	if a < 1e15 && v == math.Trunc(v) {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	if a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(dst, v, 'f', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, v, 'e', -1, 64)
	// Go writes e+07 / e-07, JavaScript e+7 / e-7.
	for i := start; i < len(dst); i++ {
		if dst[i] == 'e' && i+3 < len(dst) && dst[i+2] == '0' {
			dst = append(dst[:i+2], dst[i+3:]...)
			break
		}
	}
	return dst
}

// cleanNumber is Etsy's naming of a percentile or bin: the number as
// JavaScript prints it with its first '.' turned into '_' and its first
// '-' into "top".
func cleanNumber(v float64) string {
	s := string(FormatNumber(nil, v))
	s = strings.Replace(s, ".", "_", 1)
	return strings.Replace(s, "-", "top", 1)
}
