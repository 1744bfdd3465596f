package audit

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Problem classifies what is wrong with a log.
type Problem string

// Problems reported by the verifier and by Open.
const (
	ProblemFormat       Problem = "format"       // a header or record that does not decode
	ProblemContent      Problem = "content"      // a record whose bytes or commitment do not match
	ProblemOrder        Problem = "order"        // an entry earlier than expected (duplicated or reordered)
	ProblemGap          Problem = "gap"          // an entry later than expected (entries missing)
	ProblemChain        Problem = "chain"        // an entry not committing to the hash of the one before it
	ProblemSignature    Problem = "signature"    // a checkpoint whose signature does not verify
	ProblemInconsistent Problem = "inconsistent" // entries whose tree root differs from the signed checkpoint's
	ProblemTruncated    Problem = "truncated"    // fewer entries than the signed checkpoint covers
)

// Sentinel errors; a *VerifyError wraps one of them.
var (
	// ErrCorrupt: an entry is missing or altered (format, content,
	// order, gap, chain, inconsistent).
	ErrCorrupt = errors.New("audit: log corrupt")
	// ErrRollback: the log is shorter than its last signed checkpoint.
	ErrRollback = errors.New("audit: log rolled back or truncated")
)

// VerifyError reports the first bad entry of a log: its index, the byte
// offset of its record in the log file, and what is wrong.
type VerifyError struct {
	Index   uint64
	Offset  int64
	Problem Problem
	Msg     string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("entry %d at offset %d: %s: %s", e.Index, e.Offset, e.Problem, e.Msg)
}

// Unwrap returns ErrRollback, ErrSignature or ErrCorrupt.
func (e *VerifyError) Unwrap() error {
	switch e.Problem {
	case ProblemTruncated:
		return ErrRollback
	case ProblemSignature:
		return ErrSignature
	}
	return ErrCorrupt
}

// Report is the result of a verification that found no problem.
type Report struct {
	Origin     string
	Entries    uint64     // entries that verified
	Root       tlog.Hash  // tree root over all of them
	Checkpoint Checkpoint // the signed checkpoint checked (zero Size if none)
	Cosigned   int        // listed witnesses whose cosignatures verified on the checkpoint
	// Cosignatures are those cosignatures, with their times
	// (cosignature/v1).
	Cosignatures []Cosignature
	Pruned       uint64 // entries whose payload was pruned (leaf only)
	Shredded     uint64 // entries whose subject was crypto-shredded
	// TornBytes is a torn, unacknowledged tail after the last entry that
	// the next Open will trim (0 for a cleanly written log).
	TornBytes int64
}

// Unsigned returns the number of entries not yet covered by a signed
// checkpoint; the next checkpoint (at the latest on Close) covers them.
func (r *Report) Unsigned() uint64 { return r.Entries - r.Checkpoint.Size }

// hashStore keeps the tree's stored hashes while scanning.
type hashStore interface {
	tlog.HashReader
	add(hs []tlog.Hash)
}

// recordAdder is implemented by stores that compute the stored hashes of a
// new record themselves (faster than tlog.StoredHashesForRecordHash, same
// result: see TestFrontierMatchesTlog).
type recordAdder interface {
	addRecord(n int64, h tlog.Hash)
}

// fullStore keeps every stored hash (needed to prove at any size).
type fullStore struct{ h []tlog.Hash }

func (s *fullStore) add(hs []tlog.Hash) { s.h = append(s.h, hs...) }
func (s *fullStore) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(s.h)) {
			return nil, fmt.Errorf("audit: hash %d not stored", x)
		}
		out[i] = s.h[x]
	}
	return out, nil
}

// addRecord stores record n's hash and the subtree hashes it completes,
// as tlog.StoredHashesForRecordHash would, without allocating.
func (s *fullStore) addRecord(n int64, h tlog.Hash) {
	s.h = append(s.h, h)
	for lv := 0; (n>>lv)&1 == 1; lv++ {
		h = tlog.NodeHash(s.h[tlog.StoredHashIndex(lv, (n>>lv)-1)], h)
		s.h = append(s.h, h)
	}
}

// frontierStore keeps only the latest stored hash of each tree level: all
// that appending and the current root need. Memory is O(log n).
type frontierStore struct {
	next  int64 // stored-hash index of the next hash added
	idx   [64]int64
	hash  [64]tlog.Hash
	level [64]bool
}

func (s *frontierStore) add(hs []tlog.Hash) {
	for _, h := range hs {
		lv, _ := tlog.SplitStoredHashIndex(s.next)
		s.idx[lv], s.hash[lv], s.level[lv] = s.next, h, true
		s.next++
	}
}

// addRecord stores record n's hash and the subtree hashes it completes:
// the left sibling at each level is the latest hash stored at that level.
func (s *frontierStore) addRecord(n int64, h tlog.Hash) {
	var hs [64]tlog.Hash
	k := 0
	hs[0] = h
	for lv := 0; (n>>lv)&1 == 1; lv++ {
		h = tlog.NodeHash(s.hash[lv], h)
		k++
		hs[k] = h
	}
	for lv := 0; lv <= k; lv++ {
		s.idx[lv], s.hash[lv], s.level[lv] = s.next, hs[lv], true
		s.next++
	}
}

func (s *frontierStore) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		lv, _ := tlog.SplitStoredHashIndex(x)
		if !s.level[lv] || s.idx[lv] != x {
			return nil, fmt.Errorf("audit: hash %d not in frontier", x)
		}
		out[i] = s.hash[lv]
	}
	return out, nil
}

// scanState is the outcome of a scan.
type scanState struct {
	origin   string
	n        uint64    // entries that passed
	prev     tlog.Hash // leaf hash of entry n-1 (genesis when n == 0)
	end      int64     // offset just after entry n-1
	pruned   uint64
	shredded uint64
	rootAt   map[uint64]tlog.Hash // roots at the requested sizes
	lastOff  map[uint64]int64     // offset of entry size-1, at the requested sizes
	bad      *VerifyError         // first problem, nil if none
	torn     bool                 // bad is a torn, unacknowledged tail
	cov      coverage             // prune and shred events, what is missing
	shAt     []uint64             // shredded entries
	shOff    []int64              // their offsets
	r        *io.SectionReader    // the file scanned
}

// scan reads a whole log file, checking every record, and stops at the
// first problem. offsets, if not nil, receives each record's offset.
// rootsAt lists sizes at which to remember the tree root.
//
// It is a three-stage pipeline over chunks of records: this goroutine
// reads, frames and orders; a second checks each event against its leaf's
// commitment; a third checks the chain and builds the tree. The problem
// reported is the earliest any stage found.
func scan(ctx context.Context, r *io.SectionReader, wantOrigin string, store hashStore, offsets *[]int64, rootsAt ...uint64) (*scanState, error) {
	br := bufio.NewReaderSize(r, int(min(1<<20, max(4096, r.Size()))))
	st := &scanState{rootAt: map[uint64]tlog.Hash{}, lastOff: map[uint64]int64{}, r: r}
	want := map[uint64]bool{}
	for _, s := range rootsAt {
		want[s] = true
	}
	origin, hlen, err := readHeader(br)
	if err == nil && origin != wantOrigin {
		err = fmt.Errorf("header: log origin %q is not the key's name %q", origin, wantOrigin)
	}
	if err != nil {
		st.bad = &VerifyError{Index: 0, Offset: 0, Problem: ProblemFormat, Msg: err.Error()}
		return st, nil
	}
	st.origin, st.end, st.prev = origin, hlen, Genesis(origin)
	pl := newPipeline(Genesis(origin), store, rootsAt)
	rr := &recordReader{r: br, off: hlen, rawSubject: true}
	var ctxErr error
	func() {
		for {
			if st.n%4096 == 0 {
				if ctxErr = ctx.Err(); ctxErr != nil {
					return
				}
			}
			rec, size, err := rr.next()
			if err == io.EOF {
				return
			}
			fail := func(p Problem, format string, a ...any) {
				st.bad = &VerifyError{Index: st.n, Offset: st.end, Problem: p, Msg: fmt.Sprintf(format, a...)}
			}
			if err != nil {
				st.torn = false
				switch tornTail(r, st.end, errors.Is(err, errTorn)) {
				case tailTorn:
					fail(ProblemTruncated, "%v", err)
					st.torn = true
				case tailZero:
					fail(ProblemTruncated, "the file ends in %d zero bytes where records should be (data never written)", r.Size()-st.end)
					st.torn = true
				case tailLength:
					fail(ProblemContent, "record length runs past the end of the file, but the bytes there are a complete record: its length was altered")
				default:
					fail(ProblemContent, "%v", err)
				}
				return
			}
			l := &rec.leaf
			switch {
			case l.Index < st.n:
				fail(ProblemOrder, "found entry %d (duplicated or reordered)", l.Index)
				return
			case l.Index > st.n:
				fail(ProblemGap, "found entry %d (entries missing or reordered)", l.Index)
				return
			}
			if rec.open == nil {
				st.pruned++
				st.cov.addPruned(l, st.end)
			} else if l.Kind == KindAuditPruned || l.Kind == KindAuditShredded {
				st.cov.addEvent(l, rec.open.Payload)
			}
			pl.add(st.n, st.end, l, rec.open, rec.subj)
			if offsets != nil {
				*offsets = append(*offsets, st.end)
			}
			if want[st.n+1] {
				st.lastOff[st.n+1] = st.end
			}
			st.n++
			st.end += size
		}
	}()
	res := pl.finish()
	if ctxErr != nil {
		return nil, ctxErr
	}
	if res.err != nil {
		return nil, res.err
	}
	st.shredded, st.prev, st.rootAt = res.shredded, res.prev, res.rootAt
	st.shAt, st.shOff = res.shAt, res.shOff
	// The first problem is the earliest, whichever stage found it.
	if res.bad != nil && (st.bad == nil || res.bad.Index < st.bad.Index) {
		st.bad, st.torn = res.bad, false
	}
	return st, nil
}

// chunk is a batch of records travelling through the pipeline.
type chunk struct {
	idx   []uint64
	offs  []int64
	leafs []Leaf
	has   []bool // an opening was stored (the entry is not pruned)
	opens []Opening
	subjs [][]byte
	ends  []int // end of each payload and subject in arena
	arena []byte
}

const chunkSize = 512

type pipelineResult struct {
	bad      *VerifyError
	err      error
	shredded uint64
	shAt     []uint64 // shredded entries and their offsets
	shOff    []int64
	prev     tlog.Hash
	rootAt   map[uint64]tlog.Hash
}

type pipeline struct {
	content chan *chunk
	tree    chan *chunk
	free    chan *chunk
	done    chan struct{}
	cur     *chunk
	// written by the content stage
	contentBad *VerifyError
	shredded   uint64
	shAt       []uint64
	shOff      []int64
	// written by the tree stage
	res   pipelineResult
	store hashStore
	want  map[uint64]bool
}

func newPipeline(genesis tlog.Hash, store hashStore, rootsAt []uint64) *pipeline {
	p := &pipeline{content: make(chan *chunk, 2), tree: make(chan *chunk, 2), free: make(chan *chunk, 6),
		done: make(chan struct{}), store: store, want: map[uint64]bool{}}
	for range 6 {
		p.free <- &chunk{}
	}
	for _, s := range rootsAt {
		p.want[s] = true
	}
	p.res.prev, p.res.rootAt = genesis, map[uint64]tlog.Hash{}
	p.remember(0)
	p.cur = <-p.free
	go p.runContent()
	go p.runTree()
	return p
}

// runContent checks each event against its leaf's commitment.
func (p *pipeline) runContent() {
	defer close(p.tree)
	var ck checker
	for ch := range p.content {
		for i := range ch.idx {
			if p.contentBad != nil {
				break
			}
			if !ch.has[i] {
				continue
			}
			sh, err := ck.check(&ch.opens[i], ch.subjs[i], &ch.leafs[i])
			if err != nil {
				p.contentBad = &VerifyError{Index: ch.idx[i], Offset: ch.offs[i], Problem: ProblemContent, Msg: err.Error()}
			} else if sh {
				p.shredded++
				p.shAt = append(p.shAt, ch.idx[i])
				p.shOff = append(p.shOff, ch.offs[i])
			}
		}
		p.tree <- ch
	}
}

// runTree checks the chain and adds each leaf to the tree.
func (p *pipeline) runTree() {
	defer close(p.done)
	fast, _ := p.store.(recordAdder)
	var raw [LeafSize]byte
	for ch := range p.tree {
		for i := range ch.idx {
			if p.res.bad != nil || p.res.err != nil {
				break
			}
			l := &ch.leafs[i]
			n := ch.idx[i]
			if l.Prev != p.res.prev {
				p.res.bad = &VerifyError{Index: n, Offset: ch.offs[i], Problem: ProblemChain,
					Msg: fmt.Sprintf("does not commit to the hash of entry %d", int64(n)-1)}
				break
			}
			b, _ := l.AppendBinary(raw[:0])
			h := tlog.RecordHash(b)
			if fast != nil {
				fast.addRecord(int64(n), h)
			} else {
				hs, err := tlog.StoredHashesForRecordHash(int64(n), h, p.store)
				if err != nil {
					p.res.err = err
					break
				}
				p.store.add(hs)
			}
			p.res.prev = h
			p.remember(n + 1)
		}
		ch.idx, ch.offs, ch.leafs, ch.has, ch.opens, ch.subjs = ch.idx[:0], ch.offs[:0], ch.leafs[:0], ch.has[:0], ch.opens[:0], ch.subjs[:0]
		ch.ends, ch.arena = ch.ends[:0], ch.arena[:0]
		p.free <- ch
	}
}

func (p *pipeline) remember(size uint64) {
	if p.want[size] && p.res.err == nil {
		h, err := tlog.TreeHash(int64(size), p.store)
		if err != nil {
			p.res.err = err
			return
		}
		p.res.rootAt[size] = h
	}
}

// add queues one entry; o (nil when pruned) and subj are copied.
func (p *pipeline) add(i uint64, off int64, l *Leaf, o *Opening, subj []byte) {
	ch := p.cur
	ch.idx = append(ch.idx, i)
	ch.offs = append(ch.offs, off)
	ch.leafs = append(ch.leafs, *l)
	ch.has = append(ch.has, o != nil)
	if o != nil {
		ch.arena = append(ch.arena, o.Payload...)
		ch.ends = append(ch.ends, len(ch.arena))
		ch.arena = append(ch.arena, subj...)
		ch.opens = append(ch.opens, Opening{Salt: o.Salt, SubjectSalt: o.SubjectSalt})
	} else {
		ch.ends = append(ch.ends, len(ch.arena))
		ch.opens = append(ch.opens, Opening{})
	}
	ch.ends = append(ch.ends, len(ch.arena))
	if len(ch.idx) == chunkSize {
		p.send()
	}
}

func (p *pipeline) send() {
	ch := p.cur
	start := 0
	for i := range ch.opens {
		pe, se := ch.ends[2*i], ch.ends[2*i+1]
		ch.opens[i].Payload = ch.arena[start:pe]
		ch.subjs = append(ch.subjs, ch.arena[pe:se])
		start = se
	}
	p.content <- ch
	p.cur = <-p.free
}

// finish waits for every stage and returns the earliest problem.
func (p *pipeline) finish() pipelineResult {
	if len(p.cur.idx) > 0 {
		p.send()
	}
	close(p.content)
	<-p.done
	res := p.res
	res.shredded, res.shAt, res.shOff = p.shredded, p.shAt, p.shOff
	if p.contentBad != nil && (res.bad == nil || p.contentBad.Index < res.bad.Index) {
		res.bad = p.contentBad
	}
	return res
}

// Kinds of damaged end of a log file (see tornTail).
const (
	tailCorrupt = iota // a complete record that fails its checks: corruption
	tailTorn           // the last record, cut short by the end of the file
	tailZero           // zero bytes to the end (allocated, never written)
	tailLength         // a complete record whose length field was altered
)

// tornTail classifies the damage found at offset off of a log file: cut
// tells that the record there ran past the end of the file. A crash can
// leave only the last record cut short (a write the file system did not
// finish), or a tail of zeros (the file grew but the data never reached
// the disk). Everything else, a complete record failing its checksum
// above all, is corruption of a record that may have been acknowledged:
// never trimmed.
func tornTail(r io.ReaderAt, off int64, cut bool) int {
	size := int64(0)
	if sr, ok := r.(interface{ Size() int64 }); ok {
		size = sr.Size()
	}
	n := size - off
	if n <= 0 || n > 64<<20 || (cut && n > int64(maxRecord+recHeadSize)) {
		return tailCorrupt
	}
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, off); err != nil && err != io.EOF {
		return tailCorrupt
	}
	zero := true
	for _, c := range tail {
		if c != 0 {
			zero = false
			break
		}
	}
	switch {
	case zero:
		return tailZero
	case !cut:
		return tailCorrupt
	case len(tail) >= recHeadSize+LeafSize+1 &&
		crc32.Checksum(tail[recHeadSize:], castagnoli) == binary.BigEndian.Uint32(tail[4:]):
		return tailLength
	}
	return tailTorn
}

// Log file names inside a log directory.
const (
	logFile        = "log"
	checkpointFile = "checkpoint"
	pubKeyFile     = "checkpoint.pub" // verifier key of the checkpoint signer
)

// VerifyFS verifies the log stored in fsys in one streaming pass, in
// O(log n) memory: the header, every record (checksum, index order, chain,
// commitment to its event, subject commitment), the tree root against the
// signed checkpoint (signature by key, size, root), and the witness
// cosignatures listed, every one of which is required (ErrQuorum). key nil
// uses the verifier key kept beside the log. The first problem is returned
// as a *VerifyError naming the entry.
func VerifyFS(ctx context.Context, fsys FS, key note.Verifier, witnesses ...note.Verifier) (*Report, error) {
	return Verify(ctx, fsys, VerifyOptions{Key: key, Witnesses: witnesses})
}

// VerifyOptions configures Verify. The zero value checks the log against
// the key and checkpoint kept beside it.
type VerifyOptions struct {
	Key note.Verifier // nil: the verifier key kept beside the log
	// Witnesses are the witnesses whose cosignatures count (see
	// Cosignature: cosignature/v1 keys, or plain Ed25519 note keys).
	// Unless Quorum of them (all when Quorum is 0) cosigned the signed
	// checkpoint, Verify fails with ErrQuorum.
	Witnesses []note.Verifier
	Quorum    int
	// Known are signed checkpoints of this log kept elsewhere (an
	// auditor's receipt, a witness's copy, one sent off-site). The log
	// must still hold and extend each: this is what detects a rollback
	// that the log's own checkpoint cannot (ProblemTruncated,
	// ProblemInconsistent).
	Known [][]byte
	// Anchor, if not nil, holds the latest checkpoint's size and root
	// kept outside the log's directory: the log must hold and extend it
	// (ErrRollback when behind). An anchor that holds nothing is skipped.
	Anchor Anchor
}

// Verify is VerifyFS with options.
func Verify(ctx context.Context, fsys FS, opts VerifyOptions) (*Report, error) {
	key, err := keyFor(fsys, opts.Key)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	var cp Checkpoint
	var cosigs []Cosignature
	signed, err := readFile(fsys, checkpointFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("audit: verify: %w", err)
	default:
		var n *note.Note
		cp, n, err = OpenCheckpoint(signed, key, opts.Witnesses...)
		if err != nil {
			return nil, &VerifyError{Index: 0, Offset: 0, Problem: ProblemSignature, Msg: err.Error()}
		}
		cosigs = cosignatures(n, opts.Witnesses)
	}
	known := make([]Checkpoint, len(opts.Known))
	sizes := []uint64{cp.Size}
	for i, k := range opts.Known {
		if known[i], _, err = OpenCheckpoint(k, key); err != nil {
			return nil, fmt.Errorf("audit: verify: known checkpoint %d: %w", i, err)
		}
		sizes = append(sizes, known[i].Size)
	}
	anc, err := loadAnchor(ctx, opts.Anchor, key.Name())
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	sizes = append(sizes, anc.Size)
	f, err := fsys.OpenFile(logFile, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	store := &frontierStore{}
	st, err := scan(ctx, io.NewSectionReader(f, 0, size), key.Name(), store, nil, sizes...)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	rep, err := st.check(cp, size)
	if err != nil {
		return nil, err
	}
	if err := st.checkAnchor(anc); err != nil {
		return nil, err
	}
	for i, k := range known {
		if k.Size > st.n {
			return nil, &VerifyError{Index: st.n, Offset: st.end, Problem: ProblemTruncated,
				Msg: fmt.Sprintf("log ends at %d entries; known checkpoint %d covers %d (rolled back)", st.n, i, k.Size)}
		}
		if k.Size > 0 && st.rootAt[k.Size] != k.Root {
			return nil, &VerifyError{Index: k.Size - 1, Offset: st.lastOff[k.Size], Problem: ProblemInconsistent,
				Msg: fmt.Sprintf("tree root of the first %d entries differs from known checkpoint %d (history rewritten)", k.Size, i)}
		}
	}
	if rep.Root, err = tlog.TreeHash(int64(rep.Entries), store); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	rep.Cosigned, rep.Cosignatures = len(cosigs), cosigs
	if err := checkQuorum(cosigs, opts.Witnesses, opts.Quorum); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	return rep, nil
}

// check turns a scan into a report or the first problem, against the
// signed checkpoint cp (zero if none) and the expected origin.
func (st *scanState) check(cp Checkpoint, fileSize int64) (*Report, error) {
	if st.bad != nil && !(st.torn && st.bad.Index >= cp.Size) {
		if st.torn && st.bad.Index < cp.Size {
			st.bad.Msg = fmt.Sprintf("%s; the signed checkpoint covers %d entries", st.bad.Msg, cp.Size)
		}
		return nil, st.bad
	}
	if st.n < cp.Size {
		return nil, &VerifyError{Index: st.n, Offset: st.end, Problem: ProblemTruncated,
			Msg: fmt.Sprintf("log ends at %d entries; the signed checkpoint covers %d", st.n, cp.Size)}
	}
	if cp.Size > 0 && st.rootAt[cp.Size] != cp.Root {
		return nil, &VerifyError{Index: cp.Size - 1, Offset: st.lastOff[cp.Size], Problem: ProblemInconsistent,
			Msg: fmt.Sprintf("tree root of the first %d entries differs from the signed checkpoint", cp.Size)}
	}
	// A payload or subject link may be missing only where a signed prune
	// or shred event covers it.
	pr := st.cov.pruneProblem(st.r, st.end, cp.Size)
	if sh := st.cov.shredProblem(st.shAt, st.shOff, cp.Size); sh != nil && (pr == nil || sh.Index < pr.Index) {
		pr = sh
	}
	if pr != nil {
		return nil, pr
	}
	rep := &Report{Origin: st.origin, Entries: st.n, Checkpoint: cp, Pruned: st.pruned, Shredded: st.shredded}
	if st.torn {
		rep.TornBytes = fileSize - st.end
	}
	return rep, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
