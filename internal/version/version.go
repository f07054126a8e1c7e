// Package version holds the release identifiers printed by the binaries.
package version

// Version is Dreamcatcher's version; release builds may set it with
// -ldflags "-X github.com/dreamcatcher-monitoring/dreamcatcher/internal/version.Version=…".
var Version = "0.1.0-dev"

// Heka is the Heka release the pipeline is built from.
const Heka = "0.10.0"
