package recorder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FileStore is the embedded Store: a directory (usually
// consentrec.DataDir{Root: d}.Recordings()) holding, per recording id,
//
//	ID.opus.partial  the file being written (renamed when finalized)
//	ID.opus          the finalized file
//	ID.json          its metadata (replaced atomically)
//
// Files are created 0600 in a 0700 directory. A process crash loses nothing
// that Write accepted (the bytes are in the kernel); Sync and Finalize fsync
// for power loss. Recover finalizes the partial files a crash left behind.
type FileStore struct {
	dir   string
	locks idLocks // serialise the creation and metadata updates of each id
	now   func() time.Time
	fsync func(*os.File) error // nil: (*os.File).Sync; tests stall it
	wo    *writeOut            // nil outside Linux
}

// idLocks is one mutex per id in use: operations on one recording are
// serialised, those on different recordings never wait for each other
// (a store-wide lock held across fsync made 5,000 Starts take 3-47 s).
type idLocks struct {
	mu sync.Mutex
	m  map[string]*idLock
}

type idLock struct {
	sync.Mutex
	users int
}

// lock locks id and returns its unlock.
func (l *idLocks) lock(id string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*idLock)
	}
	k := l.m[id]
	if k == nil {
		k = &idLock{}
		l.m[id] = k
	}
	k.users++
	l.mu.Unlock()
	k.Lock()
	return func() {
		k.Unlock()
		l.mu.Lock()
		if k.users--; k.users == 0 {
			delete(l.m, id)
		}
		l.mu.Unlock()
	}
}

func (s *FileStore) sync(f *os.File) error {
	if s.fsync != nil {
		return s.fsync(f)
	}
	return f.Sync()
}

var _ Store = (*FileStore)(nil)

// NewFileStore opens (creating it if needed) a file store in dir.
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("file store: %w", err)
	}
	return &FileStore{dir: dir, now: time.Now, wo: newWriteOut()}, nil
}

// Dir returns the store's directory.
func (s *FileStore) Dir() string { return s.dir }

func (s *FileStore) path(id, ext string) string { return filepath.Join(s.dir, id+ext) }

func (s *FileStore) readMeta(id string) (Meta, error) {
	b, err := os.ReadFile(s.path(id, ".json"))
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("metadata of %s: %w", id, err)
	}
	if m.ID != id {
		return Meta{}, fmt.Errorf("metadata of %s names %q: %w", id, m.ID, ErrIntegrity)
	}
	return m, nil
}

// writeMeta replaces ID.json atomically (temporary file, fsync, rename,
// directory fsync).
func (s *FileStore) writeMeta(m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, "."+m.ID+".json.*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = s.sync(tmp)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path(m.ID, ".json"))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return s.syncDir()
}

func (s *FileStore) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	err = s.sync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Create implements Store.
func (s *FileStore) Create(ctx context.Context, m Meta) (Writer, error) {
	if err := ValidateID(m.ID); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	defer s.locks.lock(m.ID)()
	if _, err := os.Lstat(s.path(m.ID, ".json")); err == nil {
		return nil, fmt.Errorf("create %s: %w", m.ID, ErrExist)
	}
	f, err := os.OpenFile(s.path(m.ID, ".opus.partial"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create %s: %w", m.ID, ErrExist)
		}
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	m.State = StateRecording
	if m.Created.IsZero() {
		m.Created = s.now().UTC()
	}
	m.Finalized, m.SHA256, m.Size, m.Duration, m.Gaps, m.Recovered = time.Time{}, "", 0, 0, nil, false
	if err := s.writeMeta(m); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", m.ID, err)
	}
	w := &fileWriter{s: s, f: f, meta: m, h: sha256.New()}
	s.wo.add(w)
	return w, nil
}

// Resume implements Store.
func (s *FileStore) Resume(ctx context.Context, id string, size int64) (Writer, error) {
	if err := ValidateID(id); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	defer s.locks.lock(id)()
	m, err := s.readMeta(id)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	if m.State == StateFinalized {
		return nil, fmt.Errorf("resume %s: %w", id, ErrFinalized)
	}
	part := s.path(id, ".opus.partial")
	if _, err := os.Lstat(part); errors.Is(err, fs.ErrNotExist) {
		// A crash between the rename of the file and the metadata update.
		if err := os.Rename(s.path(id, ".opus"), part); err != nil {
			return nil, fmt.Errorf("resume %s: %w", id, err)
		}
	}
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, size))
	if err == nil && n != size {
		err = fmt.Errorf("size %d beyond the %d bytes written", size, n)
	}
	if err == nil {
		err = f.Truncate(size)
	}
	if err == nil {
		_, err = f.Seek(size, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("resume %s: %w", id, err)
	}
	w := &fileWriter{s: s, f: f, meta: m, h: h, woBehind: size}
	w.n.Store(size)
	s.wo.add(w)
	return w, nil
}

// OpenPartial implements Store.
func (s *FileStore) OpenPartial(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := ValidateID(id); err != nil {
		return nil, fmt.Errorf("open partial: %w", err)
	}
	m, err := s.readMeta(id)
	if err != nil {
		return nil, fmt.Errorf("open partial %s: %w", id, err)
	}
	if m.State == StateFinalized {
		return nil, fmt.Errorf("open partial %s: %w", id, ErrFinalized)
	}
	f, err := os.Open(s.path(id, ".opus.partial"))
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.Open(s.path(id, ".opus"))
	}
	if err != nil {
		return nil, fmt.Errorf("open partial %s: %w", id, err)
	}
	return f, nil
}

// Open implements Store: it hashes the whole file before returning it.
func (s *FileStore) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := ValidateID(id); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	m, err := s.readMeta(id)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	if m.State != StateFinalized {
		return nil, fmt.Errorf("open %s: %w", id, ErrNotFinalized)
	}
	f, err := os.Open(s.path(id, ".opus"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		f.Close()
		return nil, fmt.Errorf("open %s: sha-256 %s, recorded %s: %w", id, got, m.SHA256, ErrIntegrity)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", id, err)
	}
	return f, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Stat implements Store.
func (s *FileStore) Stat(ctx context.Context, id string) (Meta, error) {
	if err := ValidateID(id); err != nil {
		return Meta{}, fmt.Errorf("stat: %w", err)
	}
	m, err := s.readMeta(id)
	if err != nil {
		return Meta{}, fmt.Errorf("stat %s: %w", id, err)
	}
	return m, nil
}

// List implements Store.
func (s *FileStore) List(ctx context.Context) ([]Meta, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var out []Meta
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || ValidateID(id) != nil {
			continue
		}
		m, err := s.readMeta(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Meta) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Delete implements Store.
func (s *FileStore) Delete(ctx context.Context, id string) error {
	if err := ValidateID(id); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	defer s.locks.lock(id)()
	found := false
	var errs []error
	// The audio first, the metadata last: a crash in between leaves
	// metadata that a new Delete removes.
	for _, ext := range []string{".opus", ".opus.partial", ".json"} {
		err := os.Remove(s.path(id, ext))
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	if !found {
		return fmt.Errorf("delete %s: %w", id, fs.ErrNotExist)
	}
	return s.syncDir()
}

type fileWriter struct {
	s      *FileStore
	f      *os.File
	meta   Meta
	h      hash.Hash
	n      atomic.Int64 // bytes written (read by the write-out's ticks too)
	closed bool

	woAt     int   // its index in s.wo's files, while it is there
	woBehind int64 // bytes whose write-out was started (the write-out ticks')
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("write %s: %w", w.meta.ID, ErrClosed)
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n.Add(int64(n))
	if err != nil {
		return n, fmt.Errorf("write %s: %w", w.meta.ID, err)
	}
	return n, nil
}

func (w *fileWriter) Sync() error {
	if w.closed {
		return fmt.Errorf("sync %s: %w", w.meta.ID, ErrClosed)
	}
	return w.f.Sync()
}

var _ Checkpointer = (*fileWriter)(nil)

// Checkpoint implements Checkpointer: it replaces the metadata (state still
// "recording") with the gaps and durations known so far.
func (w *fileWriter) Checkpoint(ctx context.Context, f Final) error {
	if w.closed {
		return fmt.Errorf("checkpoint %s: %w", w.meta.ID, ErrClosed)
	}
	m := w.meta
	m.Duration, m.Gaps, m.GapsDropped, m.Legs = f.Duration, f.Gaps, f.GapsDropped, f.Legs
	defer w.s.locks.lock(w.meta.ID)()
	if err := w.s.writeMeta(m); err != nil {
		return fmt.Errorf("checkpoint %s: %w", w.meta.ID, err)
	}
	return nil
}

func (w *fileWriter) Finalize(ctx context.Context, fin Final) (Meta, error) {
	if w.closed {
		return Meta{}, fmt.Errorf("finalize %s: %w", w.meta.ID, ErrClosed)
	}
	id := w.meta.ID
	w.s.wo.remove(w)
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.closed = true
	if err != nil {
		return Meta{}, fmt.Errorf("finalize %s: %w", id, err)
	}
	s := w.s
	defer s.locks.lock(id)()
	if err := os.Rename(s.path(id, ".opus.partial"), s.path(id, ".opus")); err != nil {
		return Meta{}, fmt.Errorf("finalize %s: %w", id, err)
	}
	m := w.meta
	m.State = StateFinalized
	m.Finalized = s.now().UTC()
	m.Size = w.n.Load()
	m.SHA256 = hex.EncodeToString(w.h.Sum(nil))
	m.Duration, m.Gaps, m.GapsDropped, m.Legs, m.Recovered = fin.Duration, fin.Gaps, fin.GapsDropped, fin.Legs, fin.Recovered
	if err := s.writeMeta(m); err != nil {
		return Meta{}, fmt.Errorf("finalize %s: %w", id, err)
	}
	return m, nil
}

func (w *fileWriter) Abort(ctx context.Context) error {
	if w.closed {
		return fmt.Errorf("abort %s: %w", w.meta.ID, ErrClosed)
	}
	w.closed = true
	w.s.wo.remove(w)
	w.f.Close()
	err := w.s.Delete(ctx, w.meta.ID)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort: %w", err)
	}
	return nil
}
