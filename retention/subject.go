package retention

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/internal/atomicfile"
	"github.com/consentrec/consentrec/policy"
)

// responseTime is the GDPR deadline to answer a data subject's request.
var responseTime = policy.Months(1)

// ResponseDue returns when a request received at received must be answered:
// one month later (GDPR Art. 12(3); extendable by two months with notice).
func ResponseDue(received time.Time) time.Time { return responseTime.AddTo(received.UTC()) }

// Subjects serves data subjects' rights over their recordings (R29-R30):
// finding them by subject key, exporting them (audio and metadata, in a
// folder or a zip a person can open) and erasing them, refusing with the
// reason those under legal hold or kept under a legal obligation. Every
// request and its outcome is audited (KindSubjectExport, KindErasure), with
// one entry per recording exported, erased or refused.
//
// Catalog, Store, Audit and Authorizer are required. Safe for concurrent use.
type Subjects struct {
	Catalog Catalog
	Store   Store
	Audit   audit.Appender
	Now     func() time.Time // nil: time.Now
	// Authorizer authenticates who handles a request (Request.Handler is
	// only their claim); they must hold RoleDPO (R25).
	Authorizer Authorizer
	// IsIntegrity: see Gate.IsIntegrity.
	IsIntegrity func(error) bool
	// Redact writes to w the customer's channel only of the two-channel
	// Ogg Opus recording it reads from r (to its end), without
	// transcoding: fromrecorder.CustomerOnly (recorder.ExtractLeg). A data
	// subject's copy of a dual-channel recording goes through it (GDPR Art.
	// 15(4), R29); without it such a recording is not exported (listed in
	// Failed with the reason), never handed over with the agent's voice.
	Redact func(r io.Reader, w io.Writer) error
	// KeepOtherVoices exports dual-channel recordings whole, the other
	// party's (the agent's) voice included, and Redact is not used. Off by
	// default.
	KeepOtherVoices bool
	// Progress, if set, is called after each recording of an export or an
	// erasure with the count done and the total.
	Progress func(done, total int)
	// ShredAudit: after an erasure that left no recording of the subject,
	// crypto-shred the subject in the audit log (its earlier entries become
	// unlinkable to them), if Audit has the optional Shredder method
	// (audit.FileLog does). The erasure's outcome entry, appended after,
	// stays linked: it proves the request was served. Off by default.
	ShredAudit bool
}

// Shredder is the optional audit-log capability ShredAudit uses.
type Shredder interface {
	Shred(ctx context.Context, subject string) (int, error)
}

// Request is a data subject's request.
type Request struct {
	Subject   string    // policy.SubjectKey of the person
	Received  time.Time // when the request arrived; zero: now
	Handler   string    // who says they handle it: a claim the Authorizer checks; the audit actor is who it authenticates
	Reference string    // the request's own reference (ticket number), audited
}

// Failure is a recording a request could not be served for.
type Failure struct {
	ID  string
	Err error
}

// Refusal is a recording a request may not touch, and why.
type Refusal struct {
	ID     string
	Reason string
	Err    error // ErrHeld or ErrNotErasable
}

// ExportReport is the outcome of an export.
type ExportReport struct {
	Subject    string
	Received   time.Time
	Due        time.Time // ResponseDue(Received)
	Done       time.Time
	Late       bool     // Done after Due
	Files      []string // names written, relative to the folder or zip root
	Exported   []string // recording ids exported
	Failed     []Failure
	Recordings []Recording // the subject's recordings found (those pending deletion excluded)
}

// ErasureReport is the outcome of an erasure.
type ErasureReport struct {
	Subject  string
	Received time.Time
	Due      time.Time
	Done     time.Time
	Late     bool
	Erased   []Deleted
	Refused  []Refusal
	Failed   []Failure // not erased yet: the next sweep finishes those begun
	Shredded int       // audit entries crypto-shredded (see ShredAudit)
}

func (s *Subjects) check(ctx context.Context, op string, a Action, req *Request) error {
	if s.Catalog == nil || s.Store == nil || s.Audit == nil || s.Authorizer == nil {
		return fmt.Errorf("%s: catalog, store, audit log and authorizer are required: %w", op, ErrNotConfigured)
	}
	return s.authorize(ctx, op, a, req)
}

// authorize validates req and authenticates who handles it (RoleDPO),
// auditing a refusal; req.Handler becomes who the Authorizer names.
func (s *Subjects) authorize(ctx context.Context, op string, a Action, req *Request) error {
	if req.Subject == "" {
		return fmt.Errorf("%s: %w", op, invalid("subject", "empty"))
	}
	if err := validSubject(req.Subject); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if req.Received.IsZero() {
		req.Received = nowFunc(s.Now)()
	}
	req.Received = req.Received.UTC().Round(0)
	// Who handles the request is authenticated, and must hold RoleDPO (R25).
	claim := Principal{ID: strings.TrimSpace(req.Handler), Role: RoleDPO}
	p, why, err := authenticate(ctx, s.Authorizer, AccessRequest{Principal: claim, Action: a, Reason: "data subject request " + req.Reference})
	if err == nil && !slices.Contains(p.granted(), RoleDPO) {
		why = fmt.Sprintf("%s does not hold role %s, which handles data subject requests (R25); granted: %s", p.ID, RoleDPO, orNone(p.granted()))
		err = ErrDenied
	}
	if err != nil {
		e := requestEvent(audit.KindAccessDenied, Request{Subject: req.Subject, Received: req.Received, Handler: p.ID, Reference: req.Reference},
			nowFunc(s.Now)(), "refused", audit.Attr{Key: "action", Value: string(a)}, audit.Attr{Key: "denied", Value: why})
		if aerr := appendEvent(ctx, s.Audit, e); aerr != nil {
			return fmt.Errorf("%s: %w", op, errors.Join(err, aerr))
		}
		return fmt.Errorf("%s: %w", op, errors.Join(err, &DeniedError{Principal: p, Action: a, Why: why}))
	}
	req.Handler = p.ID
	return nil
}

// ActionSubjectFind is the action of Subjects.Find.
const ActionSubjectFind Action = "subject-find"

// Find returns every recording of req.Subject, oldest first, to whom the
// Authorizer names, who must hold RoleDPO: which calls a person made is
// theirs to know (R25). A refusal is audited. Catalog, Audit and Authorizer
// are required.
func (s *Subjects) Find(ctx context.Context, req Request) ([]Recording, error) {
	if s.Catalog == nil || s.Audit == nil || s.Authorizer == nil {
		return nil, fmt.Errorf("subject find: catalog, audit log and authorizer are required: %w", ErrNotConfigured)
	}
	if err := s.authorize(ctx, "subject find", ActionSubjectFind, &req); err != nil {
		return nil, err
	}
	rs, err := s.Catalog.Subject(ctx, req.Subject)
	if err != nil {
		return nil, fmt.Errorf("subject find: %w", err)
	}
	return rs, nil
}

func requestEvent(k audit.Kind, req Request, at time.Time, phase string, attrs ...audit.Attr) audit.Event {
	return audit.Event{
		Kind:    k,
		Time:    at.UTC(),
		Actor:   req.Handler,
		Reason:  "data subject request " + req.Reference,
		Subject: req.Subject,
		Attrs: append([]audit.Attr{
			{Key: "phase", Value: phase},
			{Key: "reference", Value: req.Reference},
			{Key: "received", Value: req.Received.Format(time.RFC3339)},
			{Key: "due", Value: ResponseDue(req.Received).Format(time.RFC3339)},
		}, attrs...),
	}
}

func recEvent(k audit.Kind, req Request, r Recording, at time.Time, reason string, attrs ...audit.Attr) audit.Event {
	return audit.Event{
		Kind:        k,
		Time:        at.UTC(),
		CallID:      r.CallID,
		RecordingID: r.ID,
		Actor:       req.Handler,
		Reason:      reason,
		Subject:     r.Subject,
		Purpose:     string(r.Purpose),
		SHA256:      r.SHA256,
		Attrs:       append([]audit.Attr{{Key: "reference", Value: req.Reference}}, attrs...),
	}
}

// ExportDir exports the subject's recordings into dir, which must not exist
// or be empty: one Ogg Opus file per recording under audio/ (".opus", opened
// by any common player), recordings.json (the catalog metadata, no
// identifier of anyone else) and README.txt (what the folder holds, in plain
// words). Each file is checked against its catalogued SHA-256; one failing
// is left out, audited (KindIntegrityFailure) and listed in Failed, and
// ExportDir then returns an error wrapping ErrIncomplete.
func (s *Subjects) ExportDir(ctx context.Context, req Request, dir string) (ExportReport, error) {
	if err := s.check(ctx, "subject export", ActionSubjectExport, &req); err != nil {
		return ExportReport{}, err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return ExportReport{}, fmt.Errorf("subject export: %w", invalid("dir", "%s is not empty", dir))
	}
	if err := os.MkdirAll(filepath.Join(dir, "audio"), 0o700); err != nil {
		return ExportReport{}, fmt.Errorf("subject export: %w", err)
	}
	if err := errors.Join(atomicfile.SyncDir(dir), atomicfile.SyncDir(filepath.Dir(filepath.Clean(dir)))); err != nil {
		return ExportReport{}, fmt.Errorf("subject export: %w", err)
	}
	return s.export(ctx, req, &dirSink{dir: dir})
}

// ExportZip is ExportDir writing a zip archive to w instead. On error the
// archive is incomplete and must be discarded.
func (s *Subjects) ExportZip(ctx context.Context, req Request, w io.Writer) (ExportReport, error) {
	if err := s.check(ctx, "subject export", ActionSubjectExport, &req); err != nil {
		return ExportReport{}, err
	}
	zs := &zipSink{zw: zip.NewWriter(w)}
	rep, err := s.export(ctx, req, zs)
	if cerr := zs.zw.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("subject export: %w", cerr)
	}
	return rep, err
}

type sink interface {
	// put writes name from r; if r fails the entry must not remain, or
	// (atomic false) the whole output is spoiled.
	put(name string, r io.Reader) error
	// atomic reports whether a failed put leaves nothing behind.
	atomic() bool
	// discard removes an entry put whose export could not be audited
	// (a non-atomic sink's output is discarded as a whole on error).
	discard(name string) error
}

// errSpoiled: a zip entry failed half-way; the archive cannot be used.
var errSpoiled = errors.New("archive spoiled by a failed entry")

type dirSink struct{ dir string }

func (d *dirSink) put(name string, r io.Reader) error {
	path := filepath.Join(d.dir, filepath.FromSlash(name))
	f, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	// The rename is durable only once its folder is synced: the export is
	// audited as delivered right after.
	return atomicfile.SyncDir(filepath.Dir(path))
}

func (d *dirSink) atomic() bool { return true }

func (d *dirSink) discard(name string) error {
	path := filepath.Join(d.dir, filepath.FromSlash(name))
	if err := os.Remove(path); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}

type zipSink struct{ zw *zip.Writer }

func (z *zipSink) atomic() bool { return false }

func (z *zipSink) discard(string) error { return nil }

func (z *zipSink) put(name string, r io.Reader) error {
	w, err := z.zw.Create(name)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, r)
	return err
}

// hashReader fails at EOF if the digest differs from want.
type hashReader struct {
	r    io.Reader
	h    interface{ Sum([]byte) []byte }
	w    io.Writer
	want string
}

func newHashReader(r io.Reader, want string) *hashReader {
	h := sha256.New()
	return &hashReader{r: r, h: h, w: h, want: want}
}

func (v *hashReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.w.Write(p[:n])
	if err == io.EOF && v.want != "" {
		if got := hex.EncodeToString(v.h.Sum(nil)); !strings.EqualFold(got, v.want) { // Validate allows upper case
			return n, fmt.Errorf("sha-256 %s, catalogued %s: %w", got, v.want, ErrIntegrity)
		}
	}
	return n, err
}

// exportedMeta is one recording in recordings.json.
type exportedMeta struct {
	ID               string    `json:"id"`
	File             string    `json:"file,omitempty"`
	CallID           string    `json:"call_id,omitempty"`
	Purpose          string    `json:"purpose"`
	LawfulBasis      string    `json:"lawful_basis"`
	Recorded         time.Time `json:"recorded"`
	DeletionDeadline time.Time `json:"deletion_deadline"`
	UnderLegalHold   bool      `json:"under_legal_hold"`
	SHA256           string    `json:"sha256,omitempty"`
	Gaps             []gapMeta `json:"gaps,omitempty"`
	// OnlyYourVoice: the file holds the caller's channel only, the other
	// party's voice removed (GDPR Art. 15(4)); SHA256 is then the digest
	// of the stored two-channel recording, not of this file.
	OnlyYourVoice bool   `json:"only_your_voice,omitempty"`
	Error         string `json:"error,omitempty"`
}

type gapMeta struct {
	StartSeconds float64 `json:"start_seconds"`
	EndSeconds   float64 `json:"end_seconds"`
	Reason       string  `json:"reason,omitempty"`
}

func (s *Subjects) export(ctx context.Context, req Request, out sink) (rep ExportReport, err error) {
	now := nowFunc(s.Now)
	rep = ExportReport{Subject: req.Subject, Received: req.Received, Due: ResponseDue(req.Received)}
	recs, err := s.Catalog.Subject(ctx, req.Subject)
	if err != nil {
		return rep, fmt.Errorf("subject export: %w", err)
	}
	var live []Recording
	for _, r := range recs {
		if r.Deletion == DeletionNone { // those pending deletion are already going
			live = append(live, r)
		}
	}
	rep.Recordings = live
	if err := appendEvent(ctx, s.Audit, requestEvent(audit.KindSubjectExport, req, now(), "request",
		audit.Attr{Key: "recordings", Value: strconv.Itoa(len(live))})); err != nil {
		return rep, fmt.Errorf("subject export: %w", err)
	}
	var metas []exportedMeta
	for i, r := range live {
		m := exportedMeta{
			ID: r.ID, CallID: r.CallID, Purpose: string(r.Purpose), LawfulBasis: r.LawfulBasis,
			Recorded: r.Created, DeletionDeadline: r.Deadline, UnderLegalHold: r.Held(), SHA256: r.SHA256,
		}
		for _, g := range r.Gaps {
			m.Gaps = append(m.Gaps, gapMeta{g.Start.Seconds(), g.End.Seconds(), g.Reason})
		}
		name := "audio/" + r.ID + ".opus"
		if err := s.exportOne(ctx, req, r, name, out, &m.OnlyYourVoice); err != nil {
			var ae *stopError
			if errors.As(err, &ae) || ctx.Err() != nil {
				return rep, fmt.Errorf("subject export: %w", err)
			}
			rep.Failed = append(rep.Failed, Failure{ID: r.ID, Err: err})
			m.Error = "could not be exported: " + err.Error()
		} else {
			m.File = name
			rep.Files = append(rep.Files, name)
			rep.Exported = append(rep.Exported, r.ID)
		}
		metas = append(metas, m)
		if s.Progress != nil {
			s.Progress(i+1, len(live))
		}
	}
	rep.Done = now().UTC()
	rep.Late = rep.Done.After(rep.Due)
	js, err := json.MarshalIndent(struct {
		Received    time.Time      `json:"request_received"`
		Answered    time.Time      `json:"answered"`
		Recordings  []exportedMeta `json:"recordings"`
		Generator   string         `json:"generator"`
		Description string         `json:"description"`
	}{req.Received, rep.Done, metas, "consentrec", "recordings of your telephone calls held by the controller"}, "", "  ")
	if err == nil {
		err = out.put("recordings.json", strings.NewReader(string(js)+"\n"))
	}
	if err == nil {
		err = out.put("README.txt", strings.NewReader(readme(req, rep, metas)))
	}
	if err != nil {
		return rep, fmt.Errorf("subject export: %w", err)
	}
	rep.Files = append(rep.Files, "recordings.json", "README.txt")
	outcome := "complete"
	if len(rep.Failed) > 0 {
		outcome = "incomplete"
	}
	if err := appendEvent(ctx, s.Audit, requestEvent(audit.KindSubjectExport, req, rep.Done, "outcome",
		audit.Attr{Key: "outcome", Value: outcome},
		audit.Attr{Key: "exported", Value: strconv.Itoa(len(rep.Exported))},
		audit.Attr{Key: "failed", Value: strconv.Itoa(len(rep.Failed))},
		audit.Attr{Key: "late", Value: strconv.FormatBool(rep.Late)})); err != nil {
		return rep, fmt.Errorf("subject export: %w", err)
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("subject export: %d of %d recordings failed: %w", len(rep.Failed), len(live), ErrIncomplete)
	}
	return rep, nil
}

func (s *Subjects) integrity(err error) bool {
	return errors.Is(err, ErrIntegrity) || s.IsIntegrity != nil && s.IsIntegrity(err)
}

// errNoRedactor: a dual-channel recording and no Subjects.Redact.
var errNoRedactor = errors.New("a two-channel recording holds the other party's voice, and Subjects.Redact is not set to take it out (R29, GDPR Art. 15(4))")

// redact returns what to export of a recording read from r: of a
// dual-channel Ogg Opus file, the customer's channel only (through
// s.Redact), unless KeepOtherVoices; anything else as it is; and whether it
// redacted. It reads r to its end either way (so the digest is checked).
// wait, called once the result was consumed or abandoned, stops the
// redaction and returns its error.
func (s *Subjects) redact(r io.Reader) (io.Reader, bool, func() error) {
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(pageHeadPeek)
	if s.KeepOtherVoices || opusChannels(head) < 2 {
		return br, false, func() error { return nil }
	}
	if s.Redact == nil {
		_, err := io.Copy(io.Discard, br) // the digest still says whether it was altered
		return failingReader{errors.Join(errNoRedactor, err)}, true, func() error { return nil }
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.Redact(br, pw)
		if err != nil {
			// A damaged file fails to parse before its digest is checked:
			// read on, so that an altered file is reported (and audited)
			// as such.
			if _, herr := io.Copy(io.Discard, br); herr != nil {
				err = errors.Join(err, herr)
			}
			err = fmt.Errorf("keeping only the customer's voice: %w", err)
		}
		pw.CloseWithError(err)
		done <- err
	}()
	return pr, true, func() error {
		pr.CloseWithError(errors.New("export abandoned")) // unblocks the redaction
		return <-done
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// pageHeadPeek is enough of a file for its first Ogg page's OpusHead.
const pageHeadPeek = 27 + 255 + 19

// opusChannels returns the channel count of the OpusHead the first Ogg
// page of b holds, or 0 if b does not start so.
func opusChannels(b []byte) int {
	if len(b) < 27 || string(b[:4]) != "OggS" {
		return 0
	}
	body := 27 + int(b[26])
	if len(b) < body+19 || string(b[body:body+8]) != "OpusHead" {
		return 0
	}
	return int(b[body+9])
}

func (s *Subjects) exportOne(ctx context.Context, req Request, r Recording, name string, out sink, onlyCustomer *bool) error {
	now := nowFunc(s.Now)
	fail := func(err error) error {
		if s.integrity(err) {
			e := recEvent(audit.KindIntegrityFailure, req, r, now(), "integrity check failed on export",
				audit.Attr{Key: "error", Value: err.Error()})
			if aerr := appendEvent(ctx, s.Audit, e); aerr != nil {
				return aerr
			}
		}
		return err
	}
	want := r.SHA256
	if decodes(s.Store) {
		want = "" // the store checked the stored bytes; it authenticates the decoded ones
	}
	if !out.atomic() {
		// Check the whole file first: a zip entry cannot be taken back.
		rc, err := s.Store.Open(ctx, r.ID)
		if err != nil {
			return fail(err)
		}
		_, err = io.Copy(io.Discard, newHashReader(rc, want))
		rc.Close()
		if err != nil {
			return fail(err)
		}
	}
	rc, err := s.Store.Open(ctx, r.ID)
	if err != nil {
		return fail(err)
	}
	src, redacted, wait := s.redact(newHashReader(rc, want))
	*onlyCustomer = redacted
	err = out.put(name, src)
	if rerr := wait(); err == nil { // an extraction error is also the reader's
		err = rerr
	}
	rc.Close()
	if err != nil && !out.atomic() {
		return &stopError{fmt.Errorf("%s: %w: %w", r.ID, errSpoiled, fail(err))} // stop the export
	}
	if err != nil {
		return fail(err)
	}
	err = appendEvent(ctx, s.Audit, recEvent(audit.KindSubjectExport, req, r, now(), "exported to the data subject",
		audit.Attr{Key: "phase", Value: "recording"}, audit.Attr{Key: "file", Value: name}))
	if err != nil {
		// No copy of a recording may leave untraced.
		if derr := out.discard(name); derr != nil {
			err = fmt.Errorf("%w (and %s stays in the export: %v)", err, name, derr)
		}
	}
	return err
}

func readme(req Request, rep ExportReport, metas []exportedMeta) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Your call recordings\n====================\n\n")
	fmt.Fprintf(&b, "This folder answers your request received on %s (reference %q).\n",
		req.Received.Format("2 January 2006"), req.Reference)
	fmt.Fprintf(&b, "It holds %d recording(s) of telephone calls in which you took part.\n\n", len(rep.Exported))
	fmt.Fprintf(&b, "- audio/: one file per recording, in Ogg Opus format (.opus). Most players\n")
	fmt.Fprintf(&b, "  open them: VLC, a web browser (drag the file into a tab), or your phone.\n")
	fmt.Fprintf(&b, "- recordings.json: for each recording, when it was made, why (its purpose),\n")
	fmt.Fprintf(&b, "  on what legal basis, and the date it will be deleted.\n\n")
	for _, m := range metas {
		fmt.Fprintf(&b, "* %s  recorded %s  purpose %s  deleted by %s", m.ID,
			m.Recorded.Format("2006-01-02 15:04 MST"), m.Purpose, m.DeletionDeadline.Format("2006-01-02"))
		if m.UnderLegalHold {
			fmt.Fprintf(&b, "  (kept longer: legal claim)")
		}
		if m.OnlyYourVoice {
			fmt.Fprintf(&b, "  (your voice only)")
		}
		if m.Error != "" {
			fmt.Fprintf(&b, "  (NOT INCLUDED: a technical fault, we will send it separately)")
		}
		fmt.Fprintln(&b)
	}
	fmt.Fprintf(&b, "\nGaps in a recording are moments when recording was paused (for example\n")
	fmt.Fprintf(&b, "while card details were given); they are listed in recordings.json.\n")
	fmt.Fprintf(&b, "Each file's SHA-256 is listed so that you can check it was not altered.\n")
	for _, m := range metas {
		if m.OnlyYourVoice {
			fmt.Fprintf(&b, "\nA recording marked \"your voice only\" holds your side of the call: the other\n")
			fmt.Fprintf(&b, "person's voice was left out, to protect their rights (GDPR Art. 15(4)). Its\n")
			fmt.Fprintf(&b, "SHA-256 in recordings.json is that of the whole recording we keep.\n")
			break
		}
	}
	return b.String()
}

// Erase erases the subject's recordings (GDPR Art. 17, 21), except those
// under legal hold (Art. 17(3)(e)) or kept under a legal obligation (Art.
// 17(3)(b)), which are refused with the reason. Each erased recording is
// audited with its SHA-256 (KindErasure, outcome erased), each refusal too
// (outcome refused). A recording whose file could not be deleted is listed
// in Failed and stays marked: the next sweep finishes it. Returns an error
// wrapping ErrIncomplete if any failed; refusals are not errors.
func (s *Subjects) Erase(ctx context.Context, req Request) (ErasureReport, error) {
	if err := s.check(ctx, "subject erase", ActionSubjectErase, &req); err != nil {
		return ErasureReport{}, err
	}
	now := nowFunc(s.Now)
	rep := ErasureReport{Subject: req.Subject, Received: req.Received, Due: ResponseDue(req.Received)}
	recs, err := s.Catalog.Subject(ctx, req.Subject)
	if err != nil {
		return rep, fmt.Errorf("subject erase: %w", err)
	}
	if err := appendEvent(ctx, s.Audit, requestEvent(audit.KindErasure, req, now(), "request",
		audit.Attr{Key: "recordings", Value: strconv.Itoa(len(recs))})); err != nil {
		return rep, fmt.Errorf("subject erase: %w", err)
	}
	refuse := func(r Recording, reason string, cause error) error {
		rep.Refused = append(rep.Refused, Refusal{ID: r.ID, Reason: reason, Err: cause})
		return appendEvent(ctx, s.Audit, recEvent(audit.KindErasure, req, r, now(), reason,
			audit.Attr{Key: "outcome", Value: "refused"}))
	}
	for i, r := range recs {
		if err := s.eraseOne(ctx, req, r, &rep, refuse); err != nil {
			var ae *stopError
			if errors.As(err, &ae) || ctx.Err() != nil {
				return rep, fmt.Errorf("subject erase: %w", err)
			}
			rep.Failed = append(rep.Failed, Failure{ID: r.ID, Err: err})
		}
		if s.Progress != nil {
			s.Progress(i+1, len(recs))
		}
	}
	if sh, ok := s.Audit.(Shredder); ok && s.ShredAudit && len(rep.Refused) == 0 && len(rep.Failed) == 0 {
		n, err := sh.Shred(ctx, req.Subject)
		if err != nil {
			return rep, fmt.Errorf("subject erase: shred the audit log: %w", err)
		}
		rep.Shredded = n
	}
	rep.Done = now().UTC()
	rep.Late = rep.Done.After(rep.Due)
	outcome := "complete"
	if len(rep.Failed) > 0 {
		outcome = "incomplete"
	}
	if err := appendEvent(ctx, s.Audit, requestEvent(audit.KindErasure, req, rep.Done, "outcome",
		audit.Attr{Key: "outcome", Value: outcome},
		audit.Attr{Key: "erased", Value: strconv.Itoa(len(rep.Erased))},
		audit.Attr{Key: "refused", Value: strconv.Itoa(len(rep.Refused))},
		audit.Attr{Key: "failed", Value: strconv.Itoa(len(rep.Failed))},
		audit.Attr{Key: "audit-shredded", Value: strconv.Itoa(rep.Shredded)},
		audit.Attr{Key: "late", Value: strconv.FormatBool(rep.Late)})); err != nil {
		return rep, fmt.Errorf("subject erase: %w", err)
	}
	if len(rep.Failed) > 0 {
		return rep, fmt.Errorf("subject erase: %d of %d recordings failed: %w", len(rep.Failed), len(recs), ErrIncomplete)
	}
	return rep, nil
}

func holdReason(r Recording) string {
	var cases []string
	for _, h := range r.Holds {
		cases = append(cases, fmt.Sprintf("case %s approved by %s", h.Case, h.Approver))
	}
	return "under legal hold for legal claims (GDPR Art. 17(3)(e)): " + strings.Join(cases, "; ")
}

func (s *Subjects) eraseOne(ctx context.Context, req Request, r Recording, rep *ErasureReport, refuse func(Recording, string, error) error) error {
	if r.Deletion == DeletionNone {
		if err := r.CheckDestroy(nowFunc(s.Now)()); err != nil {
			var k *KeptError
			errors.As(err, &k)
			return refuse(r, k.Why+" ("+k.Rule+")", k.Err)
		}
		m, err := s.Catalog.BeginDelete(ctx, r.ID, DeletionErasure)
		switch {
		case errors.Is(err, ErrHeld): // held since it was read
			if r, err = s.Catalog.Get(ctx, r.ID); err != nil {
				return err
			}
			return refuse(r, holdReason(r), ErrHeld)
		case errors.Is(err, ErrNotFound): // deleted meanwhile
			return nil
		case err != nil:
			return err
		}
		r = m
	}
	reason := "erasure requested by the data subject"
	if r.Deletion == DeletionExpiry {
		reason = "retention deadline passed (deletion resumed during an erasure request)"
	}
	e := deletedEvent(r, nowFunc(s.Now)(), req.Handler, reason, audit.Attr{Key: "reference", Value: req.Reference})
	if err := finishDelete(ctx, s.Catalog, s.Store, s.Audit, r, e); err != nil {
		return err
	}
	rep.Erased = append(rep.Erased, Deleted{ID: r.ID, SHA256: r.SHA256, Deadline: r.Deadline, Cause: r.Deletion})
	return nil
}
