package main

// The project's own plugins. Each registers itself with Heka in init().
import (
	_ "github.com/dreamcatcher-monitoring/dreamcatcher/plugins/carbon"
	_ "github.com/dreamcatcher-monitoring/dreamcatcher/plugins/host"
	_ "github.com/dreamcatcher-monitoring/dreamcatcher/plugins/statsd"
	_ "github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper"
)
