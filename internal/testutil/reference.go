package testutil

import (
	"fmt"
	"os"
	"testing"
)

// UnderCI reports whether CI=true, where a test that needs a missing
// reference program or tool fails instead of skipping.
func UnderCI() bool { return os.Getenv("CI") == "true" }

// RequireReference skips the test when a reference program is missing,
// unless CI=true, where a missing reference fails the test instead.
func RequireReference(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	Unavailable(t, "%s not available (%v); install it (see .ci/run) to run this test", what, err)
}

// Unavailable ends the test for want of something it needs: it fails under
// CI=true and skips otherwise. It does not return.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if UnderCI() {
		t.Fatalf("required under CI=true: %s", msg)
	}
	t.Skipf("skipping (CI is not true): %s", msg)
}
