//go:build !race

package audit_test

const raceStride = 1
