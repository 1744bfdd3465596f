package tesseralog_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/tesseralog"
)

// A log on Tessera's POSIX driver: append, take a receipt, and verify the
// tiles as an auditor would, from the directory alone.
func Example() {
	dir, _ := os.MkdirTemp("", "tesseralog-example")
	defer os.RemoveAll(dir)
	_, key, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()

	l, err := tesseralog.OpenPOSIX(ctx, dir, tesseralog.Options{Signer: key, Origin: "example.com/audit"})
	if err != nil {
		fmt.Println(err)
		return
	}
	i, _ := l.Append(ctx, audit.Event{Kind: audit.KindAccess, Actor: "agent-17", CallID: "call-1", Reason: "quality review"})
	r, _ := l.Receipt(ctx, i)
	txt, _ := r.MarshalText()
	en, _, err := audit.CheckReceipt(txt, l.VerifierKey())
	fmt.Println("receipt:", en.Index, en.Event.Actor, err)

	verifier := l.VerifierKey()
	l.Close()
	cp, err := tesseralog.VerifyTiles(ctx, os.DirFS(filepath.Join(dir, "tlog")), verifier)
	fmt.Println("tiles:", cp.Size, err)
	// Output:
	// receipt: 0 agent-17 <nil>
	// tiles: 1 <nil>
}
