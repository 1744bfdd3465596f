package agestore_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/recorder/agestore/agestoretest"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

func Example() {
	ctx := context.Background()
	// The operator's key pair: in production, `age-keygen -o operator.key`
	// offline; the recording service gets the public key ("age1...") only.
	operator, _ := age.GenerateX25519Identity()
	files := &recordertest.MemStore{}   // in production: recorder.NewFileStore(dataDir.Recordings())
	keys := &agestoretest.MemKeyStore{} // in production: agestore.NewDirKeyStore(...), apart from the files

	// The recording process: public key only.
	rec, _ := agestore.New(files, agestore.Config{Recipients: []age.Recipient{operator.Recipient()}, Keys: keys})
	w, _ := rec.Create(ctx, recorder.Meta{ID: "call-1", CallID: "c1", Purpose: policy.Quality,
		Layout: recorder.LayoutMono, Channels: []recorder.Role{recorder.Customer}})
	w.Write([]byte("OggS... the recording"))
	w.Finalize(ctx, recorder.Final{})
	_, err := rec.Open(ctx, "call-1")
	fmt.Println("recorder can read:", !errors.Is(err, agestore.ErrNoIdentity))

	// Playback: the operator's identity.
	player, _ := agestore.New(files, agestore.Config{Recipients: []age.Recipient{operator.Recipient()},
		Identities: []age.Identity{operator}, Keys: keys})
	rc, _ := player.Open(ctx, "call-1")
	b, _ := io.ReadAll(rc)
	fmt.Printf("operator reads: %q\n", b)

	// Erasure: the key goes first; every copy is unreadable.
	player.Delete(ctx, "call-1")
	fmt.Println("keys left:", len(must(keys.List(ctx))))
	// Output:
	// recorder can read: false
	// operator reads: "OggS... the recording"
	// keys left: 0
}

func must[T any](v T, _ error) T { return v }
