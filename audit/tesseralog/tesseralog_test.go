package tesseralog_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
)

func testOptions(t testing.TB) tesseralog.Options {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return tesseralog.Options{Signer: priv, Origin: "example.com/audit/test"}
}

func openPOSIX(t testing.TB, dir string, opts tesseralog.Options) *tesseralog.Log {
	t.Helper()
	l, err := tesseralog.OpenPOSIX(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestPOSIXConformance(t *testing.T) {
	audittest.TestLog(t, func(t *testing.T) audit.Log {
		return openPOSIX(t, t.TempDir(), testOptions(t))
	})
}

// TestPOSIXConformanceV1: a log of chained v1 leaves (Options.LeafVersion)
// passes the suite too, chain check included.
func TestPOSIXConformanceV1(t *testing.T) {
	audittest.TestLog(t, func(t *testing.T) audit.Log {
		o := testOptions(t)
		o.LeafVersion = audit.LeafV1
		return openPOSIX(t, t.TempDir(), o)
	})
}
