package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestLeafVersions(t *testing.T) {
	base := audit.Leaf{Index: 7, Prev: tlog.Hash{1}, Time: time.Unix(0, 42).UTC(), Kind: audit.KindAccess, Commitment: tlog.Hash{2}}
	v1, err := base.MarshalBinary()
	if err != nil || len(v1) != audit.LeafSize || !strings.HasPrefix(string(v1), "consentrec/audit-leaf/v1\x00") {
		t.Fatalf("v1 leaf: %d bytes, %v", len(v1), err)
	}
	var back audit.Leaf
	if err := back.UnmarshalBinary(v1); err != nil || !back.Chained() || back.Version != audit.LeafV1 || back.Index != 7 || back.Prev != base.Prev {
		t.Fatalf("v1 decode: %+v, %v", back, err)
	}
	v2l := base
	v2l.Version = audit.LeafV2
	v2, err := v2l.MarshalBinary()
	if err != nil || len(v2) != audit.LeafSizeV2 || !strings.HasPrefix(string(v2), "consentrec/audit-leaf/v2\x00") {
		t.Fatalf("v2 leaf: %d bytes, %v", len(v2), err)
	}
	// Neither the index nor the previous hash is in a v2 leaf.
	other := v2l
	other.Index, other.Prev = 99, tlog.Hash{9}
	if o, _ := other.MarshalBinary(); !bytes.Equal(o, v2) || other.Hash() != v2l.Hash() {
		t.Fatal("a v2 leaf's encoding depends on its index or previous hash")
	}
	if v2l.Hash() == base.Hash() {
		t.Fatal("v1 and v2 leaves of the same entry hash alike")
	}
	back = audit.Leaf{Index: 5, Prev: tlog.Hash{3}}
	if err := back.UnmarshalBinary(v2); err != nil || back.Chained() || back.Index != 0 || back.Prev != (tlog.Hash{}) ||
		!back.Time.Equal(base.Time) || back.Kind != base.Kind || back.Commitment != base.Commitment {
		t.Fatalf("v2 decode: %+v, %v", back, err)
	}
	// A v2 label with a v1 length, and the reverse, are refused.
	for _, b := range [][]byte{
		append([]byte("consentrec/audit-leaf/v2\x00"), v1[len("consentrec/audit-leaf/v1\x00"):]...),
		append([]byte("consentrec/audit-leaf/v1\x00"), v2[len("consentrec/audit-leaf/v2\x00"):]...),
	} {
		if err := back.UnmarshalBinary(b); !errors.Is(err, audit.ErrMalformed) {
			t.Errorf("mislabelled leaf decoded: %v", err)
		}
	}
	bad := base
	bad.Version = 3
	if _, err := bad.MarshalBinary(); !errors.Is(err, audit.ErrMalformed) || bad.Hash() != (tlog.Hash{}) {
		t.Fatalf("leaf version 3: %v", err)
	}
}

// v2Receipts builds a tree of n v2 leaves, signs a checkpoint, and returns
// the text receipt of every entry.
func v2Receipts(t *testing.T, n int) ([][]byte, note.Verifier) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	const origin = "example.com/audit/v2"
	s, err := audit.NoteSigner(origin, priv)
	if err != nil {
		t.Fatal(err)
	}
	vk, _ := audit.VerifierKey(origin, pub)
	v, _ := note.NewVerifier(vk)
	var hashes []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	var leaves []audit.Leaf
	var opens []*audit.Opening
	for i := range n {
		e := audittest.Sample(i)
		o, err := audit.Seal(&e, nil)
		if err != nil {
			t.Fatal(err)
		}
		lf := audit.Leaf{Version: audit.LeafV2, Index: uint64(i), Time: e.Time, Kind: e.Kind, Commitment: o.Commitment()}
		raw, _ := lf.MarshalBinary()
		hs, err := tlog.StoredHashes(int64(i), raw, hr)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
		leaves, opens = append(leaves, lf), append(opens, o)
	}
	root, _ := tlog.TreeHash(int64(n), hr)
	cp, err := audit.SignCheckpoint(audit.Checkpoint{Origin: origin, Size: uint64(n), Root: root}, s)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := range n {
		p, err := tlog.ProveRecord(int64(n), int64(i), hr)
		if err != nil {
			t.Fatal(err)
		}
		r := audit.Receipt{Leaf: leaves[i], Opening: opens[i], Proof: p, Checkpoint: cp}
		txt, err := r.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, txt)
	}
	return out, v
}

// A v2 receipt states the index beside the leaf; CheckReceipt proves the
// leaf at that index, so a receipt moved to another index fails.
func TestReceiptV2(t *testing.T) {
	rs, key := v2Receipts(t, 9)
	for i, txt := range rs {
		if !bytes.HasPrefix(txt, []byte("consentrec audit receipt v2\nleaf ")) || !bytes.Contains(txt, fmt.Appendf(nil, "\nindex %d\n", i)) {
			t.Fatalf("receipt %d:\n%s", i, txt)
		}
		en, cp, err := audit.CheckReceipt(txt, key)
		if err != nil {
			t.Fatalf("receipt %d: %v\n%s", i, err, txt)
		}
		if en.Index != uint64(i) || en.Chained() || cp.Size != 9 || en.Event.CallID != audittest.Sample(i).CallID {
			t.Fatalf("receipt %d: entry %d (chained %v) in %d: %+v", i, en.Index, en.Chained(), cp.Size, en.Event)
		}
		r, err := audit.ParseReceipt(txt)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := r.MarshalText(); !bytes.Equal(again, txt) {
			t.Fatalf("receipt %d does not round-trip", i)
		}
		for _, idx := range []string{fmt.Sprint(i ^ 1), fmt.Sprint(i + 9), "0" + fmt.Sprint(i), "+" + fmt.Sprint(i), "-1", ""} {
			moved := bytes.Replace(txt, fmt.Appendf(nil, "\nindex %d\n", i), []byte("\nindex "+idx+"\n"), 1)
			if _, _, err := audit.CheckReceipt(moved, key); err == nil {
				t.Fatalf("receipt %d accepted at index %q", i, idx)
			}
		}
		noIndex := bytes.Replace(txt, fmt.Appendf(nil, "\nindex %d\n", i), []byte("\n"), 1)
		if _, err := audit.ParseReceipt(noIndex); !errors.Is(err, audit.ErrMalformed) {
			t.Fatalf("v2 receipt without its index: %v", err)
		}
		// A v2 leaf under the v1 header (which would take the index from
		// the leaf) is refused.
		v1Head := bytes.Replace(txt, []byte("receipt v2\n"), []byte("receipt v1\n"), 1)
		if _, err := audit.ParseReceipt(v1Head); !errors.Is(err, audit.ErrMalformed) {
			t.Fatalf("v2 leaf in a v1 receipt: %v", err)
		}
	}
}
