// Command hekad is Dreamcatcher's build of Heka's daemon: Heka v0.10.0's
// pipeline and the stock plugins that still build, plus the project's own
// plugins. It reads the same configuration as Heka's hekad.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/hekad"
	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/version"
	"github.com/dreamcatcher-monitoring/dreamcatcher/plugins/whisper/startcheck"

	// Heka's stock plugins that build on Go modules and are useful here.
	// plugins/graphite is left out on purpose: its WhisperOutput writes files
	// Graphite cannot read; the project's whisper output takes its name.
	_ "github.com/mozilla-services/heka/plugins"
	_ "github.com/mozilla-services/heka/plugins/file"
	_ "github.com/mozilla-services/heka/plugins/statsd"
	_ "github.com/mozilla-services/heka/plugins/tcp"
)

func main() {
	configPath := flag.String("config", "/etc/hekad.toml",
		"config file, or a folder whose *.toml files are all loaded")
	showVersion := flag.Bool("version", false, "print the version and exit")
	verbose := flag.Bool("verbose", false, "also log Heka's \"Pre-loading\" and \"Loading\" lines for every plugin section")
	checkConfig := flag.Bool("check-config", false,
		"load and validate the configuration, print warnings, and exit (status 0 when valid)")
	flag.Parse()

	if *showVersion {
		fmt.Printf("%s (Heka %s)\n", version.Version, version.Heka)
		return
	}
	if !*verbose {
		hekad.QuietLoading()
	}
	loaded, err := hekad.Load(*configPath)
	if err != nil {
		fatal(err)
	}
	if *checkConfig {
		if err := loaded.Validate(); err != nil {
			fatal(err)
		}
		for _, w := range startcheck.FlushIntervals(loaded) {
			fmt.Fprintln(os.Stderr, "hekad: warning:", w)
		}
		fmt.Printf("hekad: configuration OK (%d sections)\n", len(loaded.Sections))
		return
	}
	if err := hekad.Run(loaded, startcheck.FlushIntervals); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "hekad: error:", err)
	os.Exit(1)
}
