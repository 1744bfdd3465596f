package audit_test

import (
	"context"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
)

func TestFileLogConformance(t *testing.T) {
	audittest.TestLog(t, func(t *testing.T) audit.Log {
		l, err := audit.Open(context.Background(), audit.DirFS(t.TempDir()),
			audit.Options{Signer: testKey(t), Origin: "test.example/conformance"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}
