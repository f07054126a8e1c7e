// The browser tests' policy for missing programs (as for the Go tests, see
// the README): a test that cannot run here is skipped and says why, except
// under CI=true, where it fails.

// skipReason returns false when nothing is missing, else the reason to pass
// as node:test's skip option; under CI=true it throws instead, so the test
// file fails.
export function skipReason(missing) {
  const why = missing.filter(Boolean).join('; ');
  if (!why) return false;
  if (process.env.CI === 'true') throw new Error(`required under CI=true: ${why}`);
  return `skipping (CI is not true): ${why}`;
}
