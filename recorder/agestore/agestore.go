package agestore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/recorder"
)

// JournalSuffix is appended to a recording's id to name its journal in the
// inner store. Ids ending with it are reserved.
const JournalSuffix = ".agej"

// Errors. Methods wrap them as "agestore: op id: %w"; test with errors.Is.
var (
	// ErrConfig: no inner store or no recipient.
	ErrConfig = errors.New("agestore: invalid configuration")
	// ErrNoIdentity: reading was asked of a Store configured with public
	// keys only.
	ErrNoIdentity = errors.New("no identity to decrypt with (the recording process holds public keys only)")
	// ErrWrongKey: none of the identities can decrypt the recording (or
	// its per-recording key). The error also wraps *age.NoIdentityMatchError.
	ErrWrongKey = errors.New("wrong key: no identity matches the recording's recipients")
	// ErrShredded: the per-recording key was deleted: the recording can
	// never be decrypted again.
	ErrShredded = errors.New("recording key deleted (crypto-shredded)")
)

// Config configures a Store. Recipients is required.
type Config struct {
	// Recipients may decrypt the recordings: age X25519 public keys
	// (age.ParseX25519Recipient("age1...")) or any age.Recipient.
	Recipients []age.Recipient
	// Identities decrypt: leave empty in the recording process. Open,
	// OpenPartial and Resume need one.
	Identities []age.Identity
	// Keys enables crypto-shredding: one key pair per recording, its
	// private key encrypted to Recipients and kept in Keys. Nil: files are
	// encrypted to Recipients directly.
	Keys KeyStore
	// Audit receives an audit.KindIntegrityFailure event when a recording
	// fails its integrity check on open. Nil: no event (the error is still
	// returned).
	Audit audit.Appender
	// Now is the time of audit events; nil means time.Now.
	Now func() time.Time
	// Journal also appends every Write, sealed, to a journal object, so
	// that a kill -9 loses no more audio than without encryption (the
	// recorder's own bound, about 1 s) instead of up to one incomplete
	// 64 KiB age chunk (about 10 s of a dual-channel call, 20 s of a mono
	// one). It costs about 90 ns of CPU per packet over the file store
	// (+42%, see BenchmarkRecorderPerPacket); off, encryption costs
	// nothing measurable over the file store.
	Journal bool
}

// Store is a recorder.Store that encrypts to age recipients. It is safe for
// concurrent use if the inner store and key store are.
type Store struct {
	inner recorder.Store
	cfg   Config
}

var _ recorder.Store = (*Store)(nil)

// New wraps inner. It returns an error wrapping ErrConfig without inner or
// recipients.
func New(inner recorder.Store, cfg Config) (*Store, error) {
	if inner == nil {
		return nil, fmt.Errorf("agestore: no inner store: %w", ErrConfig)
	}
	if len(cfg.Recipients) == 0 {
		return nil, fmt.Errorf("agestore: no recipient: %w", ErrConfig)
	}
	return &Store{inner: inner, cfg: cfg}, nil
}

// Inner returns the wrapped store.
func (s *Store) Inner() recorder.Store { return s.inner }

func checkID(op, id string) error {
	if err := recorder.ValidateID(id); err != nil {
		return fmt.Errorf("agestore: %s: %w", op, err)
	}
	if strings.HasSuffix(id, JournalSuffix) || len(id)+len(JournalSuffix) > 128 {
		return fmt.Errorf("agestore: %s %q: reserved or too long for a journal: %w", op, id, recorder.ErrInvalidID)
	}
	return nil
}

// Create implements recorder.Store: the writer encrypts as it writes.
func (s *Store) Create(ctx context.Context, m recorder.Meta) (recorder.Writer, error) {
	if err := checkID("create", m.ID); err != nil {
		return nil, err
	}
	w, err := s.inner.Create(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("agestore: create %s: %w", m.ID, err)
	}
	fail := func(err error) (recorder.Writer, error) {
		_ = w.Abort(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("agestore: create %s: %w", m.ID, err)
	}
	recips := s.cfg.Recipients
	if s.cfg.Keys != nil {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return fail(err)
		}
		wrapped, err := wrapKey(id, s.cfg.Recipients)
		if err != nil {
			return fail(err)
		}
		if err := s.cfg.Keys.Put(ctx, m.ID, wrapped); err != nil {
			return fail(fmt.Errorf("key store: %w", err))
		}
		recips = []age.Recipient{id.Recipient()}
	}
	var jw recorder.Writer
	if s.cfg.Journal {
		jm := m
		jm.ID = m.ID + JournalSuffix
		jw, err = s.inner.Create(ctx, jm)
		if errors.Is(err, recorder.ErrExist) {
			// A stale journal (the recording was deleted through the inner
			// store): replace it.
			if err = s.inner.Delete(ctx, jm.ID); err == nil {
				jw, err = s.inner.Create(ctx, jm)
			}
		}
		if err != nil {
			s.deleteKey(ctx, m.ID)
			return fail(fmt.Errorf("journal: %w", err))
		}
	}
	ew, err := newWriter(s, m.ID, w, jw, recips)
	if err != nil {
		if jw != nil {
			_ = jw.Abort(context.WithoutCancel(ctx))
		}
		s.deleteKey(ctx, m.ID)
		return fail(err)
	}
	return wrapWriter(ew), nil
}

func (s *Store) deleteKey(ctx context.Context, id string) error {
	if s.cfg.Keys == nil {
		return nil
	}
	return s.cfg.Keys.Delete(context.WithoutCancel(ctx), id)
}

// wrapKey encrypts a per-recording identity (its text form, an age
// identity file) to recipients.
func wrapKey(id *age.X25519Identity, recips []age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recips...)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "# consentrec per-recording key\n%s\n", id)
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fileIdentities returns the identities that decrypt recording id: the
// configured ones, or (crypto-shredding) its unwrapped per-recording key.
// When the key store has no key for id, it returns the configured
// identities and a non-nil shredded error: the recording was either made
// before per-recording keys were enabled (the identities open it) or
// shredded (they do not, and the caller returns shredded).
func (s *Store) fileIdentities(ctx context.Context, op, id string) (ids []age.Identity, key *age.X25519Identity, shredded, err error) {
	if len(s.cfg.Identities) == 0 {
		return nil, nil, nil, fmt.Errorf("agestore: %s %s: %w", op, id, ErrNoIdentity)
	}
	if s.cfg.Keys == nil {
		return s.cfg.Identities, nil, nil, nil
	}
	wrapped, err := s.cfg.Keys.Get(ctx, id)
	if errors.Is(err, fs.ErrNotExist) {
		return s.cfg.Identities, nil, fmt.Errorf("agestore: %s %s: %w (%w)", op, id, ErrShredded, err), nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("agestore: %s %s: key store: %w", op, id, err)
	}
	key, err = UnwrapKey(wrapped, s.cfg.Identities...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("agestore: %s %s: recording key: %w", op, id, err)
	}
	return []age.Identity{key}, key, nil, nil
}

// noMatch reports whether err is age's "no identity matched".
func noMatch(err error) bool {
	var nm *age.NoIdentityMatchError
	return errors.As(err, &nm)
}

// UnwrapKey decrypts a per-recording key (as kept in a KeyStore) with
// identities. No match gives an error wrapping ErrWrongKey.
func UnwrapKey(wrapped []byte, identities ...age.Identity) (*age.X25519Identity, error) {
	r, err := age.Decrypt(bytes.NewReader(wrapped), identities...)
	if err != nil {
		return nil, ageErr(err)
	}
	ids, err := age.ParseIdentities(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", recorder.ErrIntegrity, err)
	}
	for _, id := range ids {
		if x, ok := id.(*age.X25519Identity); ok {
			return x, nil
		}
	}
	return nil, fmt.Errorf("no X25519 key inside: %w", recorder.ErrIntegrity)
}

// ageErr classifies an error of age.Decrypt.
func ageErr(err error) error {
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return fmt.Errorf("%w: %w", ErrWrongKey, err)
	}
	return fmt.Errorf("%w: age: %w", recorder.ErrIntegrity, err)
}

// Resume implements recorder.Store. It needs an identity: the data kept
// so far is decrypted (file and journal), cut to size, and encrypted again
// into a fresh age stream that the returned writer continues. A crash at
// any point of Resume loses nothing of the first size bytes: the file is
// cut only once a journal holding them has reached storage (the existing
// one when it holds them, kept until Finalize; else a fresh one, synced).
// When the existing journal is kept, the writer's own writes are not
// journaled (recovery appends one page and finalizes).
func (s *Store) Resume(ctx context.Context, id string, size int64) (recorder.Writer, error) {
	if err := checkID("resume", id); err != nil {
		return nil, err
	}
	m, err := s.inner.Stat(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("agestore: resume %s: %w", id, err)
	}
	if m.State == recorder.StateFinalized {
		return nil, fmt.Errorf("agestore: resume %s: %w", id, recorder.ErrFinalized)
	}
	plain, journaled, key, err := s.partial(ctx, "resume", id)
	if err != nil {
		return nil, err
	}
	if size < 0 || size > int64(len(plain)) {
		return nil, fmt.Errorf("agestore: resume %s: size %d beyond the %d bytes recovered: %w", id, size, len(plain), io.ErrUnexpectedEOF)
	}
	recips := s.cfg.Recipients
	if key != nil {
		recips = []age.Recipient{key.Recipient()}
	}
	jid := id + JournalSuffix
	ew := &writer{s: s, id: id, ad: []byte(id)}
	if journaled >= size {
		// The journal alone holds the data: it stays as it is until
		// Finalize, and the file can be cut.
		ew.oldJournal = true
	} else {
		// The file's complete chunks hold the data: a fresh journal gets
		// it, durably, before the file is cut.
		if journaled >= 0 {
			if err := s.inner.Delete(ctx, jid); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("agestore: resume %s: journal: %w", id, err)
			}
		}
		jm := m
		jm.ID = jid
		jw, err := s.inner.Create(ctx, jm)
		if err != nil {
			return nil, fmt.Errorf("agestore: resume %s: journal: %w", id, err)
		}
		if ew.aead, err = newJournal(jw, recips); err != nil {
			_ = jw.Abort(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("agestore: resume %s: %w", id, err)
		}
		ew.jw = jw
		for off := int64(0); off < size && err == nil; off += resumeRecord {
			err = ew.journal(plain[off:min(off+resumeRecord, size)])
		}
		if err == nil {
			err = jw.Sync()
		}
		if err != nil {
			_ = jw.Abort(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("agestore: resume %s: journal: %w", id, err)
		}
	}
	w, err := s.inner.Resume(ctx, id, 0)
	if err != nil {
		return nil, fmt.Errorf("agestore: resume %s: %w", id, err)
	}
	ew.w = w
	if ew.enc, err = age.Encrypt(w, recips...); err == nil {
		_, err = ew.enc.Write(plain[:size]) // journaled above
	}
	if err != nil {
		return nil, fmt.Errorf("agestore: resume %s: %w", id, err)
	}
	return wrapWriter(ew), nil
}

// resumeRecord bounds the journal records Resume writes (replayJournal
// refuses records over 64 MiB).
const resumeRecord = 1 << 20

// OpenPartial implements recorder.Store: the plaintext of a recording
// never finalized, as far as it reached storage (the complete age chunks of
// the file, then the journal). It needs an identity.
func (s *Store) OpenPartial(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := checkID("open partial", id); err != nil {
		return nil, err
	}
	plain, _, _, err := s.partial(ctx, "open partial", id)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(plain)), nil
}

// partial returns the plaintext of a recording never finalized, how much
// of it the journal alone holds from its start (-1: no journal), and the
// per-recording key.
func (s *Store) partial(ctx context.Context, op, id string) ([]byte, int64, *age.X25519Identity, error) {
	idents, key, shredded, err := s.fileIdentities(ctx, op, id)
	if err != nil {
		return nil, -1, nil, err
	}
	rc, err := s.inner.OpenPartial(ctx, id)
	if err != nil {
		return nil, -1, nil, fmt.Errorf("agestore: %s %s: %w", op, id, err)
	}
	enc, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, -1, nil, fmt.Errorf("agestore: %s %s: %w", op, id, err)
	}
	var plain []byte
	if r, err := age.Decrypt(bytes.NewReader(enc), idents...); err == nil {
		// Every complete chunk; the torn tail ends the read with an error.
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			plain = append(plain, buf[:n]...)
			if err != nil {
				break
			}
		}
	} else if len(enc) > 0 && !isShortHeader(err) && noMatch(err) {
		if shredded != nil {
			return nil, -1, nil, shredded
		}
		return nil, -1, nil, fmt.Errorf("agestore: %s %s: %w", op, id, ageErr(err))
	}
	// The journal: what the chunks do not hold yet.
	jrc, err := s.inner.OpenPartial(ctx, id+JournalSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return plain, -1, key, nil
	}
	if err != nil {
		return nil, -1, nil, fmt.Errorf("agestore: %s %s: journal: %w", op, id, err)
	}
	jb, err := io.ReadAll(jrc)
	jrc.Close()
	if err != nil {
		return nil, -1, nil, fmt.Errorf("agestore: %s %s: journal: %w", op, id, err)
	}
	jplain, err := replayJournal(bytes.NewReader(jb), id, idents, nil)
	if err == nil {
		plain, err = replayJournal(bytes.NewReader(jb), id, idents, plain)
	}
	if err != nil {
		if shredded != nil && errors.Is(err, ErrWrongKey) {
			return nil, -1, nil, shredded
		}
		return nil, -1, nil, fmt.Errorf("agestore: %s %s: journal: %w", op, id, err)
	}
	return plain, int64(len(jplain)), key, nil
}

// isShortHeader reports whether age failed because the header is
// incomplete (a crash before it reached storage).
func isShortHeader(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF")
}

// Open implements recorder.Store. The inner store verifies the SHA-256 of
// the encrypted bytes first (recorder.ErrIntegrity on mismatch, no data);
// then the reader decrypts, and any authentication failure while reading is
// an error wrapping recorder.ErrIntegrity. No identity: ErrNoIdentity; a
// wrong one: ErrWrongKey; a shredded key: ErrShredded.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := checkID("open", id); err != nil {
		return nil, err
	}
	idents, _, shredded, err := s.fileIdentities(ctx, "open", id)
	if err != nil {
		if errors.Is(err, recorder.ErrIntegrity) {
			s.integrityEvent(ctx, id, "recording key: "+err.Error())
		}
		return nil, err
	}
	rc, err := s.inner.Open(ctx, id)
	if err != nil {
		if errors.Is(err, recorder.ErrIntegrity) {
			s.integrityEvent(ctx, id, "sha256 mismatch")
		}
		return nil, fmt.Errorf("agestore: open %s: %w", id, err)
	}
	r, err := age.Decrypt(rc, idents...)
	if err != nil {
		rc.Close()
		if shredded != nil && noMatch(err) {
			return nil, shredded
		}
		err = ageErr(err)
		if errors.Is(err, recorder.ErrIntegrity) {
			s.integrityEvent(ctx, id, "age header: "+err.Error())
		}
		return nil, fmt.Errorf("agestore: open %s: %w", id, err)
	}
	return &decReader{r: r, c: rc, s: s, ctx: context.WithoutCancel(ctx), id: id}, nil
}

type decReader struct {
	r   io.Reader
	c   io.Closer
	s   *Store
	ctx context.Context
	id  string
	bad bool
}

func (d *decReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		if !d.bad {
			d.bad = true
			d.s.integrityEvent(d.ctx, d.id, "age stream: "+err.Error())
		}
		err = fmt.Errorf("agestore: read %s: %w: %w", d.id, recorder.ErrIntegrity, err)
	}
	return n, err
}

func (d *decReader) Close() error { return d.c.Close() }

func (s *Store) integrityEvent(ctx context.Context, id, reason string) {
	if s.cfg.Audit == nil {
		return
	}
	now := time.Now
	if s.cfg.Now != nil {
		now = s.cfg.Now
	}
	e := audit.Event{Kind: audit.KindIntegrityFailure, Time: now().UTC(), RecordingID: id, Actor: "system", Reason: reason}
	if m, err := s.inner.Stat(ctx, id); err == nil {
		e.CallID, e.Purpose, e.PolicyVersion, e.SHA256 = m.CallID, string(m.Purpose), m.PolicyVersion, m.SHA256
	}
	_, _ = s.cfg.Audit.Append(context.WithoutCancel(ctx), e)
}

// Stat implements recorder.Store. Size and SHA256 are those of the
// encrypted bytes as stored (so `sha256sum` of the file matches the audit
// log's finalized event without any key), not of the plaintext.
func (s *Store) Stat(ctx context.Context, id string) (recorder.Meta, error) {
	if err := checkID("stat", id); err != nil {
		return recorder.Meta{}, err
	}
	m, err := s.inner.Stat(ctx, id)
	if err != nil {
		return m, fmt.Errorf("agestore: stat %s: %w", id, err)
	}
	return m, nil
}

// List implements recorder.Store; journals are not listed.
func (s *Store) List(ctx context.Context) ([]recorder.Meta, error) {
	ms, err := s.inner.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("agestore: list: %w", err)
	}
	out := ms[:0]
	for _, m := range ms {
		if !strings.HasSuffix(m.ID, JournalSuffix) {
			out = append(out, m)
		}
	}
	return out, nil
}

// Delete implements recorder.Store. With crypto-shredding the key goes
// first: once Delete has returned without error, no copy of the recording
// can be decrypted, even if removing the file itself failed (the error then
// says so). The journal goes too.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := checkID("delete", id); err != nil {
		return err
	}
	if s.cfg.Keys != nil {
		if err := s.cfg.Keys.Delete(ctx, id); err != nil {
			return fmt.Errorf("agestore: delete %s: key: %w", id, err)
		}
	}
	err := s.inner.Delete(ctx, id)
	if jerr := s.inner.Delete(ctx, id+JournalSuffix); jerr != nil && !errors.Is(jerr, fs.ErrNotExist) && err == nil {
		err = jerr
	}
	if err != nil {
		return fmt.Errorf("agestore: delete %s: %w", id, err)
	}
	return nil
}

// Shred deletes only the per-recording key of id (crypto-shredding mode):
// the encrypted file stays, unreadable by anyone. Unknown keys are not an
// error.
func (s *Store) Shred(ctx context.Context, id string) error {
	if err := checkID("shred", id); err != nil {
		return err
	}
	if s.cfg.Keys == nil {
		return fmt.Errorf("agestore: shred %s: no key store: %w", id, ErrConfig)
	}
	if err := s.cfg.Keys.Delete(ctx, id); err != nil {
		return fmt.Errorf("agestore: shred %s: %w", id, err)
	}
	return nil
}

// writer encrypts to the inner writer and journals every Write.
type writer struct {
	s      *Store
	id     string
	ad     []byte // the id, authenticated with each journal record
	w, jw  recorder.Writer
	enc    io.WriteCloser
	aead   cipher.AEAD // nil: no journal
	nonce  [12]byte
	seq    uint64
	off    uint64
	rec    []byte
	closed bool
	// oldJournal: the journal of a crashed writer, kept by Resume (it
	// holds the data the file was cut to) until Finalize or Abort.
	oldJournal bool
}

var _ recorder.Writer = (*writer)(nil)

// cpWriter is the writer of a store whose inner writers checkpoint: it
// passes recorder.Checkpointer through (a writer implements it exactly when
// the inner one does, so that the recorder's type assertion tells the truth).
type cpWriter struct {
	*writer
	c recorder.Checkpointer
}

var _ recorder.Checkpointer = (*cpWriter)(nil)

// Checkpoint implements recorder.Checkpointer: the inner store keeps the
// metadata (the gap index, pauses with reason and actor, in the clear like
// the finalized metadata). The audio is not flushed: what reaches storage
// is as without a checkpoint (complete age chunks, and the journal).
func (w *cpWriter) Checkpoint(ctx context.Context, f recorder.Final) error {
	if w.closed {
		return fmt.Errorf("agestore: checkpoint %s: %w", w.id, recorder.ErrClosed)
	}
	if err := w.c.Checkpoint(ctx, f); err != nil {
		return fmt.Errorf("agestore: checkpoint %s: %w", w.id, err)
	}
	return nil
}

// wrapWriter returns ew as a recorder.Writer that checkpoints when the
// inner writer does.
func wrapWriter(ew *writer) recorder.Writer {
	if c, ok := ew.w.(recorder.Checkpointer); ok {
		return &cpWriter{writer: ew, c: c}
	}
	return ew
}

// Journal layout: magic, then the length (uint32, big endian) and bytes of
// an age file holding the 32-byte journal key, then records: length
// (uint32) and AES-256-GCM(key, nonce = record number, plaintext = offset
// (uint64) || data, additional data = recording id). AES-GCM (hardware on
// amd64 and arm64) costs about half of ChaCha20-Poly1305 here; the file
// itself stays pure age.
const journalMagic = "consentrec-agej/1\n"

const journalKeySize = 32

func journalAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func newWriter(s *Store, id string, w, jw recorder.Writer, recips []age.Recipient) (*writer, error) {
	enc, err := age.Encrypt(w, recips...)
	if err != nil {
		return nil, err
	}
	if jw == nil {
		return &writer{s: s, id: id, w: w, enc: enc}, nil
	}
	aead, err := newJournal(jw, recips)
	if err != nil {
		return nil, err
	}
	return &writer{s: s, id: id, ad: []byte(id), w: w, jw: jw, enc: enc, aead: aead}, nil
}

// newJournal writes a journal's header (its key, encrypted to recips) to
// jw and returns the journal's cipher.
func newJournal(jw recorder.Writer, recips []age.Recipient) (cipher.AEAD, error) {
	key := make([]byte, journalKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	aead, err := journalAEAD(key)
	if err != nil {
		return nil, err
	}
	var wrapped bytes.Buffer
	kw, err := age.Encrypt(&wrapped, recips...)
	if err != nil {
		return nil, err
	}
	kw.Write(key)
	if err := kw.Close(); err != nil {
		return nil, err
	}
	hdr := make([]byte, 0, len(journalMagic)+4+wrapped.Len())
	hdr = append(hdr, journalMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(wrapped.Len()))
	hdr = append(hdr, wrapped.Bytes()...)
	if _, err := jw.Write(hdr); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return aead, nil
}

// Write encrypts p into the file's age stream (full 64 KiB chunks reach
// the inner writer as they fill) and appends one sealed journal record, so
// that p reaches storage now.
func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("agestore: write %s: %w", w.id, recorder.ErrClosed)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := w.enc.Write(p); err != nil {
		return 0, fmt.Errorf("agestore: write %s: %w", w.id, err)
	}
	if w.jw == nil {
		return len(p), nil
	}
	if err := w.journal(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// journal appends p to the journal as one sealed record.
func (w *writer) journal(p []byte) error {
	binary.BigEndian.PutUint64(w.nonce[4:], w.seq)
	need := 4 + 8 + len(p) + w.aead.Overhead()
	if cap(w.rec) < need {
		w.rec = make([]byte, 0, max(need, 4096))
	}
	rec := w.rec[:12]
	binary.BigEndian.PutUint32(rec, uint32(need-4))
	binary.BigEndian.PutUint64(rec[4:], w.off)
	// Seal offset||data in place: the plaintext starts at rec[4:].
	rec = append(rec, p...)
	sealed := w.aead.Seal(rec[4:4], w.nonce[:], rec[4:], w.ad)
	rec = rec[:4+len(sealed)]
	if _, err := w.jw.Write(rec); err != nil {
		return fmt.Errorf("agestore: write %s: journal: %w", w.id, err)
	}
	w.seq++
	w.off += uint64(len(p))
	return nil
}

// Sync makes the file's complete chunks and the journal durable.
func (w *writer) Sync() error {
	if w.closed {
		return fmt.Errorf("agestore: sync %s: %w", w.id, recorder.ErrClosed)
	}
	if err := w.w.Sync(); err != nil {
		return fmt.Errorf("agestore: sync %s: %w", w.id, err)
	}
	if w.jw == nil {
		return nil
	}
	if err := w.jw.Sync(); err != nil {
		return fmt.Errorf("agestore: sync %s: journal: %w", w.id, err)
	}
	return nil
}

// Finalize writes the last age chunk, finalizes the file (the inner store
// records the size and SHA-256 of the encrypted bytes) and removes the
// journal.
func (w *writer) Finalize(ctx context.Context, f recorder.Final) (recorder.Meta, error) {
	if w.closed {
		return recorder.Meta{}, fmt.Errorf("agestore: finalize %s: %w", w.id, recorder.ErrClosed)
	}
	if err := w.enc.Close(); err != nil {
		return recorder.Meta{}, fmt.Errorf("agestore: finalize %s: %w", w.id, err)
	}
	m, err := w.w.Finalize(ctx, f)
	if err != nil {
		return m, fmt.Errorf("agestore: finalize %s: %w", w.id, err)
	}
	w.closed = true
	// The recording is complete: the journal is redundant. Failing to
	// remove it loses nothing (Delete removes it later).
	if w.jw != nil {
		_ = w.jw.Abort(context.WithoutCancel(ctx))
	}
	if w.oldJournal {
		_ = w.s.inner.Delete(context.WithoutCancel(ctx), w.id+JournalSuffix)
	}
	return m, nil
}

// Abort removes the file, the journal and the per-recording key.
func (w *writer) Abort(ctx context.Context) error {
	if w.closed {
		return fmt.Errorf("agestore: abort %s: %w", w.id, recorder.ErrClosed)
	}
	w.closed = true
	err := w.w.Abort(ctx)
	if w.jw != nil {
		if jerr := w.jw.Abort(ctx); err == nil {
			err = jerr
		}
	}
	if w.oldJournal {
		if jerr := w.s.inner.Delete(ctx, w.id+JournalSuffix); err == nil && !errors.Is(jerr, fs.ErrNotExist) {
			err = jerr
		}
	}
	if kerr := w.s.deleteKey(ctx, w.id); err == nil {
		err = kerr
	}
	if err != nil {
		return fmt.Errorf("agestore: abort %s: %w", w.id, err)
	}
	return nil
}

// replayJournal extends plain with the journal's records: each record
// holds (offset, data); data that continues plain is appended. It stops at
// the first incomplete or unauthentic record (the torn tail of a crash).
func replayJournal(r io.Reader, id string, idents []age.Identity, plain []byte) ([]byte, error) {
	magic := make([]byte, len(journalMagic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return plain, nil // the header never reached storage
	}
	if string(magic) != journalMagic {
		return nil, fmt.Errorf("bad magic: %w", recorder.ErrIntegrity)
	}
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return plain, nil
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > 1<<16 {
		return nil, fmt.Errorf("key block of %d bytes: %w", n, recorder.ErrIntegrity)
	}
	wrapped := make([]byte, n)
	if _, err := io.ReadFull(r, wrapped); err != nil {
		return plain, nil
	}
	kr, err := age.Decrypt(bytes.NewReader(wrapped), idents...)
	if err != nil {
		return nil, ageErr(err)
	}
	key, err := io.ReadAll(kr)
	if err != nil || len(key) != journalKeySize {
		return nil, fmt.Errorf("journal key: %w", recorder.ErrIntegrity)
	}
	aead, err := journalAEAD(key)
	if err != nil {
		return nil, err
	}
	var nonce [12]byte
	var buf []byte
	for seq := uint64(0); ; seq++ {
		if _, err := io.ReadFull(r, lb[:]); err != nil {
			return plain, nil
		}
		n := binary.BigEndian.Uint32(lb[:])
		if n < uint32(8+aead.Overhead()) || n > 64<<20 {
			return plain, nil
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return plain, nil
		}
		binary.BigEndian.PutUint64(nonce[4:], seq)
		pt, err := aead.Open(buf[:0], nonce[:], buf, []byte(id))
		if err != nil {
			return plain, nil
		}
		off := binary.BigEndian.Uint64(pt)
		data := pt[8:]
		switch end := off + uint64(len(data)); {
		case off > uint64(len(plain)):
			return plain, nil // a hole: cannot happen unless records were lost
		case end > uint64(len(plain)):
			plain = append(plain, data[uint64(len(plain))-off:]...)
		}
	}
}
