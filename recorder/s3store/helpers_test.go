package s3store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Env returns the S3 server to test against: CONSENTREC_S3_ENDPOINT,
// CONSENTREC_S3_ACCESS_KEY, CONSENTREC_S3_SECRET_KEY. Without them the test
// is skipped, or fails when CONSENTREC_CI=1 (a CI job whose server did not
// start must not pass).
func s3Env(t testing.TB) (endpoint, ak, sk string) {
	t.Helper()
	endpoint, ak, sk = os.Getenv("CONSENTREC_S3_ENDPOINT"), os.Getenv("CONSENTREC_S3_ACCESS_KEY"), os.Getenv("CONSENTREC_S3_SECRET_KEY")
	if endpoint == "" || ak == "" || sk == "" {
		if os.Getenv("CONSENTREC_CI") == "1" {
			t.Fatal("CONSENTREC_CI=1 but CONSENTREC_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY are not all set: the S3 server did not start")
		}
		t.Skip("CONSENTREC_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY not set: skipping the S3 tests (see README, Scaling out)")
	}
	return endpoint, ak, sk
}

// testConfig returns the Config of a fresh bucket, emptied (what Object
// Lock allows) and removed when the test ends.
func testConfig(t testing.TB) Config {
	t.Helper()
	endpoint, ak, sk := s3Env(t)
	var b [6]byte
	rand.Read(b[:])
	cfg := Config{Endpoint: endpoint, Region: "us-east-1", Bucket: "t-" + hex.EncodeToString(b[:]),
		AccessKey: ak, SecretKey: sk, SpoolDir: t.TempDir(), CreateBucket: true}
	t.Cleanup(func() { emptyBucket(t, cfg) })
	return cfg
}

// newTestStore returns a store on cfg, initialised, closed at the end.
func newTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s := New(cfg)
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func emptyBucket(t testing.TB, cfg Config) {
	ctx := context.Background()
	cfg.CreateBucket = false
	s := New(cfg)
	defer s.Close()
	if err := s.Init(ctx); err != nil {
		return
	}
	c := s.Client()
	out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &cfg.Bucket})
	if err != nil {
		return
	}
	for _, v := range out.Versions {
		// COMPLIANCE versions stay until they expire: the bucket stays then.
		c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &cfg.Bucket, Key: v.Key, VersionId: v.VersionId, BypassGovernanceRetention: aws.Bool(true)})
	}
	for _, d := range out.DeleteMarkers {
		c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &cfg.Bucket, Key: d.Key, VersionId: d.VersionId})
	}
	c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &cfg.Bucket})
}
