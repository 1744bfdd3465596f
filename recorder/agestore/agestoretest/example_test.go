package agestoretest_test

import (
	"context"
	"fmt"

	"github.com/consentrec/consentrec/recorder/agestore/agestoretest"
)

func ExampleMemKeyStore() {
	ctx := context.Background()
	var ks agestoretest.MemKeyStore
	ks.Put(ctx, "rec-1", []byte("age-encryption.org/v1..."))
	ks.Delete(ctx, "rec-1")
	ids, _ := ks.List(ctx)
	fmt.Println(len(ids), ks.Deleted)
	// Output: 0 [rec-1]
}
