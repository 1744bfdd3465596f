package retentiontest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

func ExampleStore() {
	ctx := context.Background()
	s := &retentiontest.Store{}
	s.Put("rec-1", []byte("audio"))
	s.Corrupt("rec-1")
	_, err := s.Open(ctx, "rec-1")
	fmt.Println(errors.Is(err, retention.ErrIntegrity))
	fmt.Println(s.Delete(ctx, "rec-1"), s.Has("rec-1"))
	// Output:
	// true
	// <nil> false
}
