package agestoretest_test

import (
	"testing"

	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/recorder/agestore/agestoretest"
)

func TestMemKeyStore(t *testing.T) {
	agestoretest.TestKeyStore(t, func(t *testing.T) agestore.KeyStore { return &agestoretest.MemKeyStore{} })
}

func TestDirKeyStore(t *testing.T) {
	agestoretest.TestKeyStore(t, func(t *testing.T) agestore.KeyStore {
		s, err := agestore.NewDirKeyStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
