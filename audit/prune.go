package audit

import (
	"bufio"
	"context"
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

// Prune deletes the openings of entries logged before cutoff (the audit
// log's own retention), of the given kinds only when kinds are given.
// Leaves stay, so the chain, the tree, old checkpoints and receipts of the
// remaining entries all still verify. The file is rewritten atomically,
// then a KindAuditPruned entry records the operation.
func (l *FileLog) Prune(ctx context.Context, cutoff time.Time, kinds ...Kind) (int, error) {
	n, err := l.rewrite(ctx, func(rec *record) (*Opening, bool) {
		if rec.open != nil && rec.leaf.Time.Before(cutoff) && PruneMatches(rec.leaf.Kind, kinds) {
			return nil, true
		}
		return rec.open, false
	})
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	_, err = l.Append(ctx, PrunedEvent(cutoff, n, kinds))
	return n, err
}

// PruneMatches reports whether an entry of kind k is pruned by a Prune
// limited to kinds (every kind when kinds is empty). Log implementations
// share it.
func PruneMatches(k Kind, kinds []Kind) bool {
	return len(kinds) == 0 || slices.Contains(kinds, k)
}

// PrunedEvent is the KindAuditPruned entry that records a Prune.
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

// Shred crypto-shreds a data subject: it deletes the subject openings
// (salt and keyed hash) of every entry about subject. The salted
// commitments stay in the events, now unlinkable to anyone; every entry,
// checkpoint and proof stays valid. A KindAuditShredded entry, without the
// subject, records the operation.
func (l *FileLog) Shred(ctx context.Context, subject string) (int, error) {
	if subject == "" {
		return 0, fmt.Errorf("audit: shred: empty subject: %w", ErrInvalidEvent)
	}
	n, err := l.rewrite(ctx, func(rec *record) (*Opening, bool) {
		if rec.open == nil || rec.open.Subject != subject {
			return rec.open, false
		}
		o := *rec.open
		o.Subject, o.SubjectSalt = "", [SaltSize]byte{}
		return &o, true
	})
	if err != nil {
		return 0, fmt.Errorf("audit: shred: %w", err)
	}
	_, err = l.Append(ctx, Event{Kind: KindAuditShredded, Actor: "system", Reason: "data subject erasure",
		Attrs: []Attr{{Key: "count", Value: strconv.Itoa(n)}}})
	return n, err
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
