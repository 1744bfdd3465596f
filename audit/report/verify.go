package report

import (
	"context"
	"fmt"

	"github.com/consentrec/consentrec/audit"
	"golang.org/x/mod/sumdb/tlog"
)

// inlineVerifier checks, as entries are read, what VerifyFS checks of a log
// on disk: each entry chains to the one before (from the genesis of the
// checkpoint's origin) and the RFC 6962 root of the entries equals the
// signed checkpoint's. The log's Entry checks each event against its leaf.
type inlineVerifier struct {
	cp    audit.Checkpoint
	size  uint64
	prev  tlog.Hash
	stack []subtree // perfect subtrees, largest first
	n     uint64
	rep   audit.Report
}

type subtree struct {
	h    tlog.Hash
	size uint64
}

func newInlineVerifier(ctx context.Context, l Checkpointer) (*inlineVerifier, error) {
	v := &inlineVerifier{}
	if l.Size() == 0 {
		return v, nil
	}
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	cp, _, err := audit.OpenCheckpoint(signed, l.VerifierKey())
	if err != nil {
		return nil, err
	}
	if cp.Size > l.Size() {
		return nil, &audit.VerifyError{Index: l.Size(), Problem: audit.ProblemTruncated,
			Msg: fmt.Sprintf("log has %d entries, its signed checkpoint %d", l.Size(), cp.Size)}
	}
	v.cp, v.size = cp, cp.Size
	v.prev = audit.Genesis(cp.Origin)
	v.rep.Origin = cp.Origin
	v.rep.Checkpoint = cp
	return v, nil
}

func (v *inlineVerifier) add(en *audit.Entry) error {
	// Only chained (v1) leaves carry the previous leaf's hash; the tree
	// (its root checked against the checkpoint) orders v2 leaves.
	if en.Chained() && en.Prev != v.prev {
		return &audit.VerifyError{Index: en.Index, Problem: audit.ProblemChain, Msg: "entry does not chain to the one before it"}
	}
	if en.Leaf.Index != en.Index {
		return &audit.VerifyError{Index: en.Index, Problem: audit.ProblemOrder, Msg: "leaf index differs"}
	}
	h := en.Leaf.Hash()
	v.prev = h
	v.n++
	if en.Pruned {
		v.rep.Pruned++
	} else if en.Opening == nil {
		return &audit.VerifyError{Index: en.Index, Problem: audit.ProblemContent, Msg: "entry neither opened nor pruned"}
	}
	if en.Shredded {
		v.rep.Shredded++
	}
	t := subtree{h, 1}
	for len(v.stack) > 0 && v.stack[len(v.stack)-1].size == t.size {
		l := v.stack[len(v.stack)-1]
		v.stack = v.stack[:len(v.stack)-1]
		t = subtree{tlog.NodeHash(l.h, t.h), l.size * 2}
	}
	v.stack = append(v.stack, t)
	return nil
}

func (v *inlineVerifier) finish() (*audit.Report, error) {
	if v.n != v.size {
		return nil, &audit.VerifyError{Index: v.n, Problem: audit.ProblemTruncated, Msg: fmt.Sprintf("read %d entries of %d", v.n, v.size)}
	}
	if v.size == 0 {
		return &v.rep, nil
	}
	root := v.stack[len(v.stack)-1].h
	for i := len(v.stack) - 2; i >= 0; i-- {
		root = tlog.NodeHash(v.stack[i].h, root)
	}
	if root != v.cp.Root {
		return nil, &audit.VerifyError{Index: v.size - 1, Problem: audit.ProblemInconsistent,
			Msg: "tree root differs from the signed checkpoint's"}
	}
	v.rep.Entries = v.size
	v.rep.Root = root
	return &v.rep, nil
}
