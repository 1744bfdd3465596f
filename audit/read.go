package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ReadFS calls fn for each entry of the log in fsys from index from on,
// read-only and without verifying the chain or the tree (use VerifyFS for
// that); each entry's event is still checked against its leaf. It stops at
// the first error, fn's included, and at a torn tail.
func ReadFS(ctx context.Context, fsys FS, from uint64, fn func(Entry) error) error {
	f, err := fsys.OpenFile(logFile, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("audit: read: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("audit: read: %w", err)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	_, off, err := readHeader(br)
	if err != nil {
		return &VerifyError{Problem: ProblemFormat, Msg: err.Error()}
	}
	rr := &recordReader{r: br}
	for i := uint64(0); ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, n, err := rr.next()
		if err == io.EOF || errors.Is(err, errTorn) {
			return nil
		}
		if err != nil {
			return &VerifyError{Index: i, Offset: off, Problem: ProblemContent, Msg: err.Error()}
		}
		if i >= from {
			en := Entry{Leaf: rec.leaf}
			if rec.open == nil {
				en.Pruned, en.Event = true, Event{Kind: rec.leaf.Kind, Time: rec.leaf.Time}
			} else {
				o := *rec.open
				o.Payload = append([]byte(nil), o.Payload...)
				en.Opening = &o
				if en.Event, en.Shredded, err = o.Open(&rec.leaf); err != nil {
					return &VerifyError{Index: i, Offset: off, Problem: ProblemContent, Msg: err.Error()}
				}
			}
			if err := fn(en); err != nil {
				return err
			}
		}
		off += n
	}
}

// keyFor returns key, or the verifier key kept beside the log.
func keyFor(fsys FS, key note.Verifier) (note.Verifier, error) {
	if key != nil {
		return key, nil
	}
	k, err := readFile(fsys, pubKeyFile)
	if err != nil {
		return nil, fmt.Errorf("audit: no key given and none kept beside the log: %w", err)
	}
	v, err := note.NewVerifier(string(trimNL(k)))
	if err != nil {
		return nil, fmt.Errorf("audit: key %s: %w", pubKeyFile, err)
	}
	return v, nil
}

// ProveFS builds the receipt of entry index of the log in fsys, read-only,
// against the log's signed checkpoint (which must cover the entry). It
// verifies the whole log first (as VerifyFS), so a receipt is never issued
// from a log that does not verify. key nil uses the key kept beside the log.
func ProveFS(ctx context.Context, fsys FS, key note.Verifier, index uint64) (*Receipt, error) {
	key, err := keyFor(fsys, key)
	if err != nil {
		return nil, err
	}
	signed, err := readFile(fsys, checkpointFile)
	if err != nil {
		return nil, fmt.Errorf("audit: prove: no signed checkpoint: %w", err)
	}
	cp, _, err := OpenCheckpoint(signed, key)
	if err != nil {
		return nil, &VerifyError{Problem: ProblemSignature, Msg: err.Error()}
	}
	if index >= cp.Size {
		return nil, fmt.Errorf("audit: prove: entry %d is not covered by the signed checkpoint (size %d): %w", index, cp.Size, ErrNotFound)
	}
	f, err := fsys.OpenFile(logFile, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("audit: prove: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("audit: prove: %w", err)
	}
	store := &fullStore{}
	var offsets []int64
	st, err := scan(ctx, io.NewSectionReader(f, 0, size), key.Name(), store, &offsets, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("audit: prove: %w", err)
	}
	if _, err := st.check(cp, size); err != nil {
		return nil, err
	}
	end := st.end
	if index+1 < uint64(len(offsets)) {
		end = offsets[index+1]
	}
	buf := make([]byte, end-offsets[index])
	if _, err := f.ReadAt(buf, offsets[index]); err != nil {
		return nil, fmt.Errorf("audit: prove: %w", err)
	}
	en, err := entryFromRecord(index, offsets[index], buf)
	if err != nil {
		return nil, err
	}
	proof, err := tlog.ProveRecord(int64(cp.Size), int64(index), store)
	if err != nil {
		return nil, fmt.Errorf("audit: prove: %w", err)
	}
	return &Receipt{Leaf: en.Leaf, Opening: en.Opening, Proof: proof, Checkpoint: signed}, nil
}
