package report

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"golang.org/x/mod/sumdb/note"
)

// ErrUnverified: the audit log did not verify against its signed
// checkpoint. Build then returns a report that says so and holds nothing
// else: nothing is reported from entries that are not proven.
var ErrUnverified = errors.New("report: audit log does not verify")

// ErrNoSource: the Source has no log to read, or no way to verify it.
var ErrNoSource = errors.New("report: no audit log or no verifier")

// Reader reads a log's entries by index. audit.Log satisfies it.
//
// Entry must return the entry checked against its leaf (as audit.Log's
// implementations do); it may be called from one goroutine at a time.
type Reader interface {
	Size() uint64
	Entry(ctx context.Context, i uint64) (audit.Entry, error)
}

// Checkpointer is the optional interface of a Reader whose checkpoints
// Build can verify itself (audit.Log satisfies it): the signed checkpoint
// must verify with VerifierKey, and the chain and the tree of the entries it
// covers must match it.
type Checkpointer interface {
	Reader
	Checkpoint(ctx context.Context) ([]byte, error)
	VerifierKey() note.Verifier
}

// Source is what a report is built from.
type Source struct {
	// Log is read entry by entry. Either Log or Entries is required.
	Log Reader
	// Entries, if set, is used instead of Log: it calls fn with each entry
	// from index 0 on, in order, and stops at fn's first error, which it
	// returns (audit.ReadFS fits, with its FS bound).
	Entries func(ctx context.Context, fn func(audit.Entry) error) error
	// Verify verifies the log before anything is read (audit.VerifyFS or
	// audit.VerifyDir fit). Only the first Report.Entries entries are then
	// reported on. Nil: Log must implement Checkpointer, and Build verifies
	// the chain and the tree against the signed checkpoint as it reads.
	Verify func(ctx context.Context) (*audit.Report, error)
	// Catalog lists the recordings still kept (age, deadline, holds).
	// Nil: the retention section holds only what the log says.
	Catalog retention.Catalog
}

// Options selects and tunes a report. The zero value reports on everything
// up to now with the library's defaults.
type Options struct {
	// From (inclusive) and To (exclusive) bound the period reported on,
	// by event time. Zero From: the log's start; zero To: Now.
	From, To time.Time
	// Now is the instant the catalog is judged at (past deadline, ages of
	// recordings and holds). Zero: time.Now().
	Now time.Time
	// Policy, if set, narrows the roles that may open each purpose's
	// recordings to those its rules list (Rule.AccessRoles).
	Policy *policy.Policy
	// MaxPause is the longest card-data pause allowed; zero:
	// recorder.DefaultMaxPause (5 minutes).
	MaxPause time.Duration
	// Grace is how long after its deadline a deletion is still on time;
	// zero: 24 hours (the sweeper's default).
	Grace time.Duration
	// NearSystematic flags an agent whose recorded share is, with 95 %
	// confidence, above it (the lower bound of the Wilson interval).
	// Zero: 0.5. Statute rules are not flagged.
	NearSystematic float64
}

// Defaults used when Options leaves a field zero.
const (
	DefaultMaxPause       = 5 * time.Minute // recorder.DefaultMaxPause
	DefaultGrace          = 24 * time.Hour  // retention.Sweeper's default grace
	DefaultNearSystematic = 0.5
)

func (o Options) withDefaults() Options {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC()
	if o.To.IsZero() {
		o.To = o.Now
	}
	o.From, o.To = o.From.UTC(), o.To.UTC()
	if o.MaxPause <= 0 {
		o.MaxPause = DefaultMaxPause
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.NearSystematic <= 0 {
		o.NearSystematic = DefaultNearSystematic
	}
	return o
}

// Report is a compliance report. Its JSON form (WriteJSON) is stable for
// scripts; every list is sorted.
type Report struct {
	Period     Period      `json:"period"`
	Integrity  Integrity   `json:"integrity"`
	Violations []Violation `json:"violations"`
	Sampling   Sampling    `json:"sampling"`
	Notices    Notices     `json:"notices"`
	Retention  Retention   `json:"retention"`
	Access     Access      `json:"access"`
	Pauses     Pauses      `json:"pauses"`
}

// Period is what the report covers.
type Period struct {
	From time.Time `json:"from"` // inclusive; zero: the log's start
	To   time.Time `json:"to"`   // exclusive
	AsOf time.Time `json:"as_of"`
}

// Violation is a rule found broken, with the entry that shows it.
type Violation struct {
	Kind        string    `json:"kind"` // see the Violation* constants
	Rule        string    `json:"rule"` // the regulation rule, e.g. "R15"
	Time        time.Time `json:"time"`
	Index       *uint64   `json:"index,omitempty"` // the audit entry (consentrec audit prove INDEX); nil: from the catalog
	CallID      string    `json:"call_id,omitempty"`
	RecordingID string    `json:"recording_id,omitempty"`
	Detail      string    `json:"detail"`
}

// Violation kinds.
const (
	ViolationUnverified   = "log-not-verified"         // the audit log does not verify
	ViolationObjection    = "objection-not-purged"     // a recording of a call the caller objected in was not purged (R15)
	ViolationLateDeletion = "late-deletion"            // deleted more than Grace after its deadline (R9, R13)
	ViolationPastDeadline = "past-deadline"            // still catalogued past deadline + Grace, not held (R9, R13)
	ViolationAccessRole   = "access-outside-roles"     // opened by a role its purpose does not allow (R25)
	ViolationPauseTooLong = "pause-too-long"           // a card-data pause longer than MaxPause (R22)
	ViolationIntegrity    = "integrity-failure"        // a recording failed its integrity check (R27)
	ViolationNoNotice     = "recorded-before-notice"   // recording began with no completed notice before it (R14)
	ViolationNoConsent    = "recorded-without-consent" // recording began before the caller's consent, under opt-in (R16)
)

// Share is a proportion k/n with its 95 % Wilson score interval.
type Share struct {
	K     int     `json:"k"`
	N     int     `json:"n"`
	Value float64 `json:"value"` // k/n (0 when n is 0)
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
}

// NewShare returns k/n with its 95 % Wilson interval ([0, 1] when n is 0).
func NewShare(k, n int) Share {
	lo, hi := Wilson(k, n)
	s := Share{K: k, N: n, Low: lo, High: hi}
	if n > 0 {
		s.Value = float64(k) / float64(n)
	}
	return s
}

// Contains reports whether p lies within the interval.
func (s Share) Contains(p float64) bool { return p >= s.Low && p <= s.High }

// String renders "11.8 % [8.9–15.3] of 400".
func (s Share) String() string {
	if s.N == 0 {
		return "n/a (0 calls)"
	}
	return fmt.Sprintf("%s [%s–%s] of %d", pct(s.Value), pctNum(s.Low), pctNum(s.High), s.N)
}

// Integrity is what the verifier found and the integrity events.
type Integrity struct {
	Verified       bool   `json:"verified"`
	Error          string `json:"error,omitempty"`
	Origin         string `json:"origin"`
	Entries        uint64 `json:"entries"` // entries verified and read
	Root           string `json:"root"`    // base64 tree root over them
	CheckpointSize uint64 `json:"checkpoint_size"`
	Unsigned       uint64 `json:"unsigned"` // verified by chain, not yet under a signed checkpoint
	Cosigned       int    `json:"cosigned"`
	InPeriod       uint64 `json:"in_period"` // entries whose time is in the period
	// Pruned counts entries in the period whose payload was pruned by the
	// log's retention (leaf only: kind and time), by kind.
	Pruned       uint64      `json:"pruned"`
	PrunedByKind []KindCount `json:"pruned_by_kind"`
	Shredded     uint64      `json:"shredded"` // entries in the period whose subject was crypto-shredded
	Failures     []Finding   `json:"failures"` // integrity failures in the period
	// Breaches are the events of the period to assess for notification
	// to the supervisory authority within 72 hours (GDPR Art. 33):
	// integrity failures and accesses outside the purpose's roles.
	Breaches    []Finding `json:"breaches"`
	AuditPrunes []Finding `json:"audit_prunes"` // the log's own retention runs (KindAuditPruned)
}

// KindCount is a count per audit kind.
type KindCount struct {
	Kind  string `json:"kind"`
	Count uint64 `json:"count"`
}

// Finding is one notable entry.
type Finding struct {
	Time        time.Time `json:"time"`
	Index       uint64    `json:"index"`
	CallID      string    `json:"call_id,omitempty"`
	RecordingID string    `json:"recording_id,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	Detail      string    `json:"detail"`
}

// Build verifies the log of src, then reads it and src.Catalog once and
// returns the report of the period opts selects.
//
// When the log does not verify, Build returns a report holding only its
// Integrity section and one ViolationUnverified, with an error wrapping
// ErrUnverified. Other errors (reading the log or the catalog, ctx) return
// no report. Build honours ctx between entries.
func Build(ctx context.Context, src Source, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	if opts.To.Before(opts.From) {
		return nil, fmt.Errorf("report: period ends (%s) before it starts (%s)", opts.To.Format(time.RFC3339), opts.From.Format(time.RFC3339))
	}
	rep := &Report{Period: Period{From: opts.From, To: opts.To, AsOf: opts.Now}}
	a := newAnalyzer(opts, rep)

	var (
		limit uint64
		inv   *inlineVerifier
	)
	switch {
	case src.Log == nil && src.Entries == nil:
		return nil, fmt.Errorf("report: %w", ErrNoSource)
	case src.Verify != nil:
		vr, err := src.Verify(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("report: verify: %w", err)
			}
			return rep.unverified(err), fmt.Errorf("%w: %w", ErrUnverified, err)
		}
		rep.setVerified(vr)
		limit = vr.Entries
	default:
		cp, ok := src.Log.(Checkpointer)
		if !ok {
			return nil, fmt.Errorf("report: no Verify and the log cannot be verified: %w", ErrNoSource)
		}
		var err error
		inv, err = newInlineVerifier(ctx, cp)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("report: verify: %w", err)
			}
			return rep.unverified(err), fmt.Errorf("%w: %w", ErrUnverified, err)
		}
		limit = inv.size
	}

	// One call per few entries: sizing the map once spares its rehashes.
	a.calls = make(map[string]*callState, min(limit/2, 1<<22))
	next := uint64(0)
	visit := func(en audit.Entry) error {
		if en.Index != next {
			return &audit.VerifyError{Index: next, Problem: audit.ProblemGap, Msg: fmt.Sprintf("entry %d read where %d was expected", en.Index, next)}
		}
		if inv != nil {
			if err := inv.add(&en); err != nil {
				return err
			}
		}
		next++
		a.entry(&en)
		return nil
	}
	var err error
	if src.Entries != nil {
		errStop := errors.New("stop")
		err = src.Entries(ctx, func(en audit.Entry) error {
			if next >= limit {
				return errStop
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			return visit(en)
		})
		if errors.Is(err, errStop) {
			err = nil
		}
	} else {
		err = readAhead(ctx, src.Log, limit, visit)
	}
	if err == nil && next < limit {
		err = &audit.VerifyError{Index: next, Problem: audit.ProblemTruncated, Msg: fmt.Sprintf("log ended at %d entries, %d verified", next, limit)}
	}
	if err == nil && inv != nil {
		var vr *audit.Report
		if vr, err = inv.finish(); err == nil {
			rep.setVerified(vr)
		}
	}
	if err != nil {
		// An entry that cannot be read back and checked against its leaf
		// is as unproven as one that does not chain.
		if ctx.Err() == nil {
			r := &Report{Period: rep.Period}
			return r.unverified(err), fmt.Errorf("%w: %w", ErrUnverified, err)
		}
		return nil, fmt.Errorf("report: read log: %w", err)
	}
	if err := a.catalog(ctx, src.Catalog); err != nil {
		return nil, fmt.Errorf("report: catalog: %w", err)
	}
	a.finish()
	return rep, nil
}

func (r *Report) unverified(err error) *Report {
	r.Integrity = Integrity{Verified: false, Error: err.Error()}
	r.Violations = []Violation{{Kind: ViolationUnverified, Rule: "R26", Time: r.Period.AsOf,
		Detail: "the audit log does not verify against its signed checkpoint: " + err.Error()}}
	return r
}

func (r *Report) setVerified(vr *audit.Report) {
	r.Integrity.Verified = true
	r.Integrity.Origin = vr.Origin
	r.Integrity.Entries = vr.Entries
	r.Integrity.Root = base64.StdEncoding.EncodeToString(vr.Root[:])
	r.Integrity.CheckpointSize = vr.Checkpoint.Size
	r.Integrity.Unsigned = vr.Unsigned()
	r.Integrity.Cosigned = vr.Cosigned
}

// Summary is the report in one line: period, calls decided and recorded,
// violations, and the root of the log reported on.
func (r *Report) Summary() string {
	period := r.Period.String()
	if !r.Integrity.Verified {
		return fmt.Sprintf("report %s: AUDIT LOG DOES NOT VERIFY (%s): nothing reported", period, r.Integrity.Error)
	}
	return fmt.Sprintf("report %s: %d calls decided, %d recorded (%s); %d violation(s); %d entries, root %s",
		period, r.Sampling.Decided, r.Sampling.Recorded, pct(r.Sampling.Share.Value), len(r.Violations),
		r.Integrity.Entries, r.Integrity.Root)
}

// String renders the period as "2026-11-01..2026-11-30" (whole days) or
// with times.
func (p Period) String() string {
	from := "start"
	if !p.From.IsZero() {
		from = fmtDay(p.From, false)
	}
	return from + ".." + fmtDay(p.To, true)
}

// fmtDay renders t as a day when it is midnight (for an exclusive end, the
// day before), else as RFC 3339.
func fmtDay(t time.Time, end bool) string {
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		if end {
			t = t.AddDate(0, 0, -1)
		}
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

func pct(v float64) string { return pctNum(v) + " %" }

func pctNum(v float64) string { return fmt.Sprintf("%.1f", v*100) }

// readAhead reads entries 0..limit-1 of l in a goroutine of its own, a few
// batches ahead of visit: decoding and checking entries (the log's work)
// overlaps verifying and analysing them (ours). Entry is called from that
// one goroutine only. It returns the first error of either side.
func readAhead(ctx context.Context, l Reader, limit uint64, visit func(audit.Entry) error) error {
	const batch = 512
	type chunk struct {
		ens []audit.Entry
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan chunk, 4)
	free := make(chan []audit.Entry, 6) // batches visited, to fill again
	go func() {
		defer close(ch)
		for i := uint64(0); i < limit; {
			var c chunk
			select {
			case ens := <-free:
				c.ens = ens[:0]
			default:
				c.ens = make([]audit.Entry, 0, batch)
			}
			for ; i < limit && len(c.ens) < batch; i++ {
				en, err := l.Entry(ctx, i)
				if err == nil {
					err = ctx.Err()
				}
				if err != nil {
					c.err = err
					break
				}
				c.ens = append(c.ens, en)
			}
			select {
			case ch <- c:
			case <-ctx.Done():
				return
			}
			if c.err != nil {
				return
			}
		}
	}()
	for c := range ch {
		for i := range c.ens {
			if err := visit(c.ens[i]); err != nil {
				cancel()
				for range ch { // let the reader finish
				}
				return err
			}
		}
		if c.err != nil {
			return c.err
		}
		clear(c.ens) // drop the events: the next fill must not keep them alive
		select {
		case free <- c.ens:
		default:
		}
	}
	return ctx.Err()
}
