package agestore_test

import (
	"testing"

	"filippo.io/age"

	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/recorder/agestore/agestoretest"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

// TestConformance runs recorder.Store's conformance suite on agestore:
// Size and SHA-256 describe the encrypted bytes (Transforming), and an
// incomplete age chunk stays in memory until Finalize (PartialLag, unless
// the journal keeps every write).
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name    string
		keys    bool
		journal bool
	}{
		{"recipients", false, false},
		{"per-recording-keys", true, false},
		{"journal", false, true},
		{"per-recording-keys+journal", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			recordertest.TestStoreWith(t, func(t *testing.T) (recorder.Store, func(string)) {
				op := newIdentity(t)
				inner := &recordertest.MemStore{}
				cfg := agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}, Journal: c.journal}
				if c.keys {
					cfg.Keys = &agestoretest.MemKeyStore{}
				}
				s, err := agestore.New(inner, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return s, inner.Corrupt
			}, recordertest.Options{Transforming: true, PartialLag: !c.journal})
		})
	}
}
