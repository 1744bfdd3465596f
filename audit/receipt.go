package audit

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Receipt proves one entry to an auditor without revealing any other: the
// entry's leaf and opening (the event), its inclusion proof, and the
// signed checkpoint (with any witness cosignatures) the proof leads to.
// Other entries appear only as hashes of salted commitments.
type Receipt struct {
	Leaf       Leaf
	Opening    *Opening // nil: the entry's payload was pruned (leaf only)
	Proof      tlog.RecordProof
	Checkpoint []byte // signed checkpoint note
}

const (
	receiptMagic   = "consentrec audit receipt v1" // a v1 (chained) leaf, which carries its index
	receiptMagicV2 = "consentrec audit receipt v2" // a v2 leaf, with its index beside it
)

// HideSubject removes the subject opening from the receipt: it still
// verifies, and shows the event without its subject.
func (r *Receipt) HideSubject() {
	if r.Opening != nil {
		o := *r.Opening
		o.Subject, o.SubjectSalt = "", [SaltSize]byte{}
		r.Opening = &o
	}
}

// MarshalText encodes the receipt as text: header lines, a blank line and
// the signed checkpoint note.
//
//	consentrec audit receipt v1  (v2 for a v2 leaf)
//	leaf <base64>
//	index <decimal>        v2 only: the leaf's position in the tree
//	salt <base64>          } unless pruned
//	event <base64>         }
//	subject-salt <base64>  } if the subject is disclosed
//	subject <base64>       }
//	proof <base64>         (one line per hash, possibly none)
//
//	<signed checkpoint>
func (r *Receipt) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	b64 := base64.StdEncoding.EncodeToString
	raw, err := r.Leaf.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	if r.Leaf.Chained() {
		b.WriteString(receiptMagic + "\n")
		b.WriteString("leaf " + b64(raw) + "\n")
	} else {
		b.WriteString(receiptMagicV2 + "\n")
		b.WriteString("leaf " + b64(raw) + "\n")
		b.WriteString("index " + strconv.FormatUint(r.Leaf.Index, 10) + "\n")
	}
	if o := r.Opening; o != nil {
		b.WriteString("salt " + b64(o.Salt[:]) + "\n")
		b.WriteString("event " + b64(o.Payload) + "\n")
		if o.Subject != "" {
			b.WriteString("subject-salt " + b64(o.SubjectSalt[:]) + "\n")
			b.WriteString("subject " + b64([]byte(o.Subject)) + "\n")
		}
	}
	for _, h := range r.Proof {
		b.WriteString("proof " + b64(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(r.Checkpoint)
	return b.Bytes(), nil
}

// ParseReceipt decodes a receipt written by MarshalText. It is strict:
// any other form (unknown or repeated line, non-canonical base64, missing
// checkpoint) is an error wrapping ErrMalformed. It checks no signature
// or proof: use CheckReceipt.
func ParseReceipt(data []byte) (*Receipt, error) {
	bad := func(what string) error { return fmt.Errorf("receipt: %s: %w", what, ErrMalformed) }
	head, cp, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return nil, bad("no checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	v2 := lines[0] == receiptMagicV2
	if lines[0] != receiptMagic && !v2 {
		return nil, bad("not a v1 or v2 receipt")
	}
	lines = lines[1:]
	field := func(name string) ([]byte, bool) {
		if len(lines) == 0 {
			return nil, false
		}
		v, ok := strings.CutPrefix(lines[0], name+" ")
		if !ok {
			return nil, false
		}
		b, err := decodeBase64(v)
		if err != nil {
			return nil, false
		}
		lines = lines[1:]
		return b, true
	}
	r := &Receipt{Checkpoint: cp}
	raw, ok := field("leaf")
	if !ok || r.Leaf.UnmarshalBinary(raw) != nil || r.Leaf.Chained() == v2 {
		return nil, bad("leaf")
	}
	if v2 {
		// The index, in its one canonical decimal form.
		v, ok := strings.CutPrefix(firstOr(lines), "index ")
		i, err := strconv.ParseUint(v, 10, 63)
		if !ok || err != nil || strconv.FormatUint(i, 10) != v {
			return nil, bad("index")
		}
		r.Leaf.Index = i
		lines = lines[1:]
	}
	if salt, ok := field("salt"); ok {
		ev, ok := field("event")
		if !ok || len(salt) != SaltSize || len(ev) > MaxEventSize {
			return nil, bad("opening")
		}
		o := &Opening{Payload: ev}
		copy(o.Salt[:], salt)
		if ss, ok := field("subject-salt"); ok {
			subj, ok := field("subject")
			if !ok || len(ss) != SaltSize || len(subj) == 0 || len(subj) > maxField {
				return nil, bad("subject opening")
			}
			copy(o.SubjectSalt[:], ss)
			o.Subject = string(subj)
		}
		r.Opening = o
	}
	for len(lines) > 0 {
		h, ok := field("proof")
		if !ok || len(h) != tlog.HashSize || len(r.Proof) >= 64 {
			return nil, bad("line " + strconv.Quote(firstOr(lines)))
		}
		r.Proof = append(r.Proof, tlog.Hash(h))
	}
	return r, nil
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// CheckReceipt verifies a receipt offline: the checkpoint's signature by
// logKey, a cosignature by every witness given, the entry's inclusion in
// the checkpoint's tree at the index the receipt states (a v1 leaf's own
// index; a v2 receipt's index line), and the event against the leaf's
// commitment. It
// returns the entry (Event zero but Kind and Time when pruned) and the
// checkpoint. Errors wrap ErrMalformed, ErrSignature or ErrBadProof.
func CheckReceipt(data []byte, logKey note.Verifier, witnesses ...note.Verifier) (Entry, Checkpoint, error) {
	r, err := ParseReceipt(data)
	if err != nil {
		return Entry{}, Checkpoint{}, err
	}
	cp, n, err := OpenCheckpoint(r.Checkpoint, logKey, witnesses...)
	if err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("receipt: %w", err)
	}
	if err := checkQuorum(cosignatures(n, witnesses), witnesses, 0); err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("receipt: %w: %w", ErrSignature, err)
	}
	if r.Leaf.Index >= cp.Size {
		return Entry{}, Checkpoint{}, fmt.Errorf("receipt: entry %d outside checkpoint of size %d: %w", r.Leaf.Index, cp.Size, ErrBadProof)
	}
	if err := tlog.CheckRecord(r.Proof, int64(cp.Size), cp.Root, int64(r.Leaf.Index), r.Leaf.Hash()); err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("receipt: entry %d: %w: %v", r.Leaf.Index, ErrBadProof, err)
	}
	en := Entry{Leaf: r.Leaf, Opening: r.Opening}
	if r.Opening == nil {
		en.Pruned = true
		en.Event = Event{Kind: r.Leaf.Kind, Time: r.Leaf.Time}
		return en, cp, nil
	}
	if en.Event, en.Shredded, err = r.Opening.Open(&r.Leaf); err != nil {
		return Entry{}, Checkpoint{}, fmt.Errorf("receipt: entry %d: event: %w: %v", r.Leaf.Index, ErrBadProof, err)
	}
	return en, cp, nil
}
