package audit

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ProblemStripped: an entry's payload or subject link is missing, and no
// signed prune or shred event covers it (see coverage).
const ProblemStripped Problem = "stripped"

// A payload may be absent only where a signed KindAuditPruned event
// covers it, a subject link only where a signed KindAuditShredded event
// lists it. coverage collects, during a scan, those events and what is
// missing; check then matches them. Memory: a few words per prune or shred
// event and per shredded entry, and one run per kind of pruned entries.
type coverage struct {
	prunes  []pruneCover
	shreds  []shredCover
	runs    map[Kind]*pruneRun // pruned entries, one run per kind
	evPrune *VerifyError       // a prune or shred event was itself pruned
}

type pruneCover struct {
	at, upto uint64 // the event's index; it covers entries below upto
	before   int64  // cutoff, Unix nanoseconds
	kinds    []Kind // nil: every kind
}

type shredCover struct {
	at     uint64
	ranges [][2]uint64 // inclusive, ascending
}

// pruneRun summarises the pruned entries of one kind: the first and last
// index, the offset of the first, and the latest time.
type pruneRun struct {
	first, last uint64
	off         int64
	maxTime     int64
}

// addPruned notes a pruned entry (its leaf; no payload).
func (c *coverage) addPruned(l *Leaf, off int64) {
	if l.Kind == KindAuditPruned || l.Kind == KindAuditShredded {
		if c.evPrune == nil {
			c.evPrune = &VerifyError{Index: l.Index, Offset: off, Problem: ProblemStripped,
				Msg: fmt.Sprintf("the payload of a %v event, which must never be pruned, is missing", l.Kind)}
		}
		return
	}
	if c.runs == nil {
		c.runs = map[Kind]*pruneRun{}
	}
	t := l.Time.UnixNano()
	r := c.runs[l.Kind]
	if r == nil {
		c.runs[l.Kind] = &pruneRun{first: l.Index, last: l.Index, off: off, maxTime: t}
		return
	}
	r.last, r.maxTime = l.Index, max(r.maxTime, t)
}

// addEvent notes a prune or shred event (payload present; its commitment
// is checked by the content stage). An event that does not parse, or has
// no actor, covers nothing.
func (c *coverage) addEvent(l *Leaf, payload []byte) {
	e, _, err := DecodeEvent(payload)
	if err != nil || e.Actor == "" {
		return
	}
	switch l.Kind {
	case KindAuditPruned:
		p := pruneCover{at: l.Index, upto: l.Index}
		var hasBefore bool
		for _, a := range e.Attrs {
			switch a.Key {
			case "before":
				t, err := time.Parse(time.RFC3339Nano, a.Value)
				if err != nil || !validTime(t) {
					return
				}
				p.before, hasBefore = t.UnixNano(), true
			case "upto":
				n, err := strconv.ParseUint(a.Value, 10, 64)
				if err != nil {
					return
				}
				p.upto = min(n, l.Index)
			case "kinds":
				for _, name := range strings.Split(a.Value, ",") {
					k, ok := kindByName(name)
					if !ok {
						return
					}
					p.kinds = append(p.kinds, k)
				}
			}
		}
		if hasBefore {
			c.prunes = append(c.prunes, p)
		}
	case KindAuditShredded:
		s := shredCover{at: l.Index}
		for _, a := range e.Attrs {
			if a.Key != "entries" {
				continue
			}
			rs, ok := parseRanges(a.Value)
			if !ok {
				return
			}
			s.ranges = append(s.ranges, rs...)
		}
		sort.Slice(s.ranges, func(i, j int) bool { return s.ranges[i][0] < s.ranges[j][0] })
		for j := 1; j < len(s.ranges); j++ {
			if s.ranges[j][0] <= s.ranges[j-1][1] {
				return // overlapping ranges: not what a log writes
			}
		}
		c.shreds = append(c.shreds, s)
	}
}

// parseRanges parses "3-5,9" into inclusive ranges.
func parseRanges(s string) ([][2]uint64, bool) {
	var out [][2]uint64
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return nil, false
		}
		hi := lo
		if isRange {
			if hi, err = strconv.ParseUint(b, 10, 64); err != nil || hi < lo {
				return nil, false
			}
		}
		out = append(out, [2]uint64{lo, hi})
	}
	return out, true
}

func kindByName(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name && Kind(k).Valid() {
			return Kind(k), true
		}
	}
	return 0, false
}

// covers reports whether prune event p, signed (at < signed), covers an
// entry of kind k at index i and time t (Unix nanoseconds).
func (p *pruneCover) covers(i uint64, k Kind, t int64, signed uint64) bool {
	return p.at < signed && i < p.upto && t < p.before && (p.kinds == nil || PruneMatches(k, p.kinds))
}

// pruneProblem returns the first pruned entry that no signed prune event
// covers (nil if none). A run covered as a whole by one event needs no
// further reading; otherwise its records are read again from r, each
// checked on its own.
func (c *coverage) pruneProblem(r io.ReaderAt, end int64, signed uint64) *VerifyError {
	bad := c.evPrune
	for k, run := range c.runs {
		if bad != nil && bad.Index < run.first {
			continue
		}
		whole := false
		for i := range c.prunes {
			if c.prunes[i].covers(run.last, k, run.maxTime, signed) {
				whole = true
				break
			}
		}
		if whole {
			continue
		}
		if ve := c.checkRun(r, end, k, run, signed); ve != nil && (bad == nil || ve.Index < bad.Index) {
			bad = ve
		}
	}
	return bad
}

func (c *coverage) checkRun(r io.ReaderAt, end int64, k Kind, run *pruneRun, signed uint64) *VerifyError {
	rr := &recordReader{r: bufio.NewReaderSize(io.NewSectionReader(r, run.off, end-run.off), 1<<16), rawSubject: true}
	off := run.off
	for {
		rec, size, err := rr.next()
		if err != nil || rec.leaf.Index > run.last {
			// Every record up to run.last was read by the scan already.
			return nil
		}
		if rec.open == nil && rec.leaf.Kind == k {
			t := rec.leaf.Time.UnixNano()
			ok := false
			for i := range c.prunes {
				if c.prunes[i].covers(rec.leaf.Index, k, t, signed) {
					ok = true
					break
				}
			}
			if !ok {
				return &VerifyError{Index: rec.leaf.Index, Offset: off, Problem: ProblemStripped,
					Msg: fmt.Sprintf("the %v entry's payload is missing, and no signed prune event covers it", k)}
			}
		}
		off += size
	}
}

// shredProblem returns the first shredded entry (at, with offsets offs)
// that no signed shred event after it lists.
func (c *coverage) shredProblem(at []uint64, offs []int64, signed uint64) *VerifyError {
	for n, i := range at {
		ok := false
		for _, s := range c.shreds {
			if s.at <= i || s.at >= signed {
				continue
			}
			k := sort.Search(len(s.ranges), func(j int) bool { return s.ranges[j][1] >= i })
			for ; k < len(s.ranges) && s.ranges[k][0] <= i; k++ {
				if s.ranges[k][1] >= i {
					ok = true
					break
				}
			}
			if ok {
				break
			}
		}
		if !ok {
			return &VerifyError{Index: i, Offset: offs[n], Problem: ProblemStripped,
				Msg: "the subject link is missing, and no signed shred event lists the entry"}
		}
	}
	return nil
}
