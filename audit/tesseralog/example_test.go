package tesseralog_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/tesseralog"
	"golang.org/x/mod/sumdb/note"
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

// A log whose checkpoints a witness cosigns: the auditor lists the
// witnesses it trusts and a quorum; a witness that never cosigned is named.
func ExampleVerifyTilesWith() {
	dir, _ := os.MkdirTemp("", "tesseralog-witness")
	defer os.RemoveAll(dir)
	_, key, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	vkey, _ := audit.VerifierKey("example.com/audit", key.Public().(ed25519.PublicKey))
	logKey, _ := note.NewVerifier(vkey)
	w := audittest.NewWitness("witness.example/1", logKey)
	absent := audittest.NewWitness("witness.example/2", logKey)

	l, err := tesseralog.OpenPOSIX(ctx, dir, tesseralog.Options{Signer: key, Origin: "example.com/audit", Witnesses: []audit.Witness{w}})
	if err != nil {
		fmt.Println(err)
		return
	}
	l.Append(ctx, audit.Event{Kind: audit.KindAccess, Actor: "agent-17", CallID: "call-1"})
	l.Close()

	tiles := os.DirFS(filepath.Join(dir, "tlog"))
	cp, err := tesseralog.VerifyTilesWith(ctx, tiles, tesseralog.VerifyOptions{Key: logKey, Witnesses: []note.Verifier{w.Verifier()}})
	fmt.Println("witnessed:", cp.Size, err)
	_, err = tesseralog.VerifyTilesWith(ctx, tiles, tesseralog.VerifyOptions{Key: logKey, Witnesses: []note.Verifier{w.Verifier(), absent.Verifier()}})
	fmt.Println(errors.Is(err, audit.ErrQuorum), strings.Contains(err.Error(), "missing: witness.example/2"))
	// Output:
	// witnessed: 1 <nil>
	// true true
}
