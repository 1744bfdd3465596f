package consentrec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/internal/atomicfile"
	"github.com/consentrec/consentrec/notice"
	"github.com/consentrec/consentrec/notice/sampleprompts"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// Errors of the Service and its calls. Check them with errors.Is.
var (
	// ErrClosed: the Service was shut down (or closed): Call refuses new
	// calls.
	ErrClosed = errors.New("consentrec: service closed")
	// ErrCallEnded: the call was hung up: every method but Hangup (which
	// returns the same result again) and the read-only ones returns it.
	ErrCallEnded = errors.New("consentrec: call ended")
	// ErrNoOutput: a prompt must be played to a party whose output the
	// host has not given (Call.Output).
	ErrNoOutput = errors.New("consentrec: no audio output for the party")
)

// Options configure a Service. The zero value is the embedded default: every
// nil backend is opened once inside Open from the DataDir (the audit log in
// audit/, recordings in recordings/, the catalog in catalog.db, secrets in
// keys/), and the Service closes what it opened. A backend given here is
// used as is and never closed by the Service.
type Options struct {
	// Policy is the recording policy. Nil: the zero Policy, which records
	// nothing (privacy by default). Ignored when Engine is set.
	Policy *policy.Policy
	// Engine decides; nil: policy.New(Policy, {Key, Counter, Audit: the
	// log}). An engine given here should audit its decisions
	// (policy.Options.Audit) to the same log.
	Engine *policy.Engine
	// Key is the secret of the sampling draw. Nil: keys/sampling.key,
	// created (32 random bytes) on first use.
	Key []byte
	// Counter keeps caps and grids. Nil: a policy.FileCounter in
	// policy-counts under the data directory.
	Counter policy.Counter
	// AgentNoticeVersion is the version of the employee notice in force
	// (R19: e.g. the SHA-256 of its text, as `consentrec agent ack`
	// records it). When set, a call whose agent has not acknowledged it is
	// not recorded (reason agent-not-informed). Empty: agents not checked.
	AgentNoticeVersion string
	// AgentNotices answers which version each agent acknowledged. Nil with
	// AgentNoticeVersion set: the data directory's agent-notices.jsonl.
	AgentNotices policy.AgentNotices

	// Log is the audit log every step goes to. Nil: audit.OpenDir.
	Log audit.Log
	// Store keeps recordings. Nil: recorder.NewFileStore(DataDir.Recordings()).
	// Wrap it (recorder/agestore) to encrypt at rest.
	Store recorder.Store
	// Catalog knows every recording and its deadline. Nil: the SQLite
	// catalog at DataDir.Catalog().
	Catalog retention.Catalog
	// SubjectSecret keys the callers' pseudonyms (policy.SubjectKey).
	// Nil: keys/subject-hash.key, created on first use.
	SubjectSecret []byte

	// Notices are the notices played to callers before recording, by
	// language and profile. Nil: notice/sampleprompts (espeak samples:
	// record your own for production).
	Notices *notice.Library
	// Announcements are played before a recording starts mid-call (an
	// agent's or supervisor's start, R17). Nil: sampleprompts.RecordingNow.
	Announcements *notice.Library
	// Encoders prepare prompts for the calls' codecs. Nil: G.711 only
	// (notice.G711Encoders); set opusprompt.Encoders for Opus calls
	// (WebRTC), which links a pure-Go Opus encoder.
	Encoders notice.EncoderFactory
	// Keys maps the caller's keys to answers. Zero: 9 objects, nothing
	// consents (set Consent for opt-in profiles, and say it in the notice).
	Keys notice.Keys
	// Language is the notice language when a call gives none. Empty: "en".
	Language string
	// Beep, when positive, plays a short tone to the caller every Beep
	// while a call is recorded (Asterisk's MixMonitor B()). Zero: no beep.
	Beep time.Duration

	// Layout of the recordings. Zero: recorder.LayoutDual.
	Layout recorder.Layout
	// MaxPause bounds a card-data pause: past it the call resumes by itself
	// (actor "system"), everywhere at once. Zero: recorder.DefaultMaxPause
	// (3 minutes); at most recorder.MaxMaxPause (10 minutes, R22).
	MaxPause time.Duration
	// Writers writes the pages of every call's recordings to Store, off
	// the media path: its goroutines and its bounded queue (Goroutines,
	// QueueBytes, RecordingBytes) are shared by all the Service's calls.
	// Size it for the Store (a slow, remote one needs a longer queue; a
	// page that finds the queue full is lost, counted and put in the gap
	// index, see recorder.Writers) and read its Stats. Nil: the Service's
	// own, with the defaults of recorder.Writers.
	Writers *recorder.Writers
	// OnKey, when set, is told of the keys the caller presses, always
	// masked (Digit zero, Masked set): hosts see that a key was pressed,
	// never which, so card digits can never reach their logs (PCI DSS,
	// R21-R23). Called from the media goroutine: it must not block.
	OnKey func(callID string, k recorder.DTMF)

	// Logger receives operational logs (never personal data). Nil: discard.
	Logger *slog.Logger
}

// Service records calls under a policy: it is opened once, is long-lived
// and safe for concurrent use (like a *sql.DB), and hands out one *Call per
// call, which holds that call's state until Hangup (like a *sql.Tx). Every
// step goes to the audit log before it is reported done.
type Service struct {
	dir      DataDir
	opts     Options
	log      audit.Log
	store    recorder.Store
	catalog  retention.Catalog
	engine   *policy.Engine
	notices  *notice.Library
	announce *notice.Library
	cache    *notice.Cache
	secret   []byte
	beep     *notice.Prompt
	clock    *recorder.Clock // one flush ticker for every call's recorder
	logger   *slog.Logger
	closers  []io.Closer

	mu       sync.Mutex
	calls    map[string]*Call
	closed   bool
	drained  chan struct{} // closed when the last call ends after Shutdown
	shutdown bool
}

// Open opens a Service on a data directory (see Options for what the zero
// value opens). It finalizes and catalogues the recordings a crash left
// behind before returning (recorder.Recover): a recording is never outside
// the catalog, whatever path finalized it.
func Open(ctx context.Context, dir DataDir, opts Options) (_ *Service, err error) {
	if dir.Root == "" && (opts.Log == nil || opts.Store == nil || opts.Catalog == nil ||
		(opts.Engine == nil && opts.Key == nil) || opts.SubjectSecret == nil) {
		return nil, fmt.Errorf("consentrec: open: DataDir.Root is empty and a backend is missing")
	}
	if opts.MaxPause < 0 || opts.MaxPause > recorder.MaxMaxPause {
		return nil, fmt.Errorf("consentrec: open: MaxPause %v: at most %v (R22): %w", opts.MaxPause, recorder.MaxMaxPause, recorder.ErrConfig)
	}
	s := &Service{dir: dir, opts: opts, calls: map[string]*Call{}, logger: opts.Logger, clock: recorder.NewClock()}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			s.closeOwned()
		}
	}()
	if dir.Root != "" {
		if err := os.MkdirAll(dir.Keys(), 0o700); err != nil {
			return nil, fmt.Errorf("consentrec: open: %w", err)
		}
	}
	if s.log = opts.Log; s.log == nil {
		fl, err := audit.OpenDir(ctx, dir.Root, audit.Options{})
		if err != nil {
			return nil, fmt.Errorf("consentrec: open: audit: %w", err)
		}
		s.log = fl
		s.closers = append(s.closers, fl)
	}
	if s.store = opts.Store; s.store == nil {
		fs, err := recorder.NewFileStore(dir.Recordings())
		if err != nil {
			return nil, fmt.Errorf("consentrec: open: recordings: %w", err)
		}
		s.store = fs
	}
	if s.catalog = opts.Catalog; s.catalog == nil {
		cat, err := sqlitecatalog.Open(ctx, dir.Catalog())
		if err != nil {
			return nil, fmt.Errorf("consentrec: open: catalog: %w", err)
		}
		s.catalog = cat
		s.closers = append(s.closers, cat)
	}
	if s.secret = opts.SubjectSecret; s.secret == nil {
		if s.secret, err = retention.SubjectSecret(dir.Keys(), true); err != nil {
			return nil, fmt.Errorf("consentrec: open: %w", err)
		}
	}
	if s.engine = opts.Engine; s.engine == nil {
		key := opts.Key
		if key == nil {
			if key, err = samplingKey(filepath.Join(dir.Keys(), "sampling.key")); err != nil {
				return nil, fmt.Errorf("consentrec: open: %w", err)
			}
		}
		counter := opts.Counter
		if counter == nil && dir.Root != "" {
			fc, err := policy.OpenFileCounter(filepath.Join(dir.Root, "policy-counts"))
			if err != nil {
				return nil, fmt.Errorf("consentrec: open: %w", err)
			}
			counter = fc
			s.closers = append(s.closers, fc)
		}
		notices := opts.AgentNotices
		if opts.AgentNoticeVersion != "" && notices == nil {
			nf, err := policy.OpenAgentNoticeFile(dir.AgentNotices(), s.log)
			if err != nil {
				return nil, fmt.Errorf("consentrec: open: %w", err)
			}
			notices = nf
			s.closers = append(s.closers, nf)
		}
		if s.engine, err = policy.New(opts.Policy, policy.Options{Key: key, Counter: counter, Audit: s.log,
			AgentNoticeVersion: opts.AgentNoticeVersion, AgentNotices: notices}); err != nil {
			return nil, fmt.Errorf("consentrec: open: %w", err)
		}
		pol := s.engine.Policy()
		if _, err := s.log.Append(ctx, audit.Event{Kind: audit.KindPolicyChange, Actor: "system",
			PolicyVersion: s.engine.Version(), Reason: "policy loaded: " + pol.Name}); err != nil {
			return nil, fmt.Errorf("consentrec: open: audit: %w", err)
		}
	}
	if s.notices = opts.Notices; s.notices == nil {
		if s.notices, err = defaultNotices(); err != nil {
			return nil, fmt.Errorf("consentrec: open: notices: %w", err)
		}
	}
	if s.announce = opts.Announcements; s.announce == nil {
		if s.announce, err = defaultAnnouncements(); err != nil {
			return nil, fmt.Errorf("consentrec: open: announcements: %w", err)
		}
	}
	s.cache = &notice.Cache{Encoders: opts.Encoders}
	if opts.Beep > 0 {
		if s.beep, err = notice.BeepPrompt(1400, 200*time.Millisecond); err != nil {
			return nil, fmt.Errorf("consentrec: open: %w", err)
		}
	}
	if opts.Language == "" {
		s.opts.Language = "en"
	}
	if err := s.recover(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// The sample prompts are decoded once per process: a Library is safe for
// concurrent use and never changed once built.
var (
	defaultNotices       = sync.OnceValues(sampleprompts.Library)
	defaultAnnouncements = sync.OnceValues(sampleprompts.RecordingNow)
)

// recover finalizes what a crash left behind and catalogues it, as Hangup
// would have.
func (s *Service) recover(ctx context.Context) error {
	recs, err := Recover(ctx, s.store, s.log, s.catalog)
	if len(recs) > 0 {
		s.logger.Info("recovered recordings left by a crash", "count", len(recs))
	}
	if err != nil {
		return fmt.Errorf("consentrec: open: %w", err)
	}
	return nil
}

// Recover finalizes the recordings a crash left unfinalized in store
// (recorder.Recover) and catalogues each one (Catalogue) with the purpose,
// lawful basis, deadline and subject its grant fixed, so that it is swept
// at its deadline and found by its subject's erasure like any other. It
// also catalogues finalized recordings missing from the catalog (a crash
// between finalization and cataloguing). Open calls it; so do the CLI's
// recover commands. Call it before recording into store.
func Recover(ctx context.Context, store recorder.Store, log audit.Appender, cat retention.Catalog) ([]retention.Recording, error) {
	metas, err := recorder.Recover(ctx, store, log)
	if err != nil {
		err = fmt.Errorf("recover: %w", err)
	}
	all, lerr := store.List(ctx)
	if lerr != nil {
		return nil, errors.Join(err, fmt.Errorf("recover: %w", lerr))
	}
	recovered := map[string]bool{}
	for _, m := range metas {
		recovered[m.ID] = true
	}
	var recs []retention.Recording
	for _, m := range all {
		if m.State != recorder.StateFinalized {
			continue
		}
		if !recovered[m.ID] {
			if _, gerr := cat.Get(ctx, m.ID); gerr == nil || !errors.Is(gerr, retention.ErrNotFound) {
				continue // catalogued (or the catalog cannot tell: left for the next run)
			}
		}
		r, cerr := Catalogue(ctx, cat, log, m)
		if cerr != nil {
			err = errors.Join(err, cerr)
			continue
		}
		recs = append(recs, r)
	}
	return recs, err
}

// samplingKey reads the sampling key at path, creating a random one whole
// (or not at all) on first use.
func samplingKey(path string) ([]byte, error) {
	b, err := atomicfile.Secret(path, true)
	if err != nil {
		return nil, fmt.Errorf("sampling key: %w", err)
	}
	return b, nil
}

// Engine returns the policy engine deciding the calls.
func (s *Service) Engine() *policy.Engine { return s.engine }

// Log returns the audit log.
func (s *Service) Log() audit.Log { return s.log }

// Store returns the recordings store.
func (s *Service) Store() recorder.Store { return s.store }

// Catalog returns the retention catalog.
func (s *Service) Catalog() retention.Catalog { return s.catalog }

// SubjectKey returns the pseudonym of a caller's identifier (phone number,
// customer id) under the service's secret: what the catalog and the audit
// log hold instead of the identifier.
func (s *Service) SubjectKey(id string) string { return policy.SubjectKey(s.secret, id) }

// Call begins a call: the policy decides (and audits its decision) and the
// returned *Call drives the rest in order: notice, answers, recording,
// pauses, hang-up. Selected and non-selected calls alike get a Call (keys are
// handled, nothing is recorded unless the policy allows). A call id, agent
// id or line the policy or catalog would refuse is refused here with the same
// typed errors (e.g. recorder.ErrConfig for a call id over 1024 bytes).
// After Shutdown or Close, Call returns ErrClosed.
func (s *Service) Call(ctx context.Context, info policy.CallInfo, opts ...CallOptions) (*Call, error) {
	var co CallOptions
	if len(opts) > 1 {
		return nil, fmt.Errorf("consentrec: call: at most one CallOptions")
	}
	if len(opts) == 1 {
		co = opts[0]
	}
	if err := validCallInfo(info, co); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed || s.shutdown {
		s.mu.Unlock()
		return nil, fmt.Errorf("consentrec: call %s: %w", info.ID, ErrClosed)
	}
	if _, dup := s.calls[info.ID]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("consentrec: call %s: a call with this id is in progress: %w", info.ID, recorder.ErrConfig)
	}
	s.calls[info.ID] = nil // reserve the id
	s.mu.Unlock()
	c, err := newCall(ctx, s, info, co)
	s.mu.Lock()
	if err != nil {
		delete(s.calls, info.ID)
	} else {
		s.calls[info.ID] = c
	}
	s.mu.Unlock()
	return c, err
}

// CallOptions are what a host may know of a call beyond policy.CallInfo.
type CallOptions struct {
	// Language of the caller's prompts (BCP 47, e.g. "fr", "de-AT").
	// Empty: Options.Language.
	Language string
	// Caller identifies the caller (phone number, customer id) so that a
	// subject access or erasure request finds the recording. It is never
	// stored: only its keyed hash (Service.SubjectKey) is.
	Caller string
	// OnChange, when set, is told of the call's status after every change
	// (decision, capture, pause, hang-up), in order, from the goroutine that
	// made the change: it must not block nor call the Call's methods (hand
	// the status to another goroutine, e.g. a WebRTC data channel's send).
	OnChange func(Status)
}

// Status is what a call's user interface shows: the decision, whether audio
// is being captured, whether the call is paused for card data.
type Status struct {
	CallID    string
	Decision  policy.Decision
	Recording bool // audio is being captured now
	Paused    bool // card-data pause
	Ended     bool // hung up
}

func validCallInfo(info policy.CallInfo, co CallOptions) error {
	switch {
	case info.ID == "":
		return fmt.Errorf("consentrec: call: empty call id: %w", recorder.ErrConfig)
	case len(info.ID) > recorder.MaxCallIDLen:
		return fmt.Errorf("consentrec: call: call id of %d bytes, at most %d: %w", len(info.ID), recorder.MaxCallIDLen, recorder.ErrConfig)
	case len(info.Agent) > recorder.MaxCallIDLen:
		return fmt.Errorf("consentrec: call %s: agent id of %d bytes, at most %d: %w", info.ID, len(info.Agent), recorder.MaxCallIDLen, recorder.ErrConfig)
	case len(info.Line) > recorder.MaxCallIDLen:
		return fmt.Errorf("consentrec: call %s: line of %d bytes, at most %d: %w", info.ID, len(info.Line), recorder.MaxCallIDLen, recorder.ErrConfig)
	case len(co.Language) > 35:
		return fmt.Errorf("consentrec: call %s: language tag of %d bytes: %w", info.ID, len(co.Language), recorder.ErrConfig)
	}
	for _, r := range co.Language {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("consentrec: call %s: language %q is not a BCP 47 tag: %w", info.ID, co.Language, recorder.ErrConfig)
		}
	}
	return nil
}

// Calls returns the number of calls in progress.
func (s *Service) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func (s *Service) ended(c *Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls[c.info.ID] == c {
		delete(s.calls, c.info.ID)
	}
	if s.shutdown && len(s.calls) == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
}

// Shutdown stops accepting calls (Call returns ErrClosed) and waits for the
// calls in progress to hang up, or for ctx to end: then it hangs them up
// itself (finalizing and cataloguing what they recorded). It then closes
// what Open opened. It is safe to call more than once.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.shutdown = true
	var wait chan struct{}
	if len(s.calls) > 0 {
		wait = make(chan struct{})
		s.drained = wait
	}
	s.mu.Unlock()
	var err error
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			err = s.hangupAll(context.WithoutCancel(ctx))
		}
	}
	return errors.Join(err, s.Close())
}

func (s *Service) hangupAll(ctx context.Context) error {
	s.mu.Lock()
	var calls []*Call
	for _, c := range s.calls {
		if c != nil {
			calls = append(calls, c)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, c := range calls {
		if _, err := c.Hangup(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close hangs up every call in progress and closes what Open opened (the
// audit log signs its final checkpoint). Backends given in Options are left
// open.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.shutdown = true
	s.mu.Unlock()
	err := s.hangupAll(context.Background())
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return errors.Join(err, s.closeOwned())
}

func (s *Service) closeOwned() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}
