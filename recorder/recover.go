package recorder

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/consentrec/consentrec/audit"
)

// Recover finalizes the recordings a crash left unfinalized in st: it keeps
// every page that reached storage intact (CRC checked), cuts what follows,
// marks the last page end-of-stream, and finalizes the file with its
// duration, SHA-256, a gap index rebuilt from the fillers found (reason
// "filler": the reasons were not durable) and Recovered set. A finalized
// event (Actor "system", Reason "recovered") goes to aud for each.
//
// Call it at start-up, before recording: a recording in progress in the
// same store would be taken for an orphan. It returns the recovered
// recordings' metadata; one that cannot be recovered does not stop the
// others (the errors are joined).
func Recover(ctx context.Context, st Store, aud audit.Appender) ([]Meta, error) {
	ms, err := st.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	var out []Meta
	var errs []error
	for _, m := range ms {
		if m.State == StateFinalized {
			continue
		}
		rm, err := recoverOne(ctx, st, m)
		if err != nil {
			errs = append(errs, fmt.Errorf("recover %s: %w", m.ID, err))
			continue
		}
		out = append(out, rm)
		e := audit.Event{
			Kind: audit.KindRecordingFinalized, Time: rm.Finalized, CallID: rm.CallID, RecordingID: rm.ID,
			Actor: "system", Reason: "recovered", Purpose: string(rm.Purpose), PolicyVersion: rm.PolicyVersion,
			SHA256: rm.SHA256,
			Attrs: []audit.Attr{{Key: "recovered", Value: "true"}, {Key: "duration", Value: rm.Duration.String()},
				{Key: "gaps", Value: strconv.Itoa(len(rm.Gaps))}},
		}
		if _, err := aud.Append(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("recover %s: audit: %w", m.ID, err))
		}
	}
	return out, errors.Join(errs...)
}

func recoverOne(ctx context.Context, st Store, m Meta) (Meta, error) {
	rc, err := st.OpenPartial(ctx, m.ID)
	if err != nil {
		return Meta{}, err
	}
	pr := newPageReader(rc)
	wk := &walker{}
	var (
		pg       oggPage
		last     []byte // raw bytes of the last good audio page
		lastOff  int64
		goodEnd  int64 // end of the last good page
		headerOK bool
	)
	for {
		err := pr.next(&pg)
		if errors.Is(err, io.EOF) || errors.Is(err, ErrFormat) {
			break // a clean end, or the torn tail of the crash
		}
		if err != nil {
			// The bytes could not be read (a disk error): cutting the file
			// here would lose the audio after it.
			rc.Close()
			return Meta{}, err
		}
		if err := wk.page(&pg); err != nil {
			break
		}
		goodEnd = pr.off
		if wk.gotTags && wk.info.Packets > 0 {
			last = append(last[:0], pr.raw...)
			lastOff = pg.offset
		} else if wk.gotTags {
			headerOK = true
		}
	}
	rc.Close()
	var w Writer
	channels := len(m.Channels)
	if channels < 1 || channels > 2 {
		channels = 1
	}
	switch {
	case last != nil:
		// Rewrite the last audio page with EOS.
		if w, err = st.Resume(ctx, m.ID, lastOff); err != nil {
			return Meta{}, err
		}
		last[5] |= flagEOS
		binary.LittleEndian.PutUint32(last[22:], 0)
		binary.LittleEndian.PutUint32(last[22:], oggChecksum(0, last))
		if _, err := w.Write(last); err != nil {
			return Meta{}, err
		}
	case headerOK:
		// Headers only: end the stream with 20 ms of silence.
		if w, err = st.Resume(ctx, m.ID, goodEnd); err != nil {
			return Meta{}, err
		}
		s := newOggStream(w, serialOf(m.ID), wk.info.Channels, 64)
		s.seq = 2
		if err := s.close(); err != nil {
			return Meta{}, err
		}
		wk.info.Granule, wk.info.PreSkip = slotSamples, preSkip
	default:
		// Not even the headers reached storage: write them again.
		if w, err = st.Resume(ctx, m.ID, 0); err != nil {
			return Meta{}, err
		}
		s := newOggStream(w, serialOf(m.ID), channels, 64)
		r := &Recorder{cfg: Config{CallID: m.CallID, Purpose: m.Purpose, PolicyVersion: m.PolicyVersion, Layout: m.Layout}}
		_ = s.writeHeader(opusHead(channels), flagBOS)
		_ = s.writeHeader(opusTags("consentrec", r.tags(m.ID, m.Channels)), 0)
		if err := s.close(); err != nil {
			return Meta{}, err
		}
		wk.info.Granule, wk.info.PreSkip = slotSamples, preSkip
	}
	wk.finish()
	fin := Final{Recovered: true}
	if wk.info.Granule > int64(wk.info.PreSkip) {
		fin.Duration = samplesDur(wk.info.Granule - int64(wk.info.PreSkip))
	}
	fin.Gaps = mergeRecovered(m.Gaps, wk.info.Gaps, fin.Duration+preSkip*time.Second/48000)
	meta, err := w.Finalize(ctx, fin)
	if err != nil {
		return Meta{}, err
	}
	return meta, nil
}

// mergeRecovered builds a recovered file's gap index: the pauses that were
// checkpointed (with reason and actor; one still open at the crash ends
// with the file), then the filler runs found in the file outside them.
func mergeRecovered(checkpointed, fillers []Gap, end time.Duration) []Gap {
	var out []Gap
	for _, g := range checkpointed {
		if g.Reason != GapPause || g.Start >= end {
			continue
		}
		if g.End == 0 || g.End > end {
			g.End = end
		}
		out = append(out, g)
	}
	pauses := len(out)
	for _, f := range fillers {
		inside := false
		for _, p := range out[:pauses] {
			if f.Start >= p.Start && f.End <= p.End {
				inside = true
				break
			}
		}
		if !inside {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Gap) int { return cmp.Compare(a.Start, b.Start) })
	return out
}
