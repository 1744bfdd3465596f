package agestore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/recorder/agestore/agestoretest"
	"github.com/consentrec/consentrec/recorder/recordertest"
)

var ctx = context.Background()

func newIdentity(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func meta(id string) recorder.Meta {
	return recorder.Meta{ID: id, CallID: "call-1", Purpose: policy.Quality, PolicyVersion: "pv1",
		Layout: recorder.LayoutDual, Channels: []recorder.Role{recorder.Customer, recorder.Agent}}
}

// TestMetaDescribesStoredBytes: Size and SHA-256 are those of the encrypted
// file as stored (recordertest.TestStoreWith, Options.Transforming, checks
// only their consistency: see TestConformance).
func TestMetaDescribesStoredBytes(t *testing.T) {
	op := newIdentity(t)
	dir := t.TempDir()
	inner, _ := recorder.NewFileStore(dir)
	s, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}})
	m := write(t, s, "r", payload(70_000), 1000)
	b, _ := os.ReadFile(filepath.Join(dir, "r.opus"))
	sum := sha256.Sum256(b)
	if m.Size != int64(len(b)) || m.SHA256 != hex.EncodeToString(sum[:]) || m.State != recorder.StateFinalized {
		t.Fatalf("meta %+v, file %d bytes", m, len(b))
	}
	if st, err := s.Stat(ctx, "r"); err != nil || st.SHA256 != m.SHA256 {
		t.Fatalf("Stat: %+v, %v", st, err)
	}
	if _, err := s.Stat(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat unknown: %v", err)
	}
	if _, err := s.Create(ctx, meta("r")); !errors.Is(err, recorder.ErrExist) {
		t.Fatalf("Create existing: %v", err)
	}
	w, _ := s.Create(ctx, meta("p"))
	w.Write([]byte("partial"))
	if _, err := s.Open(ctx, "p"); !errors.Is(err, recorder.ErrNotFinalized) {
		t.Fatalf("Open unfinalized: %v", err)
	}
	if err := w.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, recorder.ErrClosed) {
		t.Fatalf("Write after Abort: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "p") {
			t.Errorf("Abort left %s", e.Name())
		}
	}
	if err := s.Delete(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := s.List(ctx); len(ms) != 0 {
		t.Fatalf("List after Delete: %+v", ms)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Delete left %v", entries)
	}
}

func write(t testing.TB, s recorder.Store, id string, data []byte, chunk int) recorder.Meta {
	t.Helper()
	w, err := s.Create(ctx, meta(id))
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	m, err := w.Finalize(ctx, recorder.Final{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readAll(t testing.TB, s recorder.Store, id string) ([]byte, error) {
	t.Helper()
	rc, err := s.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestPublicKeysOnly: the recording process (recipients only) writes, and
// cannot read back, even its own recordings; the stored bytes are not the
// plaintext.
func TestPublicKeysOnly(t *testing.T) {
	op := newIdentity(t)
	inner := &recordertest.MemStore{}
	rec, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}})
	data := payload(200_000)
	write(t, rec, "r1", data, 4000)
	if _, err := readAll(t, rec, "r1"); !errors.Is(err, agestore.ErrNoIdentity) {
		t.Fatalf("Open without identity: %v, want ErrNoIdentity", err)
	}
	w, _ := rec.Create(ctx, meta("r2"))
	w.Write(data[:1000])
	if _, err := rec.OpenPartial(ctx, "r2"); !errors.Is(err, agestore.ErrNoIdentity) {
		t.Fatalf("OpenPartial without identity: %v", err)
	}
	stored := inner.Bytes("r1")
	if bytes.Contains(stored, data[:64]) || !bytes.HasPrefix(stored, []byte("age-encryption.org/v1\n")) {
		t.Fatal("stored bytes are not an age file")
	}
	w.Abort(ctx)
	ms, _ := rec.List(ctx)
	if len(ms) != 1 || ms[0].ID != "r1" {
		t.Fatalf("List: %+v (the journal must be gone and hidden)", ms)
	}
	// The operator reads.
	reader, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}})
	got, err := readAll(t, reader, "r1")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("operator read: %d bytes, %v", len(got), err)
	}
}

func TestWrongKey(t *testing.T) {
	op, other := newIdentity(t), newIdentity(t)
	for _, keys := range []agestore.KeyStore{nil, &agestoretest.MemKeyStore{}} {
		inner := &recordertest.MemStore{}
		w, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Keys: keys})
		write(t, w, "r", payload(1000), 100)
		r, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{other}, Keys: keys})
		_, err := readAll(t, r, "r")
		var nm *age.NoIdentityMatchError
		if !errors.Is(err, agestore.ErrWrongKey) || !errors.As(err, &nm) {
			t.Fatalf("keys=%v: %v, want ErrWrongKey", keys != nil, err)
		}
		t.Logf("wrong key: %v", err)
	}
}

type auditLog struct {
	mu sync.Mutex
	ev []audit.Event
}

func (a *auditLog) Append(_ context.Context, e audit.Event) (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ev = append(a.ev, e)
	return uint64(len(a.ev)), nil
}

// TestTamperingDetected: a flipped byte and a truncated file fail with
// ErrIntegrity before any data is returned, and leave an audit event.
func TestTamperingDetected(t *testing.T) {
	op := newIdentity(t)
	for _, damage := range []string{"flip-header", "flip-body", "flip-last", "truncate-chunk", "truncate-tail", "append"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			inner, _ := recorder.NewFileStore(dir)
			log := &auditLog{}
			s, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}, Audit: log})
			write(t, s, "r", payload(150_000), 3000)
			path := filepath.Join(dir, "r.opus")
			b, _ := os.ReadFile(path)
			switch damage {
			case "flip-header":
				b[30] ^= 1
			case "flip-body":
				b[len(b)/2] ^= 1
			case "flip-last":
				b[len(b)-1] ^= 1
			case "truncate-chunk":
				b = b[:len(b)-len(b)%(64<<10)/2]
			case "truncate-tail":
				b = b[:len(b)-1]
			case "append":
				b = append(b, 0)
			}
			os.WriteFile(path, b, 0o600)
			rc, err := s.Open(ctx, "r")
			if !errors.Is(err, recorder.ErrIntegrity) || rc != nil {
				t.Fatalf("Open: %v, want ErrIntegrity and no reader", err)
			}
			t.Logf("%s: %v", damage, err)
			if len(log.ev) != 1 || log.ev[0].Kind != audit.KindIntegrityFailure || log.ev[0].RecordingID != "r" {
				t.Fatalf("audit: %+v", log.ev)
			}
		})
	}
}

// noCheckStore is an inner store whose digest check was defeated (the
// attacker rewrote the digest too): age's authentication must still catch
// the change.
type noCheckStore struct{ *recordertest.MemStore }

func (s noCheckStore) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(s.Bytes(id))), nil
}

func TestTamperingBehindTheDigest(t *testing.T) {
	op := newIdentity(t)
	mem := &recordertest.MemStore{}
	log := &auditLog{}
	s, _ := agestore.New(noCheckStore{mem}, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}, Audit: log})
	write(t, s, "r", payload(150_000), 3000)
	mem.Corrupt("r")
	_, err := readAll(t, s, "r")
	if !errors.Is(err, recorder.ErrIntegrity) {
		t.Fatalf("read: %v, want ErrIntegrity", err)
	}
	if len(log.ev) != 1 || log.ev[0].Kind != audit.KindIntegrityFailure {
		t.Fatalf("audit: %+v", log.ev)
	}
}

// TestCryptoShredding: Delete removes the per-recording key first; a copy
// of the encrypted file (a backup) is then unreadable with the operator's
// identity.
func TestCryptoShredding(t *testing.T) {
	op := newIdentity(t)
	inner := &recordertest.MemStore{}
	keys := &agestoretest.MemKeyStore{}
	s, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}, Keys: keys})
	data := payload(10_000)
	write(t, s, "r", data, 500)
	backup := bytes.Clone(inner.Bytes("r"))
	if got, err := readAll(t, s, "r"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
	// The operator identity alone does not open the file: it needs the key.
	if _, err := age.Decrypt(bytes.NewReader(backup), op); err == nil {
		t.Fatal("the file is readable without its per-recording key")
	}
	wrapped, _ := keys.Get(ctx, "r")
	key, err := agestore.UnwrapKey(wrapped, op)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := age.Decrypt(bytes.NewReader(backup), key); err != nil {
		t.Fatal(err)
	} else if got, _ := io.ReadAll(r); !bytes.Equal(got, data) {
		t.Fatal("backup + key does not decrypt")
	}
	if err := s.Delete(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if len(keys.Deleted) != 1 || keys.Deleted[0] != "r" {
		t.Fatalf("key not deleted: %v", keys.Deleted)
	}
	if _, err := keys.Get(ctx, "r"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("key still there")
	}
	if _, err := s.Stat(ctx, "r"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat after Delete: %v", err)
	}
	// Shred alone: the file stays, unreadable.
	write(t, s, "r2", data, 500)
	if err := s.Shred(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, s, "r2"); !errors.Is(err, agestore.ErrShredded) {
		t.Fatalf("Open shredded: %v, want ErrShredded", err)
	}
	// A recording made before per-recording keys were enabled still opens
	// with the operator's identity.
	old, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}})
	write(t, old, "before", data, 500)
	if got, err := readAll(t, s, "before"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Open a recording without a per-recording key: %v", err)
	}
}

// TestCrashLosesNothingWritten: a writer abandoned without Finalize (the
// process died) leaves everything it wrote recoverable with an identity,
// although most of it sits in an incomplete 64 KiB age chunk; Resume then
// continues the recording.
func TestCrashLosesNothingWritten(t *testing.T) {
	op := newIdentity(t)
	for _, keys := range []agestore.KeyStore{nil, &agestoretest.MemKeyStore{}} {
		dir := t.TempDir()
		inner, _ := recorder.NewFileStore(dir)
		s, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Keys: keys, Journal: true})
		w, err := s.Create(ctx, meta("r"))
		if err != nil {
			t.Fatal(err)
		}
		data := payload(100_000) // one full chunk and 34 KiB in memory
		for i := 0; i < len(data); i += 813 {
			w.Write(data[i:min(len(data), i+813)])
		}
		// kill -9: w is dropped. Without the journal, the file alone gives:
		st, _ := s.Stat(ctx, "r")
		if st.State != recorder.StateRecording {
			t.Fatalf("state %v", st.State)
		}
		ops, _ := agestore.New(inner, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}, Keys: keys, Journal: true})
		rc, err := ops.OpenPartial(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, data) {
			t.Fatalf("recovered %d of %d bytes", len(got), len(data))
		}
		// Resume at 90,000 bytes and finish.
		rw, err := ops.Resume(ctx, "r", 90_000)
		if err != nil {
			t.Fatal(err)
		}
		rw.Write([]byte("the end"))
		if _, err := rw.Finalize(ctx, recorder.Final{Recovered: true}); err != nil {
			t.Fatal(err)
		}
		full, err := readAll(t, ops, "r")
		if err != nil || !bytes.Equal(full, append(bytes.Clone(data[:90_000]), "the end"...)) {
			t.Fatalf("after resume: %d bytes, %v", len(full), err)
		}
		ms, _ := ops.List(ctx)
		if len(ms) != 1 {
			t.Fatalf("List: %+v", ms)
		}
		if _, err := os.Stat(filepath.Join(dir, "r"+agestore.JournalSuffix+".opus.partial")); !errors.Is(err, fs.ErrNotExist) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), agestore.JournalSuffix) {
					t.Fatalf("journal left behind: %s", e.Name())
				}
			}
		}
		// The recording process cannot recover: it leaves the orphan.
		if _, err := s.Resume(ctx, "r", 0); err == nil {
			t.Fatal("Resume of a finalized recording")
		}
	}
}

// TestNoJournal: without the journal (the default), a crash keeps only
// the complete 64 KiB chunks.
func TestNoJournal(t *testing.T) {
	op := newIdentity(t)
	mem := &recordertest.MemStore{}
	s, _ := agestore.New(mem, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}})
	w, _ := s.Create(ctx, meta("r"))
	data := payload(100_000)
	w.Write(data)
	rc, err := s.OpenPartial(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, data[:64<<10]) {
		t.Fatalf("recovered %d bytes, want the first chunk (65536)", len(got))
	}
	if ms, _ := mem.List(ctx); len(ms) != 1 {
		t.Fatalf("a journal was created: %+v", ms)
	}
	m, err := w.Finalize(ctx, recorder.Final{})
	if err != nil || m.State != recorder.StateFinalized {
		t.Fatal(err)
	}
	if full, err := readAll(t, s, "r"); err != nil || !bytes.Equal(full, data) {
		t.Fatalf("read: %v", err)
	}
}

func TestTornJournal(t *testing.T) {
	op := newIdentity(t)
	mem := &recordertest.MemStore{}
	s, _ := agestore.New(mem, agestore.Config{Recipients: []age.Recipient{op.Recipient()}, Identities: []age.Identity{op}, Journal: true})
	w, _ := s.Create(ctx, meta("r"))
	data := payload(5000)
	for i := 0; i < 5000; i += 1000 {
		w.Write(data[i : i+1000])
	}
	// Tear the last journal record (a crash in the middle of a write).
	jw, _ := mem.Resume(ctx, "r"+agestore.JournalSuffix, int64(len(mem.Bytes("r"+agestore.JournalSuffix))-10))
	_ = jw
	rc, err := s.OpenPartial(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, data[:4000]) {
		t.Fatalf("recovered %d bytes, want the 4000 of the complete records", len(got))
	}
}

func TestConfigAndIDs(t *testing.T) {
	op := newIdentity(t)
	if _, err := agestore.New(nil, agestore.Config{Recipients: []age.Recipient{op.Recipient()}}); !errors.Is(err, agestore.ErrConfig) {
		t.Error(err)
	}
	if _, err := agestore.New(&recordertest.MemStore{}, agestore.Config{}); !errors.Is(err, agestore.ErrConfig) {
		t.Error(err)
	}
	s, _ := agestore.New(&recordertest.MemStore{}, agestore.Config{Recipients: []age.Recipient{op.Recipient()}})
	for _, id := range []string{"x" + agestore.JournalSuffix, strings.Repeat("a", 125)} {
		if _, err := s.Create(ctx, meta(id)); !errors.Is(err, recorder.ErrInvalidID) {
			t.Errorf("Create(%q): %v", id, err)
		}
	}
	if err := s.Shred(ctx, "r"); !errors.Is(err, agestore.ErrConfig) {
		t.Errorf("Shred without key store: %v", err)
	}
}
