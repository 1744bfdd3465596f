package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

func TestStore(t *testing.T) {
	recordertest.TestStore(t, func(t *testing.T) (recorder.Store, func(string)) {
		cfg := testConfig(t)
		s := newTestStore(t, cfg)
		return s, func(id string) { corrupt(t, s, id) }
	})
}

// corrupt replaces the audio object with a version one bit off (a PUT of
// other bytes: Object Lock keeps the original version, S3 serves the new).
func corrupt(t *testing.T, s *Store, id string) {
	t.Helper()
	ctx := context.Background()
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objKey(id))})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	b[len(b)/2] ^= 1
	md := md5.Sum(b)
	if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objKey(id)),
		Body: bytes.NewReader(b), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(md[:]))}); err != nil {
		t.Fatal(err)
	}
}

func meta(id string, p policy.Purpose) recorder.Meta {
	return recorder.Meta{ID: id, CallID: "call-" + id, Purpose: p, PolicyVersion: "pv1",
		Layout: recorder.LayoutDual, Channels: []recorder.Role{recorder.Customer, recorder.Agent}}
}

// TestMultipart records 12.5 MiB in 160-byte packets: full parts are
// uploaded while the call is recorded (before Finalize), the finalized
// object carries the SHA-256 as metadata and as its S3 checksum-free copy,
// and Open gives the bytes back.
func TestMultipart(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s := New(cfg)
	parts := make(chan int32, 16)
	s.partHook = func(id string, n int32) { parts <- n }
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.Create(ctx, meta("long", policy.Quality))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 12*MinPartSize/5*5+MinPartSize/2) // 12.5 MiB
	rand32(want)
	for p := want; len(p) > 0; p = p[min(160, len(p)):] {
		if _, err := w.Write(p[:min(160, len(p))]); err != nil {
			t.Fatal(err)
		}
	}
	// Two full parts went up while recording.
	for _, n := range []int32{1, 2} {
		if got := <-parts; got != n {
			t.Fatalf("part %d uploaded, want %d", got, n)
		}
	}
	m, err := w.Finalize(ctx, recorder.Final{Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(want)
	if m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(want)) {
		t.Fatalf("meta %+v", m)
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: aws.String(s.objKey("long"))})
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["consentrec-sha256"] != m.SHA256 || aws.ToInt64(head.ContentLength) != m.Size {
		t.Errorf("object metadata %v, length %d", head.Metadata, aws.ToInt64(head.ContentLength))
	}
	if head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil {
		t.Errorf("object lock %q until %v, want GOVERNANCE", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
	}
	// The staging object is gone.
	if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: aws.String(s.stagingKey("long"))}); !isNotExists(err) {
		t.Errorf("staging object left: %v", err)
	}
	rc, err := s.Open(ctx, "long")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, want) {
		t.Fatalf("Open: %d bytes, not those written", len(got))
	}
	if ents, _ := fs.ReadDir(dirFS(cfg.SpoolDir), "."); len(ents) != 0 {
		t.Errorf("spool not emptied: %v", ents)
	}
}

// TestKilledMidUpload: a node dies while a long call is recorded (its writer
// abandoned after parts went up). Its next start, on the same spool, lists
// the recording in progress and finishes it with every byte written.
func TestKilledMidUpload(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s := New(cfg)
	parts := make(chan int32, 16)
	s.partHook = func(id string, n int32) { parts <- n }
	w, err := s.Create(ctx, meta("killed", policy.Quality))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 2*MinPartSize+12345)
	rand32(want)
	if _, err := w.Write(want); err != nil {
		t.Fatal(err)
	}
	<-parts
	<-parts
	s.Close() // killed: no Finalize, the background uploader stops

	s2 := newTestStore(t, cfg) // the node's next start
	l, err := s2.List(ctx)
	if err != nil || len(l) != 1 || l[0].ID != "killed" || l[0].State != recorder.StateRecording {
		t.Fatalf("List after restart = %+v, %v", l, err)
	}
	if _, err := s2.Open(ctx, "killed"); !errors.Is(err, recorder.ErrNotFinalized) {
		t.Fatalf("Open before recovery = %v", err)
	}
	rc, err := s2.OpenPartial(ctx, "killed")
	if err != nil {
		t.Fatal(err)
	}
	partial, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(partial, want) {
		t.Fatalf("spool holds %d bytes, want the %d written", len(partial), len(want))
	}
	w2, err := s2.Resume(ctx, "killed", int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := w2.Finalize(ctx, recorder.Final{Recovered: true})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Recovered || m.Size != int64(len(want)) {
		t.Fatalf("recovered meta %+v", m)
	}
	rc, err = s2.Open(ctx, "killed")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, want) {
		t.Fatal("recovered recording differs from what was written")
	}
	// The aborted upload of the first life left nothing behind.
	ups, err := s2.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &cfg.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left", len(ups.Uploads))
	}
}

// TestObjectLock: a legal-obligation recording is in COMPLIANCE mode until
// its statutory minimum and Delete is refused; a quality recording is in
// GOVERNANCE mode: a client without the bypass cannot delete it, the
// store's (audited) Delete erases it.
func TestObjectLock(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s := newTestStore(t, cfg)
	write := func(id string, p policy.Purpose) recorder.Meta {
		w, err := s.Create(ctx, meta(id, p))
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("audio of " + id))
		m, err := w.Finalize(ctx, recorder.Final{})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	legal := write("legal", policy.LegalObligation)
	ret, err := s.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: &cfg.Bucket, Key: aws.String(s.objKey("legal"))})
	if err != nil {
		t.Fatal(err)
	}
	wantUntil := legal.Created.AddDate(5, 0, 0)
	if ret.Retention == nil || ret.Retention.Mode != types.ObjectLockRetentionModeCompliance ||
		ret.Retention.RetainUntilDate.Sub(wantUntil).Abs() > time.Second {
		t.Fatalf("retention %+v, want COMPLIANCE until %v", ret.Retention, wantUntil)
	}
	if err := s.Delete(ctx, "legal"); !errors.Is(err, ErrLocked) {
		t.Fatalf("early Delete of a COMPLIANCE recording = %v, want ErrLocked", err)
	}
	if rc, err := s.Open(ctx, "legal"); err != nil {
		t.Fatalf("after the refused Delete: %v", err)
	} else {
		rc.Close()
	}

	write("quality", policy.Quality)
	ret, err = s.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: &cfg.Bucket, Key: aws.String(s.objKey("quality"))})
	if err != nil || ret.Retention.Mode != types.ObjectLockRetentionModeGovernance {
		t.Fatalf("retention %+v, %v; want GOVERNANCE", ret.Retention, err)
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &cfg.Bucket, Key: aws.String(s.objKey("quality"))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &cfg.Bucket, Key: aws.String(s.objKey("quality")), VersionId: head.VersionId})
	if err == nil {
		t.Fatal("a delete without the governance bypass was accepted")
	}
	if err := s.Delete(ctx, "quality"); err != nil {
		t.Fatalf("erasure of a GOVERNANCE recording: %v", err)
	}
	if _, err := s.Stat(ctx, "quality"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat after erasure = %v", err)
	}
	vs, err := s.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &cfg.Bucket, Prefix: aws.String(s.objKey("quality"))})
	if err != nil || len(vs.Versions)+len(vs.DeleteMarkers) != 0 {
		t.Fatalf("versions left after erasure: %d, %v", len(vs.Versions)+len(vs.DeleteMarkers), err)
	}
}

// TestLegalHold: an S3 legal hold blocks even the store's Delete; released,
// the recording can be erased.
func TestLegalHold(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	s := newTestStore(t, cfg)
	w, err := s.Create(ctx, meta("held", policy.Quality))
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("audio"))
	if _, err := w.Finalize(ctx, recorder.Final{}); err != nil {
		t.Fatal(err)
	}
	if on, err := s.LegalHold(ctx, "held"); err != nil || on {
		t.Fatalf("LegalHold before = %v, %v", on, err)
	}
	if err := s.SetLegalHold(ctx, "held", true); err != nil {
		t.Fatal(err)
	}
	if on, err := s.LegalHold(ctx, "held"); err != nil || !on {
		t.Fatalf("LegalHold after SetLegalHold = %v, %v", on, err)
	}
	if err := s.Delete(ctx, "held"); !errors.Is(err, ErrLocked) {
		t.Fatalf("Delete under legal hold = %v, want ErrLocked", err)
	}
	if _, err := s.Stat(ctx, "held"); err != nil {
		t.Fatalf("Stat after the refused Delete: %v", err)
	}
	if err := s.SetLegalHold(ctx, "held", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "held"); err != nil {
		t.Fatalf("Delete after release: %v", err)
	}
	if err := s.SetLegalHold(ctx, "nope", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SetLegalHold unknown = %v, want fs.ErrNotExist", err)
	}
}

func TestParseURL(t *testing.T) {
	c, err := ParseURL("s3://recs/site-a/x?endpoint=http://127.0.0.1:7070&region=eu-west-3&spool=/var/spool/cr&part_size=8388608&create_bucket=true")
	if err != nil {
		t.Fatal(err)
	}
	if c.Bucket != "recs" || c.Prefix != "site-a/x/" || c.Endpoint != "http://127.0.0.1:7070" || c.Region != "eu-west-3" ||
		c.SpoolDir != "/var/spool/cr" || c.PartSize != 8<<20 || !c.CreateBucket {
		t.Fatalf("ParseURL = %+v", c)
	}
	for _, bad := range []string{
		"", "http://b", "s3://", "s3://b?spool=/x&part_size=1", "s3://b", "s3://key:secret@b?spool=/x",
		"s3://b?spool=/x&endpoint=ftp://h", "s3://b?spool=/x&endpoint=http://u:secret@h", "s3://b?spool=/x&what=1",
		"s3://b?spool=/x&create_bucket=maybe", "s3://b\x00",
	} {
		_, err := ParseURL(bad)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("ParseURL(%q) = %v, want ErrConfig", bad, err)
		}
		if err != nil && bytes.Contains([]byte(err.Error()), []byte("secret")) {
			t.Errorf("ParseURL error repeats a secret: %v", err)
		}
	}
}

func TestInitNamesMissingField(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Region: "r", SpoolDir: "/tmp/x"}, "Bucket"},
		{Config{Bucket: "b", SpoolDir: "/tmp/x"}, "Region"},
		{Config{Bucket: "b", Region: "r"}, "SpoolDir"},
		{Config{Bucket: "b", Region: "r", SpoolDir: "/tmp/x", PartSize: 1024}, "PartSize"},
	} {
		err := New(tc.cfg).Init(context.Background())
		if !errors.Is(err, ErrConfig) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("Init(%+v) = %v, want ErrConfig naming %s", tc.cfg, err, tc.want)
		}
	}
}

func rand32(b []byte) {
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
}
