package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"golang.org/x/mod/sumdb/tlog"
)

// TestCorruptedProofs runs the transparency-dev style corpus of corrupted
// inclusion and consistency proofs: every mutation must fail.
func TestCorruptedProofs(t *testing.T) {
	ctx := context.Background()
	l := audittest.NewLog("proofs.example/log", nil)
	const n = 37
	for i := range n {
		l.Append(ctx, audittest.Sample(i))
	}
	leafHash := func(i uint64) tlog.Hash { e, _ := l.Entry(ctx, i); return e.Hash() }
	root := func(size uint64) tlog.Hash {
		cp, _ := l.Checkpoint(ctx)
		c, _, _ := audit.OpenCheckpoint(cp, l.VerifierKey())
		return c.Root
	}
	size := uint64(n)
	th := root(size)
	var random tlog.Hash
	copy(random[:], "random root, not the tree's root")
	for _, idx := range []uint64{0, 1, 13, 31, 32, n - 1} {
		p, err := l.ProveInclusion(ctx, idx, size)
		if err != nil {
			t.Fatal(err)
		}
		h := leafHash(idx)
		if err := tlog.CheckRecord(p, int64(size), th, int64(idx), h); err != nil {
			t.Fatalf("genuine proof of %d fails: %v", idx, err)
		}
		type mut struct {
			name      string
			p         tlog.RecordProof
			size, idx int64
			root      tlog.Hash
			leaf      tlog.Hash
		}
		base := mut{p: p, size: int64(size), idx: int64(idx), root: th, leaf: h}
		muts := []mut{}
		add := func(name string, f func(m *mut)) {
			m := base
			m.p = append(tlog.RecordProof(nil), p...)
			m.name = name
			f(&m)
			muts = append(muts, m)
		}
		add("index+1", func(m *mut) { m.idx++ })
		add("index-1", func(m *mut) { m.idx-- })
		add("index^2", func(m *mut) { m.idx ^= 2 })
		add("size*2", func(m *mut) { m.size *= 2 })
		add("size/2", func(m *mut) { m.size /= 2 })
		// (size+1 is not in the corpus: for many index/size pairs an RFC
		// 6962 audit path is the same in both trees; receipts bind the size
		// through the signed checkpoint, whose mutations the receipt-level
		// cases below cover.)
		add("wrong leaf", func(m *mut) { m.leaf = leafHash((idx + 1) % n) })
		add("empty root", func(m *mut) { m.root = tlog.Hash{} })
		add("random root", func(m *mut) { m.root = random })
		add("trailing garbage", func(m *mut) { m.p = append(m.p, random) })
		add("preceding garbage", func(m *mut) { m.p = append(tlog.RecordProof{random}, m.p...) })
		if len(p) > 0 {
			add("removed component", func(m *mut) { m.p = m.p[:len(m.p)-1] })
			add("inserted component", func(m *mut) { m.p = append(m.p[:1:1], append(tlog.RecordProof{random}, m.p[1:]...)...) })
			for i := range p {
				for _, bit := range []int{0, 7, 100, 255} {
					add("proof["+itoa(i)+"] bit "+itoa(bit), func(m *mut) { m.p[i][bit/8] ^= 1 << (bit % 8) })
				}
			}
		}
		for _, m := range muts {
			if m.idx < 0 || m.idx >= m.size {
				continue // out of range: CheckRecord's own precondition
			}
			if err := tlog.CheckRecord(m.p, m.size, m.root, m.idx, m.leaf); err == nil {
				t.Errorf("entry %d: corrupted proof (%s) accepted", idx, m.name)
			}
		}
	}
	// Consistency proofs between every earlier size and n, mutated.
	for old := uint64(1); old < size; old++ {
		p, _ := l.ProveConsistency(ctx, old, size)
		oldRoot := audittestRoot(t, l, old)
		if err := tlog.CheckTree(p, int64(size), th, int64(old), oldRoot); err != nil {
			t.Fatalf("genuine consistency %d->%d: %v", old, size, err)
		}
		bad := []struct {
			name string
			p    tlog.TreeProof
			old  int64
			oh   tlog.Hash
			th   tlog.Hash
		}{
			{"old+1", p, int64(old) + 1, oldRoot, th},
			{"old-1", p, int64(old) - 1, oldRoot, th},
			{"random old root", p, int64(old), random, th},
			{"random new root", p, int64(old), oldRoot, random},
			{"trailing garbage", append(append(tlog.TreeProof(nil), p...), random), int64(old), oldRoot, th},
		}
		for i := range p {
			q := append(tlog.TreeProof(nil), p...)
			q[i][3] ^= 0x10
			bad = append(bad, struct {
				name string
				p    tlog.TreeProof
				old  int64
				oh   tlog.Hash
				th   tlog.Hash
			}{"bit flip in " + itoa(i), q, int64(old), oldRoot, th})
		}
		for _, b := range bad {
			if b.old <= 0 || b.old > int64(size) || (b.old == int64(size) && len(b.p) == 0) {
				continue
			}
			if err := tlog.CheckTree(b.p, int64(size), b.th, b.old, b.oh); err == nil {
				t.Errorf("consistency %d->%d: corrupted proof (%s) accepted", old, size, b.name)
			}
		}
	}
	// Receipts: the same mutations through the text format all fail.
	r, _ := l.Receipt(ctx, 13)
	good, _ := r.MarshalText()
	if _, _, err := audit.CheckReceipt(good, l.VerifierKey()); err != nil {
		t.Fatal(err)
	}
	for name, txt := range map[string]string{
		"trailing garbage":    string(good) + "x",
		"preceding garbage":   "x" + string(good),
		"extra proof line":    strings.Replace(string(good), "proof ", "proof AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nproof ", 1),
		"dropped proof line":  dropLine(string(good), "proof "),
		"dropped event line":  dropLine(string(good), "event "),
		"unknown line":        strings.Replace(string(good), "leaf ", "note hi\nleaf ", 1),
		"another log's key":   string(good),
		"checkpoint stripped": strings.SplitN(string(good), "\n\n", 2)[0] + "\n\n",
	} {
		key := l.VerifierKey()
		if name == "another log's key" {
			key = audittest.NewLog("proofs.example/log", nil).VerifierKey()
		}
		if _, _, err := audit.CheckReceipt([]byte(txt), key); err == nil {
			t.Errorf("receipt with %s accepted", name)
		}
	}
	for p := 0; p < len(good); p++ {
		b := []byte(string(good))
		b[p] ^= 0x01
		if _, _, err := audit.CheckReceipt(b, l.VerifierKey()); err == nil {
			t.Errorf("receipt with byte %d flipped accepted", p)
		}
	}
}

func dropLine(s, prefix string) string {
	i := strings.Index(s, "\n"+prefix)
	j := strings.Index(s[i+1:], "\n")
	return s[:i] + s[i+1+j:]
}

func audittestRoot(t *testing.T, l audit.Log, n uint64) tlog.Hash {
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i := range n {
		e, _ := l.Entry(context.Background(), i)
		hs, _ := tlog.StoredHashesForRecordHash(int64(i), e.Hash(), r)
		hashes = append(hashes, hs...)
	}
	h, _ := tlog.TreeHash(int64(n), r)
	return h
}
