// Package startcheck warns, at hekad start, when a whisper storage rule
// that statsd metrics fall under keeps points more often than the statsd
// input flushes: that archive would be mostly gaps, and roll-ups governed by
// xFilesFactor would drop data. Wire it with
// hekad.Run(loaded, startcheck.FlushIntervals).
package startcheck

import (
	"fmt"
	"sort"

	"github.com/bbangert/toml"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/hekad"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper"
)

type flusher struct {
	section  string
	interval int64
	names    []string // sample metric names it emits
}

// FlushIntervals has the signature of hekad.Check.
func FlushIntervals(l *hekad.Loaded) []string {
	var flushers []flusher
	type out struct {
		section string
		conf    *whisper.Config
	}
	var outputs []out
	for _, s := range l.Sections {
		body, _ := s.Body.(map[string]interface{})
		switch s.Type() {
		case statsd.PluginName:
			conf := statsd.DefaultConfig()
			if err := toml.PrimitiveDecode(s.Body, conf); err != nil {
				continue // hekad's validation reports it
			}
			flushers = append(flushers, flusher{s.Name, int64(conf.FlushInterval), etsyNames(conf)})
		case "StatAccumInput":
			flushers = append(flushers, flusher{s.Name, intKey(body, "ticker_interval", 10), statsdNames(body, "global_prefix")})
		case whisper.PluginName, whisper.StockPluginName:
			conf := whisper.DefaultConfig()
			if err := toml.PrimitiveDecode(s.Body, conf); err != nil {
				continue // hekad's validation reports it
			}
			outputs = append(outputs, out{s.Name, conf})
		}
	}
	var warnings []string
	for _, o := range outputs {
		rules, err := o.conf.Rules()
		if err != nil {
			continue
		}
		for _, f := range flushers {
			seen := map[string]bool{}
			for _, name := range f.names {
				m := rules.Match(name)
				step := int64(m.Archives[0].SecondsPerPoint)
				if step >= f.interval || seen[m.Schema] {
					continue
				}
				seen[m.Schema] = true
				warnings = append(warnings, fmt.Sprintf(
					"[%s]: storage rule [%s] (%s) keeps a point every %ds, but [%s] flushes every %ds (e.g. %s): "+
						"that archive would be mostly gaps and roll-ups governed by xFilesFactor would drop data; "+
						"make the finest step %ds or a multiple of it",
					o.section, m.Schema, m.Archives, step, f.section, f.interval, name, f.interval))
			}
		}
	}
	sort.Strings(warnings)
	return warnings
}

func intKey(body map[string]interface{}, key string, def int64) int64 {
	switch v := body[key].(type) {
	case int64:
		if v > 0 {
			return v
		}
	case float64:
		if v > 0 {
			return int64(v)
		}
	}
	return def
}

// etsyNames are sample metric names the statsd input emits under its
// configured prefixes.
func etsyNames(c *statsd.Config) []string {
	p := c.GlobalPrefix
	names := []string{
		p + "." + c.PrefixCounter + ".x.count", p + "." + c.PrefixCounter + ".x.rate",
		p + "." + c.PrefixTimer + ".x.mean", p + "." + c.PrefixTimer + ".x.upper_90",
		p + "." + c.PrefixGauge + ".x", p + "." + c.PrefixSet + ".x.count",
	}
	if c.LegacyNamespace {
		names = append(names, "stats_counts.x", p+".x")
	}
	return names
}

// statsdNames are metric names a statsd aggregator emits, under the global
// prefix the section sets (default "stats").
func statsdNames(body map[string]interface{}, prefixKey string) []string {
	prefix := "stats"
	if p, ok := body[prefixKey].(string); ok && p != "" {
		prefix = p
	}
	return []string{
		prefix + ".counters.x.count", prefix + ".counters.x.rate", prefix + ".timers.x.mean",
		prefix + ".timers.x.upper_90", prefix + ".gauges.x", prefix + ".sets.x.count", "stats_counts.x",
		prefix + ".x", // legacy namespace counters
	}
}
