package alerting

import (
	"os"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/internal/testutil"
)

// TestMain removes the binaries the tests built when they are done.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
