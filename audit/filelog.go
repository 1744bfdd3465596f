package audit

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Options configures a file log. The zero value of every field but Signer
// is a safe default.
type Options struct {
	// Signer signs checkpoints; it must hold an Ed25519 key (in memory,
	// a KMS, an HSM). Required by Open; OpenDir loads or creates one.
	Signer crypto.Signer
	// Origin names the log instance: the first line of its checkpoints
	// and the name of its verifier key. Required to create a log; when
	// opening one it must be empty or match. OpenDir picks one.
	Origin string
	// Now is the clock used for events whose Time is zero (time.Now).
	Now func() time.Time
	// Rand fills salts (crypto/rand.Read). Salts must be unpredictable:
	// a guessable salt defeats crypto-shredding.
	Rand func([]byte) error
	// CheckpointInterval is how long durable entries may stay unsigned:
	// a checkpoint is signed that long after the first unsigned append.
	// Zero means one second; negative means only on Checkpoint and Close.
	CheckpointInterval time.Duration
	// MaxBatch caps how many appends share one sync (default 4096).
	MaxBatch int
	// Witnesses countersign every checkpoint. Their failures do not stop
	// the log; Checkpoint reports them. They are called from the
	// goroutine that commits appends: a slow witness delays appends, by at
	// most WitnessTimeout once per checkpoint.
	Witnesses []Witness
	// WitnessTimeout bounds each witness call (default 5 s).
	WitnessTimeout time.Duration
	// Anchor, if not nil, keeps each signed checkpoint's size and root
	// outside the log's directory; Open fails with ErrRollback when the
	// log is behind it (see Anchor). OpenDir defaults it to
	// DirAnchor(dataDir). A failure to store is returned by Checkpoint
	// (the checkpoint itself is signed and kept).
	Anchor Anchor
}

// FileLog is the durable audit log of one directory (see FS). It
// implements Log. Appends from many goroutines are group-committed: the
// appends that arrive while one batch syncs share the next sync. An append
// returns only after its sync.
//
// Files: "log" (header and records, appended), "checkpoint" (the latest
// signed checkpoint, replaced atomically), "checkpoint.pub" (the verifier
// key). Memory: about 72 bytes per entry (tree hashes and offsets).
type FileLog struct {
	fsys     FS
	origin   string
	signer   note.Signer
	verifier note.Verifier
	now      func() time.Time
	rnd      func([]byte) error
	interval time.Duration
	maxBatch int
	wit      *WitnessSet // committer only
	trimmed  int64
	anchor   Anchor

	reqs     chan *appendReq
	ops      chan func()
	quit     chan struct{}
	done     chan struct{}
	quitOnce sync.Once

	// owned by the committer goroutine
	prev      tlog.Hash
	n         uint64
	end       int64
	buf       []byte
	tail      []tlog.Hash
	offs      []int64
	timerC    <-chan time.Time
	timer     *time.Timer
	lastWitEr error
	lastSync  time.Duration
	anchored  uint64 // size of the checkpoint last stored in the anchor

	mu      sync.RWMutex // guards the fields below
	f       File
	hashes  []tlog.Hash
	offsets []int64
	size    uint64
	pubEnd  int64
	cp      []byte
	cpSize  uint64
	cpRoot  tlog.Hash
	failed  error
}

var _ Log = (*FileLog)(nil)

type appendReq struct {
	time   time.Time
	kind   Kind
	open   *Opening
	commit tlog.Hash
	done   chan appendResult
}

type appendResult struct {
	index uint64
	err   error
}

// Open opens (or creates) the file log in fsys and checks it completely:
// every record, the chain, and the tree against the last signed checkpoint.
// Only what a crash can leave is trimmed (see Trimmed): a last record cut
// short by the end of the file, or a tail of zero bytes, after the signed
// checkpoint. Anything else missing or altered, a complete record with a
// bad checksum included, is a *VerifyError naming the first bad entry and
// its offset: ErrRollback if the log is shorter than
// its checkpoint, ErrCorrupt otherwise, ErrSignature for a checkpoint that
// does not verify. Nothing is ever repaired past a signed size.
func Open(ctx context.Context, fsys FS, opts Options) (*FileLog, error) {
	if opts.Signer == nil {
		return nil, errors.New("audit: open: Options.Signer is required")
	}
	l := &FileLog{
		fsys: fsys, now: opts.Now, rnd: opts.Rand, interval: opts.CheckpointInterval,
		maxBatch: opts.MaxBatch, anchor: opts.Anchor,
		reqs: make(chan *appendReq, 1024), ops: make(chan func()),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.rnd == nil {
		l.rnd = func(b []byte) error { _, err := rand.Read(b); return err }
	}
	if l.interval == 0 {
		l.interval = time.Second
	}
	if l.maxBatch <= 0 {
		l.maxBatch = 4096
	}
	l.wit = NewWitnessSet(opts.Witnesses, opts.WitnessTimeout)
	if err := l.open(ctx, opts); err != nil {
		if l.f != nil {
			l.f.Close()
		}
		return nil, err
	}
	go l.run()
	return l, nil
}

func (l *FileLog) open(ctx context.Context, opts Options) error {
	f, err := l.fsys.OpenFile(logFile, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if opts.Origin == "" || !validOrigin(opts.Origin) {
			return fmt.Errorf("audit: open: a valid Options.Origin is required to create a log (got %q)", opts.Origin)
		}
		if _, err := readFile(l.fsys, checkpointFile); err == nil {
			return &VerifyError{Index: 0, Offset: 0, Problem: ProblemTruncated,
				Msg: "the log file is missing but a signed checkpoint exists"}
		}
		if f, err = l.fsys.OpenFile(logFile, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("audit: open: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	l.f = f
	// Lock before writing a new log's header: another process opening
	// the empty file meanwhile fails here rather than writing its own.
	if lk, ok := f.(Locker); ok {
		if err := lk.Lock(); err != nil {
			return fmt.Errorf("audit: open: the log is in use by another process: %w", err)
		}
	}
	// A rewrite (Prune, Shred) interrupted by a crash leaves its temp file.
	_ = l.fsys.Remove(logFile + ".tmp")
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	if _, cperr := readFile(l.fsys, checkpointFile); size == 0 && errors.Is(cperr, fs.ErrNotExist) {
		// A new log, or one whose creator died before writing its
		// header (no entry can have been acknowledged): write it. An
		// empty log beside a checkpoint fails verification below.
		if err := l.writeHeader(f, opts.Origin); err != nil {
			return err
		}
		if size, err = f.Size(); err != nil {
			return fmt.Errorf("audit: open: %w", err)
		}
	}
	// The origin is the name of the verifier key kept beside the log (or,
	// for a log that has none yet, the header's); scan checks the header.
	origin := opts.Origin
	if b, err := readFile(l.fsys, pubKeyFile); err == nil {
		v, err := note.NewVerifier(string(trimNL(b)))
		if err != nil {
			return fmt.Errorf("audit: open: %s: %w", pubKeyFile, err)
		}
		if origin != "" && origin != v.Name() {
			return fmt.Errorf("audit: open: log origin is %q, not %q", v.Name(), origin)
		}
		origin = v.Name()
	} else if origin == "" {
		hdr, _, herr := readHeader(bufio.NewReader(io.NewSectionReader(f, 0, min(size, maxHeader))))
		if herr != nil {
			return &VerifyError{Index: 0, Offset: 0, Problem: ProblemFormat, Msg: herr.Error()}
		}
		origin = hdr
	}
	l.origin = origin
	if l.signer, err = NoteSigner(origin, opts.Signer); err != nil {
		return err
	}
	vkey, err := VerifierKey(origin, opts.Signer.Public().(ed25519.PublicKey))
	if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	if l.verifier, err = note.NewVerifier(vkey); err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	if err := l.keepPubKey(vkey); err != nil {
		return err
	}
	var cp Checkpoint
	signed, err := readFile(l.fsys, checkpointFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("audit: open: %w", err)
	default:
		if cp, _, err = OpenCheckpoint(signed, l.verifier); err != nil {
			return &VerifyError{Index: 0, Offset: 0, Problem: ProblemSignature, Msg: err.Error()}
		}
		l.cp, l.cpSize, l.cpRoot = signed, cp.Size, cp.Root
	}
	// Presize for records of about 300 bytes: growing a slice of
	// millions of hashes by appends would allocate five times its size.
	est := size / 300
	store := &fullStore{h: make([]tlog.Hash, 0, 2*est)}
	offsets := make([]int64, 0, est)
	anc, err := loadAnchor(ctx, l.anchor, origin)
	if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	st, err := scan(ctx, io.NewSectionReader(f, 0, size), origin, store, &offsets, cp.Size, anc.Size)
	if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	if _, err := st.check(cp, size); err != nil {
		return err
	}
	if err := st.checkAnchor(anc); err != nil {
		return err
	}
	l.anchored = anc.Size
	if l.anchor != nil && cp.Size > anc.Size {
		// A first anchor, or one a crash left behind the checkpoint.
		if err := l.anchor.Store(ctx, cp); err != nil {
			return fmt.Errorf("audit: open: %w", err)
		}
		l.anchored = cp.Size
	}
	if st.torn {
		l.trimmed = size - st.end
		err := f.Truncate(st.end)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			return fmt.Errorf("audit: open: trimming torn tail: %w", err)
		}
	}
	if _, err := f.Seek(st.end, io.SeekStart); err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	l.prev, l.n, l.end = st.prev, st.n, st.end
	l.hashes, l.offsets, l.size, l.pubEnd = store.h, offsets, st.n, st.end
	return nil
}

// writeHeader writes the header of an empty log named origin (or by the
// verifier key kept beside it) and makes it durable.
func (l *FileLog) writeHeader(f File, origin string) error {
	if origin == "" {
		if b, err := readFile(l.fsys, pubKeyFile); err == nil {
			if v, err := note.NewVerifier(string(trimNL(b))); err == nil {
				origin = v.Name()
			}
		}
	}
	if !validOrigin(origin) {
		return fmt.Errorf("audit: open: a valid Options.Origin is required to create a log (got %q)", origin)
	}
	_, err := f.Write(fileHeader(origin))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = l.fsys.SyncDir()
	}
	if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	return nil
}

// keepPubKey writes the verifier key beside the log, or checks it.
func (l *FileLog) keepPubKey(vkey string) error {
	b, err := readFile(l.fsys, pubKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(l.fsys, pubKeyFile, []byte(vkey+"\n"), 0o644); err != nil {
			return fmt.Errorf("audit: open: writing %s: %w", pubKeyFile, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: open: %w", err)
	}
	if string(trimNL(b)) != vkey {
		return fmt.Errorf("audit: open: %s holds another key than the signer's", pubKeyFile)
	}
	return nil
}

// Origin returns the log's name.
func (l *FileLog) Origin() string { return l.origin }

// VerifierKey returns the verifier key of the log's checkpoints.
func (l *FileLog) VerifierKey() note.Verifier { return l.verifier }

// Trimmed returns the bytes Open removed: a last record cut short by the
// end of the file, or a tail of zero bytes (never an acknowledged entry).
func (l *FileLog) Trimmed() int64 { return l.trimmed }

// Size returns the number of durable entries.
func (l *FileLog) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.size
}

// Append logs e and returns its index once it is on disk. A zero e.Time is
// set from Options.Now. It returns an error wrapping ErrInvalidEvent for
// an event that cannot be logged, ErrClosed after Close or a failed sync.
func (l *FileLog) Append(ctx context.Context, e Event) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC().Round(0)
	o, err := Seal(&e, l.rnd)
	if err != nil {
		return 0, fmt.Errorf("audit: append: %w", err)
	}
	r := &appendReq{time: e.Time, kind: e.Kind, open: o, commit: o.Commitment(), done: make(chan appendResult, 1)}
	select {
	case l.reqs <- r:
	case <-l.quit:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.index, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-l.done:
		select {
		case res := <-r.done:
			return res.index, res.err
		default:
			return 0, ErrClosed
		}
	}
}

// run is the committer: the only goroutine that writes the log.
func (l *FileLog) run() {
	defer close(l.done)
	batch := make([]*appendReq, 0, 64)
	for {
		select {
		case r := <-l.reqs:
			batch = l.gather(append(batch[:0], r))
			l.commit(batch)
			clear(batch)
		case op := <-l.ops:
			op()
		case <-l.timerC:
			l.timerC, l.timer = nil, nil
			_, _ = l.sign(context.Background())
		case <-l.quit:
			// Commit what was queued before Close, in batches, then stop.
			for {
				select {
				case r := <-l.reqs:
					batch = l.gather(append(batch[:0], r))
					l.commit(batch)
					clear(batch)
					continue
				default:
				}
				break
			}
			if l.timer != nil {
				l.timer.Stop()
			}
			return
		}
	}
}

func (l *FileLog) failedErr() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.failed
}

// gather adds the queued appends to batch. While more keep arriving it
// lingers a little (yielding to the appenders, at most a quarter of the
// last sync's duration), so that appenders released by the previous sync
// join this one instead of waiting a whole sync more.
func (l *FileLog) gather(batch []*appendReq) []*appendReq {
	var deadline time.Time
	idle := 0
	for len(batch) < l.maxBatch {
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
			idle = 0
			continue
		default:
		}
		if l.maxBatch == 1 || idle >= 3 {
			return batch
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(l.lastSync / 4)
		} else if time.Now().After(deadline) {
			return batch
		}
		idle++
		runtime.Gosched()
	}
	return batch
}

// commit writes a batch with one write and one sync, then acknowledges it.
func (l *FileLog) commit(batch []*appendReq) {
	if err := l.failedErr(); err != nil {
		for _, r := range batch {
			r.done <- appendResult{err: err}
		}
		return
	}
	l.buf, l.tail, l.offs = l.buf[:0], l.tail[:0], l.offs[:0]
	base := l.hashes // only the committer appends to l.hashes
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < int64(len(base)) {
				out[i] = base[x]
			} else {
				out[i] = l.tail[x-int64(len(base))]
			}
		}
		return out, nil
	})
	prev, pos := l.prev, l.end
	var leafBuf [LeafSize]byte
	for k, r := range batch {
		leaf := Leaf{Index: l.n + uint64(k), Prev: prev, Time: r.time, Kind: r.kind, Commitment: r.commit}
		raw, _ := leaf.AppendBinary(leafBuf[:0])
		before := len(l.buf)
		l.buf = appendRecord(l.buf, raw, r.open, k == 0)
		l.offs = append(l.offs, pos)
		pos += int64(len(l.buf) - before)
		h := tlog.RecordHash(raw)
		hs, err := tlog.StoredHashesForRecordHash(int64(leaf.Index), h, reader)
		if err != nil {
			panic("audit: tlog: " + err.Error()) // cannot happen: every hash read is stored
		}
		l.tail = append(l.tail, hs...)
		prev = h
	}
	_, err := l.f.Write(l.buf)
	if err == nil {
		t0 := time.Now()
		err = l.f.Sync()
		l.lastSync = time.Since(t0)
	}
	if err != nil {
		// After a failed write or sync the file's state is unknown
		// (fsyncgate): stop, and let the next Open recover.
		err = fmt.Errorf("%w: append failed, reopen the log: %v", ErrClosed, err)
		l.mu.Lock()
		l.failed = err
		l.mu.Unlock()
		for _, r := range batch {
			r.done <- appendResult{err: err}
		}
		return
	}
	l.mu.Lock()
	l.hashes = append(l.hashes, l.tail...)
	l.offsets = append(l.offsets, l.offs...)
	first := l.n
	l.n += uint64(len(batch))
	l.size, l.prev, l.end, l.pubEnd = l.n, prev, pos, pos
	l.mu.Unlock()
	for k, r := range batch {
		r.done <- appendResult{index: first + uint64(k)}
	}
	if l.interval > 0 && l.timer == nil {
		l.timer = time.NewTimer(l.interval)
		l.timerC = l.timer.C
	}
}

// sign signs (if needed) a checkpoint at the current size, has it
// cosigned, and replaces the checkpoint file. Committer only.
func (l *FileLog) sign(ctx context.Context) ([]byte, error) {
	l.mu.RLock()
	cp, cpSize, failed := l.cp, l.cpSize, l.failed
	l.mu.RUnlock()
	if failed != nil {
		return nil, failed
	}
	if cp != nil && cpSize == l.n {
		return cp, errors.Join(l.lastWitEr, l.storeAnchor(ctx, cpSize))
	}
	if l.n == 0 {
		return nil, fmt.Errorf("audit: checkpoint of an empty log: %w", ErrNotFound)
	}
	store := &fullStore{h: l.hashes}
	root, err := tlog.TreeHash(int64(l.n), store)
	if err != nil {
		return nil, err
	}
	// Never sign a checkpoint inconsistent with the previous one
	// (tlog-checkpoint: a log MUST NOT).
	if cp != nil {
		old, err := tlog.TreeHash(int64(cpSize), store)
		if err != nil || old != l.cpRoot || cpSize > l.n {
			return nil, fmt.Errorf("audit: checkpoint: refusing to sign: the tree no longer extends the last checkpoint (size %d): %w", cpSize, ErrCorrupt)
		}
	}
	c := Checkpoint{Origin: l.origin, Size: l.n, Root: root}
	signed, err := SignCheckpoint(c, l.signer)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint: sign: %w", err)
	}
	signed, l.lastWitEr = l.wit.Cosign(ctx, signed, l.n, func(_ context.Context, old uint64) (tlog.TreeProof, error) {
		return tlog.ProveTree(int64(l.n), int64(old), store)
	})
	if err := writeFileAtomic(l.fsys, checkpointFile, signed, 0o644); err != nil {
		return nil, fmt.Errorf("audit: checkpoint: %w", err)
	}
	l.mu.Lock()
	l.cp, l.cpSize, l.cpRoot = signed, l.n, root
	l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer, l.timerC = nil, nil
	}
	return signed, errors.Join(l.lastWitEr, l.storeAnchor(ctx, l.n))
}

// storeAnchor stores the signed checkpoint of size n in the anchor, unless
// it is there already. Committer only.
func (l *FileLog) storeAnchor(ctx context.Context, n uint64) error {
	if l.anchor == nil || l.anchored >= n {
		return nil
	}
	l.mu.RLock()
	c := Checkpoint{Origin: l.origin, Size: l.cpSize, Root: l.cpRoot}
	l.mu.RUnlock()
	if err := l.anchor.Store(ctx, c); err != nil {
		return fmt.Errorf("audit: checkpoint: anchor: %w", err)
	}
	l.anchored = c.Size
	return nil
}

// do runs f on the committer goroutine.
func (l *FileLog) do(ctx context.Context, f func()) error {
	ran := make(chan struct{})
	select {
	case l.ops <- func() { f(); close(ran) }:
	case <-l.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ran
	return nil
}

// Checkpoint signs a checkpoint over every durable entry (unless the last
// one already covers them) and returns it. Witness failures are returned
// alongside a checkpoint that carries the log's signature only, and an
// anchor that could not be stored (Options.Anchor) alongside the signed
// checkpoint (the next checkpoint stores it again).
func (l *FileLog) Checkpoint(ctx context.Context) ([]byte, error) {
	var signed []byte
	var err error
	if derr := l.do(ctx, func() { signed, err = l.sign(ctx) }); derr != nil {
		return nil, derr
	}
	return signed, err
}

// LastCheckpoint returns the latest signed checkpoint (nil if none) and
// the size it covers, without signing.
func (l *FileLog) LastCheckpoint() ([]byte, uint64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cp, l.cpSize
}

// Entry reads entry i back and checks it against its leaf.
func (l *FileLog) Entry(ctx context.Context, i uint64) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.f == nil {
		return Entry{}, ErrClosed
	}
	if i >= l.size {
		return Entry{}, fmt.Errorf("audit: entry %d of %d: %w", i, l.size, ErrNotFound)
	}
	off, end := l.offsets[i], l.pubEnd
	if i+1 < uint64(len(l.offsets)) {
		end = l.offsets[i+1]
	}
	buf := make([]byte, end-off)
	if _, err := l.f.ReadAt(buf, off); err != nil {
		return Entry{}, fmt.Errorf("audit: entry %d: %w", i, err)
	}
	return entryFromRecord(i, off, buf)
}

func entryFromRecord(i uint64, off int64, buf []byte) (Entry, error) {
	bad := func(msg string) error {
		return &VerifyError{Index: i, Offset: off, Problem: ProblemContent, Msg: msg}
	}
	if len(buf) < recHeadSize || crc32.Checksum(buf[recHeadSize:], castagnoli) != beUint32(buf[4:]) {
		return Entry{}, bad("record checksum mismatch")
	}
	rec, err := decodeBody(buf[recHeadSize:])
	if err != nil {
		return Entry{}, bad(err.Error())
	}
	en := Entry{Leaf: rec.leaf, Opening: rec.open}
	if rec.open == nil {
		en.Pruned = true
		en.Event = Event{Kind: rec.leaf.Kind, Time: rec.leaf.Time}
		return en, nil
	}
	if en.Event, en.Shredded, err = rec.open.Open(&rec.leaf); err != nil {
		return Entry{}, bad(err.Error())
	}
	return en, nil
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// hashReader reads the stored hashes of the first size entries; the caller
// holds mu.
func (l *FileLog) hashReader() tlog.HashReader { return &fullStore{h: l.hashes} }

// ProveInclusion proves entry index is in the tree of the given size.
func (l *FileLog) ProveInclusion(ctx context.Context, index, size uint64) (tlog.RecordProof, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if index >= size || size > l.size {
		return nil, fmt.Errorf("audit: prove entry %d in size %d (log size %d): %w", index, size, l.size, ErrNotFound)
	}
	return tlog.ProveRecord(int64(size), int64(index), l.hashReader())
}

// ProveConsistency proves the tree of newSize extends that of oldSize.
func (l *FileLog) ProveConsistency(ctx context.Context, oldSize, newSize uint64) (tlog.TreeProof, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if oldSize == 0 || oldSize > newSize || newSize > l.size {
		return nil, fmt.Errorf("audit: prove size %d extends %d (log size %d): %w", newSize, oldSize, l.size, ErrNotFound)
	}
	return tlog.ProveTree(int64(newSize), int64(oldSize), l.hashReader())
}

// Receipt returns a self-contained receipt for entry index against the
// latest checkpoint, signing one first if the entry is not yet covered.
func (l *FileLog) Receipt(ctx context.Context, index uint64) (*Receipt, error) {
	cp, cpSize := l.LastCheckpoint()
	if index >= cpSize {
		var err error
		if cp, err = l.Checkpoint(ctx); cp == nil {
			return nil, err
		}
		c, _, err := OpenCheckpoint(cp, l.verifier)
		if err != nil {
			return nil, err
		}
		cpSize = c.Size
	}
	return BuildReceipt(ctx, l, index, cp, cpSize)
}

// BuildReceipt assembles the receipt of entry index from any Log, against
// the signed checkpoint cp of size cpSize (which must cover the entry).
func BuildReceipt(ctx context.Context, lg Log, index uint64, cp []byte, cpSize uint64) (*Receipt, error) {
	if index >= cpSize {
		return nil, fmt.Errorf("audit: receipt: entry %d not covered by a checkpoint of size %d: %w", index, cpSize, ErrNotFound)
	}
	en, err := lg.Entry(ctx, index)
	if err != nil {
		return nil, err
	}
	proof, err := lg.ProveInclusion(ctx, index, cpSize)
	if err != nil {
		return nil, err
	}
	r := &Receipt{Leaf: en.Leaf, Proof: proof, Checkpoint: cp}
	r.Opening = en.Opening
	return r, nil
}

// Close commits the appends already queued, signs a final checkpoint and
// closes the files. It is safe to call more than once.
func (l *FileLog) Close() error {
	var err error
	l.quitOnce.Do(func() {
		close(l.quit)
		<-l.done
		if l.failedErr() == nil && l.n > 0 {
			_, err = l.sign(context.Background())
		}
		l.mu.Lock()
		if cerr := l.f.Close(); err == nil {
			err = cerr
		}
		l.f = nil
		if l.failed == nil {
			l.failed = ErrClosed
		}
		l.mu.Unlock()
	})
	return err
}

func (l *FileLog) String() string {
	return "audit.FileLog(" + l.origin + ", " + strconv.FormatUint(l.Size(), 10) + " entries)"
}
