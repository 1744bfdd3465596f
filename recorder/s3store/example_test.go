package s3store_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/consentrec/consentrec/recorder/s3store"
)

// ParseURL selects the store by URL; credentials come from the
// environment, never from the URL.
func ExampleParseURL() {
	cfg, err := s3store.ParseURL("s3://recordings/site-a?endpoint=http://127.0.0.1:7070&spool=/var/spool/consentrec")
	fmt.Println(cfg.Bucket, cfg.Prefix, cfg.Endpoint, cfg.Region, cfg.SpoolDir, err)
	_, err = s3store.ParseURL("s3://AKIA:secret@recordings?spool=/x")
	fmt.Println(errors.Is(err, s3store.ErrConfig))
	// Output:
	// recordings site-a/ http://127.0.0.1:7070 us-east-1 /var/spool/consentrec <nil>
	// true
}

// New never connects; Init (called by every method) checks the
// configuration and names what is missing.
func ExampleNew() {
	s := s3store.New(s3store.Config{Bucket: "recordings", Region: "us-east-1"})
	defer s.Close()
	fmt.Println(s.Init(context.Background()))
	// Output:
	// s3store: invalid configuration: SpoolDir is required
}
