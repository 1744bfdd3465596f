package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AccessKinds are the kinds of the access log proper (who opened or was
// refused what), the log the CNIL's 2021 recommendation keeps 6 to 12
// months. Prune them alone so that the evidence of consent, notice,
// objection and deletion stays as long as the recordings it justifies.
var AccessKinds = []Kind{KindAccess, KindAccessDenied}

// PruneOptions says what a prune removes: the openings of the entries
// logged before Before, of Kinds (every kind when empty), except those
// Keep keeps. The events that record prunes and shreds
// ([KindAuditPruned], [KindAuditShredded]) are never pruned: they are
// what allows the payloads and subject links they cover to be absent.
type PruneOptions struct {
	Before time.Time // prune entries whose time is strictly before
	Kinds  []Kind    // only these kinds (none: every kind)
	// Keep, if not nil, is asked about each entry that would be pruned
	// (its event, subject included) and returns why it must stay, or ""
	// to let it go: e.g. the evidence of a recording still catalogued
	// (R26). It is called on the log's committer goroutine, twice per
	// entry (to plan, then to prune): it must be quick, must not use the
	// log, and must answer the same both times.
	Keep func(Event) string
	// Actor is who pruned, logged in the prune event ("system" if empty).
	Actor string
}

// Matches reports whether an entry of kind k logged at t is in the range
// of the prune (Keep aside).
func (o *PruneOptions) Matches(k Kind, t time.Time) bool {
	return t.Before(o.Before) && PruneMatches(k, o.Kinds)
}

// PruneResult is what a prune did.
type PruneResult struct {
	Pruned int            // entries whose opening was deleted
	Kept   map[string]int // entries in range kept, by Keep's reason
	Event  uint64         // index of the KindAuditPruned event
}

// Pruner is implemented by logs that prune with PruneOptions (FileLog and
// audittest.MemLog do). Use [PruneWith] to call it on any Log.
type Pruner interface {
	PruneWith(ctx context.Context, opts PruneOptions) (PruneResult, error)
}

// ErrKeepUnsupported: PruneWith was asked to keep entries of a log that
// cannot (it implements only Log.Prune).
var ErrKeepUnsupported = errors.New("audit: this log cannot keep entries while pruning")

// PruneWith prunes l with opts: through l's own PruneWith if it has one,
// else through Log.Prune when opts needs nothing more (no Keep).
func PruneWith(ctx context.Context, l Log, opts PruneOptions) (PruneResult, error) {
	if p, ok := l.(Pruner); ok {
		return p.PruneWith(ctx, opts)
	}
	if opts.Keep != nil {
		return PruneResult{}, fmt.Errorf("audit: prune: %w", ErrKeepUnsupported)
	}
	n, err := l.Prune(ctx, opts.Before, opts.Kinds...)
	return PruneResult{Pruned: n}, err
}

// Prune is PruneWith(ctx, PruneOptions{Before: cutoff, Kinds: kinds}).
func (l *FileLog) Prune(ctx context.Context, cutoff time.Time, kinds ...Kind) (int, error) {
	res, err := l.PruneWith(ctx, PruneOptions{Before: cutoff, Kinds: kinds})
	return res.Pruned, err
}

// PruneWith deletes the openings of the entries opts selects (the audit
// log's own retention). Leaves stay, so the chain, the tree, old
// checkpoints and receipts of the remaining entries all still verify.
//
// Pruning is an event: the KindAuditPruned entry (cutoff, kinds, the range
// of entries it covers, actor, count) is appended and signed into a
// checkpoint first; only then are the openings deleted (the file is
// rewritten atomically). The verifier refuses a missing payload that no
// such signed event covers. A crash in between leaves payloads that were
// allowed to go: harmless.
func (l *FileLog) PruneWith(ctx context.Context, opts PruneOptions) (PruneResult, error) {
	res := PruneResult{Kept: map[string]int{}}
	var upto uint64
	var kerr error
	keep := func(rec *record) (string, bool) {
		if rec.open == nil || !opts.Matches(rec.leaf.Kind, rec.leaf.Time) {
			return "", false
		}
		if opts.Keep == nil {
			return "", true
		}
		e, _, err := rec.open.Open(&rec.leaf)
		if err != nil {
			kerr = fmt.Errorf("entry %d: %w", rec.leaf.Index, err)
			return "", false
		}
		if why := opts.Keep(e); why != "" {
			return why, false
		}
		return "", true
	}
	err := l.do(ctx, func() {
		if kerr = l.failedErr(); kerr != nil {
			return
		}
		upto = l.n
		kerr = l.eachLocked(func(rec *record) {
			if why, ok := keep(rec); ok {
				res.Pruned++
			} else if why != "" {
				res.Kept[why]++
			}
		})
	})
	if err == nil {
		err = kerr
	}
	if err != nil {
		return PruneResult{}, fmt.Errorf("audit: prune: %w", err)
	}
	planned := res.Pruned
	if res.Event, err = l.appendSigned(ctx, PruneEvent(opts, upto, planned)); err != nil {
		return PruneResult{}, fmt.Errorf("audit: prune: %w", err)
	}
	if planned == 0 {
		return res, nil
	}
	n, err := l.rewrite(ctx, func(rec *record) (*Opening, bool) {
		if rec.leaf.Index >= upto {
			return rec.open, false
		}
		if _, ok := keep(rec); ok {
			return nil, true
		}
		return rec.open, false
	})
	if err == nil {
		err = kerr
	}
	if err != nil {
		return PruneResult{}, fmt.Errorf("audit: prune: %w", err)
	}
	res.Pruned = n
	return res, nil
}

// appendSigned appends e and signs a checkpoint covering it (witness
// failures aside): the event is then part of the signed history.
func (l *FileLog) appendSigned(ctx context.Context, e Event) (uint64, error) {
	i, err := l.Append(ctx, e)
	if err != nil {
		return 0, err
	}
	if cp, err := l.Checkpoint(ctx); cp == nil {
		return 0, err
	}
	return i, nil
}

// PruneMatches reports whether an entry of kind k is pruned by a Prune
// limited to kinds (every kind when kinds is empty). The events recording
// prunes and shreds never are. Log implementations share it.
func PruneMatches(k Kind, kinds []Kind) bool {
	if k == KindAuditPruned || k == KindAuditShredded {
		return false
	}
	return len(kinds) == 0 || slices.Contains(kinds, k)
}

// PruneEvent is the KindAuditPruned entry that records a prune, appended
// before any opening is deleted: it covers the entries below index upto
// (the log's size when the prune began) that opts matches, and records the
// planned count. Log implementations share it.
func PruneEvent(opts PruneOptions, upto uint64, count int) Event {
	e := PrunedEvent(opts.Before, count, opts.Kinds)
	e.Attrs = slices.Insert(e.Attrs, 2, Attr{Key: "upto", Value: strconv.FormatUint(upto, 10)})
	if opts.Actor != "" {
		e.Actor = opts.Actor
	}
	return e
}

// PrunedEvent is the KindAuditPruned entry of a prune without a range
// (the form logged before prunes were signed first): it covers the
// entries before its own index.
func PrunedEvent(cutoff time.Time, n int, kinds []Kind) Event {
	e := Event{Kind: KindAuditPruned, Actor: "system", Reason: "audit log retention",
		Attrs: []Attr{{Key: "before", Value: cutoff.UTC().Format(time.RFC3339Nano)}, {Key: "count", Value: strconv.Itoa(n)}}}
	if len(kinds) > 0 {
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = k.String()
		}
		e.Attrs = append(e.Attrs, Attr{Key: "kinds", Value: strings.Join(names, ",")})
	}
	return e
}

// ShredEvents are the KindAuditShredded entries that record a shred of
// the given entries (ascending indices), appended before any subject
// opening is deleted: each lists the entries it covers as ranges ("3-5,9"),
// never the subject. A long list takes several events. Log implementations
// share it.
func ShredEvents(actor string, entries []uint64) []Event {
	if actor == "" {
		actor = "system"
	}
	const perAttr, perEvent = 60000, 12
	newEvent := func() Event {
		return Event{Kind: KindAuditShredded, Actor: actor, Reason: "data subject erasure"}
	}
	var out []Event
	e, count := newEvent(), 0
	var b strings.Builder
	flushAttr := func() {
		if b.Len() > 0 {
			e.Attrs = append(e.Attrs, Attr{Key: "entries", Value: b.String()})
			b.Reset()
		}
	}
	flushEvent := func() {
		flushAttr()
		e.Attrs = append([]Attr{{Key: "count", Value: strconv.Itoa(count)}}, e.Attrs...)
		out = append(out, e)
		e, count = newEvent(), 0
	}
	for i := 0; i < len(entries); {
		j := i
		for j+1 < len(entries) && entries[j+1] == entries[j]+1 {
			j++
		}
		r := strconv.FormatUint(entries[i], 10)
		if j > i {
			r += "-" + strconv.FormatUint(entries[j], 10)
		}
		if b.Len()+len(r)+1 > perAttr {
			flushAttr()
			if len(e.Attrs) == perEvent {
				flushEvent()
			}
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r)
		count += j - i + 1
		i = j + 1
	}
	flushEvent()
	return out
}

// Shred crypto-shreds a data subject: it deletes the subject openings
// (salt and keyed hash) of every entry about subject. The salted
// commitments stay in the events, now unlinkable to anyone; every entry,
// checkpoint and proof stays valid.
//
// Shredding is an event: KindAuditShredded entries listing the entries
// shredded (never the subject) are appended and signed into a checkpoint
// first; only then are the subject openings deleted. The verifier refuses
// a missing subject opening that no such signed event lists.
func (l *FileLog) Shred(ctx context.Context, subject string) (int, error) {
	if subject == "" {
		return 0, fmt.Errorf("audit: shred: empty subject: %w", ErrInvalidEvent)
	}
	var entries []uint64
	var serr error
	err := l.do(ctx, func() {
		if serr = l.failedErr(); serr != nil {
			return
		}
		serr = l.eachLocked(func(rec *record) {
			if rec.open != nil && rec.open.Subject == subject {
				entries = append(entries, rec.leaf.Index)
			}
		})
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("audit: shred: %w", err)
	}
	evs := ShredEvents("", entries)
	for i, e := range evs {
		if i < len(evs)-1 {
			_, err = l.Append(ctx, e)
		} else {
			_, err = l.appendSigned(ctx, e)
		}
		if err != nil {
			return 0, fmt.Errorf("audit: shred: %w", err)
		}
	}
	if len(entries) == 0 {
		return 0, nil
	}
	n, err := l.rewrite(ctx, func(rec *record) (*Opening, bool) {
		if _, found := slices.BinarySearch(entries, rec.leaf.Index); !found || rec.open == nil || rec.open.Subject != subject {
			return rec.open, false
		}
		o := *rec.open
		o.Subject, o.SubjectSalt = "", [SaltSize]byte{}
		return &o, true
	})
	if err != nil {
		return 0, fmt.Errorf("audit: shred: %w", err)
	}
	return n, nil
}

// eachLocked calls fn for each durable record, in order. Committer only.
func (l *FileLog) eachLocked(fn func(*record)) error {
	rr := &recordReader{r: bufio.NewReaderSize(io.NewSectionReader(l.f, 0, l.end), 1<<20)}
	if _, _, err := readHeader(rr.r); err != nil {
		return err
	}
	for i := uint64(0); i < l.n; i++ {
		rec, _, err := rr.next()
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		fn(&rec)
	}
	return nil
}

// rewrite copies the log through change into a new file and swaps it in
// atomically (temp, sync, rename, directory sync). Leaves never change.
func (l *FileLog) rewrite(ctx context.Context, change func(*record) (*Opening, bool)) (int, error) {
	var count int
	var rerr error
	err := l.do(ctx, func() {
		if rerr = l.failedErr(); rerr != nil {
			return
		}
		count, rerr = l.rewriteLocked(change)
	})
	if err != nil {
		return 0, err
	}
	return count, rerr
}

func (l *FileLog) rewriteLocked(change func(*record) (*Opening, bool)) (int, error) {
	tmp := logFile + ".tmp"
	nf, err := l.fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	if lk, ok := nf.(Locker); ok {
		if err := lk.Lock(); err != nil {
			nf.Close()
			return 0, err
		}
	}
	fail := func(err error) (int, error) {
		nf.Close()
		_ = l.fsys.Remove(tmp)
		return 0, err
	}
	w := bufio.NewWriterSize(nf, 1<<20)
	hdr := fileHeader(l.origin)
	w.Write(hdr)
	rr := &recordReader{r: bufio.NewReaderSize(io.NewSectionReader(l.f, 0, l.end), 1<<20)}
	if _, _, err := readHeader(rr.r); err != nil {
		return fail(err)
	}
	offsets := make([]int64, 0, l.n)
	pos := int64(len(hdr))
	count := 0
	var buf []byte
	for i := uint64(0); i < l.n; i++ {
		rec, _, err := rr.next()
		if err != nil {
			return fail(fmt.Errorf("entry %d: %w", i, err))
		}
		o, changed := change(&rec)
		if changed {
			count++
		}
		buf = appendRecord(buf[:0], rec.leafRaw, o, rec.flags&flagBatchStart != 0)
		w.Write(buf)
		offsets = append(offsets, pos)
		pos += int64(len(buf))
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := nf.Sync(); err != nil {
		return fail(err)
	}
	if count == 0 {
		return fail(nil)
	}
	if err := l.fsys.Rename(tmp, logFile); err != nil {
		return fail(err)
	}
	if err := l.fsys.SyncDir(); err != nil {
		// The rename may or may not be durable; both files are valid.
		l.mu.Lock()
		l.failed = fmt.Errorf("%w: directory sync failed, reopen the log: %v", ErrClosed, err)
		l.mu.Unlock()
		nf.Close()
		return 0, err
	}
	if _, err := nf.Seek(pos, io.SeekStart); err != nil {
		nf.Close()
		return 0, err
	}
	l.mu.Lock()
	old := l.f
	l.f, l.offsets, l.end, l.pubEnd = nf, offsets, pos, pos
	l.mu.Unlock()
	old.Close()
	return count, nil
}
