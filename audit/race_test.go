//go:build race

package audit_test

// The race detector slows the exhaustive tamper loops about tenfold: under
// it they check every raceStride-th byte (CI also runs them without it).
const raceStride = 5
