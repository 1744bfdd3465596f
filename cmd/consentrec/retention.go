package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/fromrecorder"
)

func init() {
	register(&command{name: "sweep", args: "[--dry-run] [--at TIME] [--every DURATION] --data DIR",
		short: "delete recordings past their retention deadline (not those on legal hold)", run: cmdSweep})
	register(&command{name: "hold set", args: "ID --case REF --by NAME --data DIR",
		short: "place a recording under legal hold", run: cmdHold(true)})
	register(&command{name: "hold release", args: "ID --case REF --by NAME --data DIR",
		short: "release a recording's legal hold for one case", run: cmdHold(false)})
	register(&command{name: "subject find", args: "SUBJECT --data DIR",
		short: "list a data subject's recordings", run: cmdSubjectFind})
	register(&command{name: "subject export", args: "SUBJECT --out DIR|FILE.zip [--redact-other=false] [--ref REF] [--received TIME] --data DIR",
		short: "export a data subject's recordings (audio and metadata)", run: cmdSubjectExport})
	register(&command{name: "subject erase", args: "SUBJECT [--ref REF] [--received TIME] [--shred-audit] --data DIR",
		short: "erase a data subject's recordings (refusing those held or kept by law)", run: cmdSubjectErase})
	register(&command{name: "open", args: "ID --reason TEXT [--as ROLE] [--action listen|download|export] [--out FILE] --data DIR",
		short: "open a recording through the audited access gate", run: cmdOpen})
}

// retentionEnv is what the retention commands open in a data directory.
type retentionEnv struct {
	dir     consentrec.DataDir
	catalog closingCatalog  // SQLite, or PostgreSQL per backends.json
	store   retention.Store // the recordings: plain (files or S3), or age-encrypted (recorder/agestore)
	log     audit.Log       // the file log, or the backend backends.json names
	closeSt func() error
}

func (r *retentionEnv) Close() error {
	var errs []error
	if r.log != nil {
		errs = append(errs, r.log.Close())
	}
	if r.catalog != nil {
		errs = append(errs, r.catalog.Close())
	}
	if r.closeSt != nil {
		errs = append(errs, r.closeSt())
	}
	return errors.Join(errs...)
}

// openRetention opens the catalog of root (which must exist: a mistyped
// --data must not create an empty one) and, if full, the recordings store
// and the audit log. The store is the age-encrypting one (recorder/agestore)
// when the data directory keeps per-recording keys or identity names an
// age identity file, so that deletions also delete keys (crypto-shredding)
// and opens decrypt; otherwise the plain file store.
func openRetention(ctx context.Context, root string, full bool, identity string) (*retentionEnv, error) {
	dir := consentrec.DataDir{Root: root}
	if err := catalogExists(root); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usagef("no catalog at %s: is --data right? (nothing catalogued yet)", dir.Catalog())
		}
		return nil, err
	}
	env := &retentionEnv{dir: dir}
	var err error
	if env.catalog, err = openCatalog(ctx, root); err != nil {
		return nil, err
	}
	if !full {
		return env, nil
	}
	if st, serr := os.Stat(recordingKeysDir(root)); identity != "" || (serr == nil && st.IsDir()) {
		if env.store, err = openEncrypted(root, identity, false); err != nil {
			env.Close()
			return nil, err
		}
	} else if env.store, env.closeSt, err = openStore(root); err != nil {
		env.Close()
		return nil, err
	}
	if env.log, err = openAuditLog(ctx, root); err != nil {
		env.Close()
		return nil, err
	}
	return env, nil
}

// AccessFile is the file of a data directory that grants roles to
// operating-system users (R25): {"roles": {"alice": ["quality"], "bob": ["dpo"]}}.
// It must be a regular file only its owner can read or write (0600).
const AccessFile = "access.json"

// loadAccess reads the access table of root, refusing one that anyone but
// its owner may read or write.
func loadAccess(root string) (retention.AccessTable, error) {
	path := filepath.Join(root, AccessFile)
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return retention.AccessTable{}, fmt.Errorf("no access table at %s: create it, mode 0600, as {\"roles\": {\"USER\": [\"ROLE\", ...]}} (R25: roles come from it, never from a flag)", path)
	}
	if err != nil {
		return retention.AccessTable{}, err
	}
	if !st.Mode().IsRegular() {
		return retention.AccessTable{}, fmt.Errorf("%s is not a regular file (R25)", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return retention.AccessTable{}, fmt.Errorf("%s is open to group or others (mode %04o): refused; chmod 600 it (R25)", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return retention.AccessTable{}, err
	}
	t, err := retention.ParseAccessTable(b)
	if err != nil {
		return retention.AccessTable{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// osPrincipal is who runs the command: the operating-system user.
func osPrincipal() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("who are you? %w", err)
	}
	return u.Username, nil
}

// cliAuthorizer authenticates the operating-system user and grants the
// roles root's access table gives them.
func cliAuthorizer(root string) (retention.Authorizer, error) {
	t, err := loadAccess(root)
	if err != nil {
		return nil, err
	}
	return t.Authorizer(func(context.Context) (string, error) { return osPrincipal() }), nil
}

// byFlag is the --by flag commands took before R25: who you are is no
// longer yours to type. It stays defined so that old scripts fail with a
// clear message instead of an unknown flag.
type byFlag struct{ v *string }

func byGone(fset *flag.FlagSet) byFlag {
	return byFlag{fset.String("by", "", "removed (R25): you act as your operating-system user, in a role "+AccessFile+" grants you")}
}

func (b byFlag) check() error {
	if *b.v == "" {
		return nil
	}
	who, _ := osPrincipal()
	return usagef("--by is gone: you act as the operating-system user %q, with the roles %s in the data directory grants (R25)", who, AccessFile)
}

func isRecorderIntegrity(err error) bool { return errors.Is(err, recorder.ErrIntegrity) }

func cmdSweep(e *env, args []string) (err error) {
	fset := flag.NewFlagSet("sweep", flag.ContinueOnError)
	data := dataFlag(fset)
	dry := fset.Bool("dry-run", false, "list what would be deleted; change nothing")
	atFlag := fset.String("at", "", "sweep as of `TIME` (2026-07-01, RFC 3339, +P6M, +72h; default now)")
	every := fset.Duration("every", 24*time.Hour, "how often sweeps run (cron), `DURATION`: a recording a legal hold keeps past its deadline is audited by the sweep that finds it due within that time")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	now := time.Now()
	at, err := retention.ParseTime(*atFlag, now)
	if err != nil {
		return usagef("--at: %v", err)
	}
	if !*dry && at.After(now.Add(time.Minute)) {
		return usagef("--at %s is in the future: only a --dry-run can forecast", at.Format(time.RFC3339))
	}
	ctx := context.Background()
	renv, err := openRetention(ctx, *data, !*dry, "")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, renv.Close()) }()
	var last time.Time
	if *every <= 0 {
		return usagef("--every %v: want a positive duration", *every)
	}
	sw := &retention.Sweeper{Catalog: renv.catalog, Interval: *every, Progress: func(p retention.Progress) {
		if time.Since(last) < time.Second { // at most a line a second
			return
		}
		last = time.Now()
		verb := "deleted"
		if *dry {
			verb = "would delete"
		}
		fmt.Fprintf(e.stderr, "sweep: %d expired examined, %d %s, %d held, %d failed\n", p.Scanned, p.Deleted, verb, p.Held, p.Failed)
	}}
	var rep retention.Report
	if *dry {
		rep, err = sw.DryRun(ctx, at)
	} else {
		sw.Store, sw.Audit = renv.store, renv.log
		rep, err = sw.Sweep(ctx, at)
	}
	printSweep(e.stdout, rep)
	if err != nil {
		return err
	}
	for _, o := range rep.Overdue {
		if o.Err != nil {
			return fmt.Errorf("%d recording(s) past their deadline could not be deleted", countFailed(rep.Overdue))
		}
	}
	if len(rep.Overdue) > 0 {
		return fmt.Errorf("%d recording(s) were found past their deadline by more than a day (is the sweeper running?)", len(rep.Overdue))
	}
	return nil
}

func countFailed(os []retention.Overdue) int {
	n := 0
	for _, o := range os {
		if o.Err != nil {
			n++
		}
	}
	return n
}

func printSweep(w io.Writer, rep retention.Report) {
	verb := "deleted"
	if rep.DryRun {
		verb = "would delete"
	}
	fmt.Fprintf(w, "sweep as of %s%s\n", rep.At.Format(time.RFC3339), map[bool]string{true: " (dry run: nothing changed)"}[rep.DryRun])
	for _, d := range rep.Deleted {
		fmt.Fprintf(w, "  %-12s %-24s deadline %s  sha256 %s\n", verb, d.ID, d.Deadline.Format(time.RFC3339), d.SHA256)
	}
	for _, r := range rep.Held {
		var cases []string
		for _, h := range r.Holds {
			cases = append(cases, h.Case)
		}
		fmt.Fprintf(w, "  %-12s %-24s deadline %s  legal hold: %s\n", "kept", r.ID, r.Deadline.Format(time.RFC3339), strings.Join(cases, ", "))
	}
	for _, o := range rep.Overdue {
		if o.Err != nil {
			fmt.Fprintf(w, "  %-12s %-24s deadline %s  NOT DELETED: %v\n", "ALARM", o.ID, o.Deadline.Format(time.RFC3339), o.Err)
		} else {
			fmt.Fprintf(w, "  %-12s %-24s deadline %s  found %s late\n", "ALARM", o.ID, o.Deadline.Format(time.RFC3339), o.Late.Round(time.Second))
		}
	}
	fmt.Fprintf(w, "%d expired examined: %d %s", rep.Scanned, len(rep.Deleted), verb)
	if rep.Resumed > 0 {
		fmt.Fprintf(w, " (%d finishing an interrupted deletion)", rep.Resumed)
	}
	fmt.Fprintf(w, ", %d kept on legal hold, %d alarm(s)\n", len(rep.Held), len(rep.Overdue))
}

func cmdHold(set bool) func(e *env, args []string) error {
	return func(e *env, args []string) (err error) {
		fset := flag.NewFlagSet("hold", flag.ContinueOnError)
		data := dataFlag(fset)
		ref := fset.String("case", "", "the case reference, `REF` (required)")
		by := fset.String("by", "", "the approver's `NAME` (required)")
		pos, err := parseFlags(fset, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("want one recording ID")
		}
		if strings.TrimSpace(*ref) == "" || strings.TrimSpace(*by) == "" {
			return usagef("--case and --by are required: a legal hold needs a case reference and a named approver")
		}
		ctx := context.Background()
		renv, err := openRetention(ctx, *data, true, "")
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, renv.Close()) }()
		h := &retention.Holds{Catalog: renv.catalog, Audit: renv.log}
		var r retention.Recording
		if set {
			r, err = h.Set(ctx, pos[0], *ref, *by)
		} else {
			r, err = h.Release(ctx, pos[0], *ref, *by)
		}
		if err != nil {
			return err
		}
		if set {
			fmt.Fprintf(e.stdout, "%s: under legal hold for case %s (approved by %s)\n", r.ID, *ref, *by)
		} else {
			fmt.Fprintf(e.stdout, "%s: hold for case %s released (by %s)\n", r.ID, *ref, *by)
		}
		if r.Held() {
			var cases []string
			for _, h := range r.Holds {
				cases = append(cases, h.Case)
			}
			fmt.Fprintf(e.stdout, "%s: held for %d case(s): %s\n", r.ID, len(r.Holds), strings.Join(cases, ", "))
		} else {
			fmt.Fprintf(e.stdout, "%s: no hold left; retention deadline %s\n", r.ID, r.Deadline.Format(time.RFC3339))
		}
		return nil
	}
}

// subjectKey turns the SUBJECT argument into a subject key: a key as is, or
// an identifier (phone number, customer id) hashed with the data
// directory's subject secret.
func subjectKey(dir consentrec.DataDir, arg string) (string, error) {
	if strings.HasPrefix(arg, "sk1:") {
		return arg, nil
	}
	if strings.TrimSpace(arg) == "" {
		return "", usagef("empty SUBJECT")
	}
	secret, err := retention.SubjectSecret(dir.Keys(), false)
	if err != nil {
		return "", fmt.Errorf("hashing the subject: %w (pass a subject key sk1:... instead)", err)
	}
	return policy.SubjectKey(secret, arg), nil
}

func subjectFlags(name string) (*flag.FlagSet, *string, byFlag, *string, *string) {
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	data := dataFlag(fset)
	by := byGone(fset)
	ref := fset.String("ref", "", "the request's reference, `REF` (ticket number)")
	received := fset.String("received", "", "when the request was received, `TIME` (default now)")
	return fset, data, by, ref, received
}

// subjectRequest builds the request; who handles it is the
// operating-system user, holding the dpo role in the access table.
func subjectRequest(dir consentrec.DataDir, arg, ref, received string) (retention.Request, error) {
	rec, err := retention.ParseTime(received, time.Now())
	if err != nil {
		return retention.Request{}, usagef("--received: %v", err)
	}
	key, err := subjectKey(dir, arg)
	if err != nil {
		return retention.Request{}, err
	}
	return retention.Request{Subject: key, Received: rec, Reference: ref}, nil
}

func cmdSubjectFind(e *env, args []string) (err error) {
	fset := flag.NewFlagSet("subject find", flag.ContinueOnError)
	data := dataFlag(fset)
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one SUBJECT (a phone number, customer id or subject key)")
	}
	ctx := context.Background()
	renv, err := openRetention(ctx, *data, true, "")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, renv.Close()) }()
	key, err := subjectKey(renv.dir, pos[0])
	if err != nil {
		return err
	}
	az, err := cliAuthorizer(*data)
	if err != nil {
		return err
	}
	rs, err := (&retention.Subjects{Catalog: renv.catalog, Audit: renv.log, Authorizer: az}).Find(ctx, retention.Request{Subject: key})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "subject %s: %d recording(s)\n", key, len(rs))
	for _, r := range rs {
		held := ""
		if r.Held() {
			held = "  legal hold"
		}
		fmt.Fprintf(e.stdout, "  %-24s %-16s recorded %s  deadline %s%s\n", r.ID, r.Purpose,
			r.Created.Format(time.RFC3339), r.Deadline.Format(time.RFC3339), held)
	}
	return nil
}

func progressTo(w io.Writer, what string) func(done, total int) {
	return func(done, total int) { fmt.Fprintf(w, "%s: %d/%d recordings\n", what, done, total) }
}

func cmdSubjectExport(e *env, args []string) (err error) {
	fset, data, by, ref, received := subjectFlags("subject export")
	out := fset.String("out", "", "write to folder `DIR` (must not exist or be empty), or to a zip if it ends in .zip (required)")
	identity := fset.String("identity", "", "age identity `FILE` to decrypt encrypted recordings (recorder/agestore)")
	redact := fset.Bool("redact-other", true, "of a dual-channel recording, export only the customer's channel, as mono Ogg Opus (GDPR Art. 15(4), R29)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if err := by.check(); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one SUBJECT (a phone number, customer id or subject key)")
	}
	if *out == "" {
		return usagef("--out is required")
	}
	zipOut := strings.HasSuffix(strings.ToLower(*out), ".zip")
	if _, err := os.Lstat(*out); zipOut && err == nil {
		// Refuse before anything is read or audited as exported.
		return fmt.Errorf("%s already exists: the export never overwrites a file", *out)
	}
	ctx := context.Background()
	renv, err := openRetention(ctx, *data, true, *identity)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, renv.Close()) }()
	req, err := subjectRequest(renv.dir, pos[0], *ref, *received)
	if err != nil {
		return err
	}
	az, err := cliAuthorizer(*data)
	if err != nil {
		return err
	}
	s := &retention.Subjects{Catalog: renv.catalog, Store: renv.store, Audit: renv.log, Authorizer: az,
		IsIntegrity: isRecorderIntegrity, Progress: progressTo(e.stderr, "export"),
		Redact: fromrecorder.CustomerOnly, KeepOtherVoices: !*redact}
	var rep retention.ExportReport
	if zipOut {
		rep, err = exportZip(ctx, s, req, *out)
	} else {
		rep, err = s.ExportDir(ctx, req, *out)
	}
	if rep.Subject != "" && (err == nil || errors.Is(err, retention.ErrIncomplete)) {
		fmt.Fprintf(e.stdout, "exported %d recording(s) of %s to %s\n", len(rep.Exported), req.Subject, *out)
		for _, f := range rep.Failed {
			fmt.Fprintf(e.stdout, "  FAILED %s: %v\n", f.ID, f.Err)
		}
		fmt.Fprintf(e.stdout, "request received %s, answer due by %s (GDPR Art. 12(3))%s\n",
			rep.Received.Format("2006-01-02"), rep.Due.Format("2006-01-02"), map[bool]string{true: ": LATE"}[rep.Late])
	}
	return err
}

func exportZip(ctx context.Context, s *retention.Subjects, req retention.Request, path string) (retention.ExportReport, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*.zip")
	if err != nil {
		return retention.ExportReport{}, err
	}
	defer os.Remove(tmp.Name())
	rep, err := s.ExportZip(ctx, req, tmp)
	if err != nil && !errors.Is(err, retention.ErrIncomplete) {
		tmp.Close()
		return rep, err
	}
	if serr := errors.Join(tmp.Sync(), tmp.Close(), os.Chmod(tmp.Name(), 0o600)); serr != nil {
		return rep, serr
	}
	if lerr := os.Link(tmp.Name(), path); lerr != nil { // never overwrite an existing file
		return rep, lerr
	}
	if serr := syncDir(filepath.Dir(path)); serr != nil { // make the link durable
		return rep, serr
	}
	return rep, err
}

// Every audit log can crypto-shred a subject after an erasure.
var _ retention.Shredder = (audit.Log)(nil)

func cmdSubjectErase(e *env, args []string) (err error) {
	fset, data, by, ref, received := subjectFlags("subject erase")
	shred := fset.Bool("shred-audit", false, "once nothing of the subject is left, crypto-shred them in the audit log")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if err := by.check(); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one SUBJECT (a phone number, customer id or subject key)")
	}
	ctx := context.Background()
	renv, err := openRetention(ctx, *data, true, "")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, renv.Close()) }()
	req, err := subjectRequest(renv.dir, pos[0], *ref, *received)
	if err != nil {
		return err
	}
	az, err := cliAuthorizer(*data)
	if err != nil {
		return err
	}
	s := &retention.Subjects{Catalog: renv.catalog, Store: renv.store, Audit: renv.log, Authorizer: az,
		IsIntegrity: isRecorderIntegrity, Progress: progressTo(e.stderr, "erase"), ShredAudit: *shred}
	rep, err := s.Erase(ctx, req)
	if rep.Subject != "" {
		for _, d := range rep.Erased {
			fmt.Fprintf(e.stdout, "  erased   %-24s sha256 %s\n", d.ID, d.SHA256)
		}
		for _, r := range rep.Refused {
			fmt.Fprintf(e.stdout, "  REFUSED  %-24s %s\n", r.ID, r.Reason)
		}
		for _, f := range rep.Failed {
			fmt.Fprintf(e.stdout, "  FAILED   %-24s %v (the next sweep finishes it)\n", f.ID, f.Err)
		}
		fmt.Fprintf(e.stdout, "subject %s: %d erased, %d refused, %d failed; answer due by %s\n",
			req.Subject, len(rep.Erased), len(rep.Refused), len(rep.Failed), rep.Due.Format("2006-01-02"))
		if rep.Shredded > 0 {
			fmt.Fprintf(e.stdout, "audit log: %d entries of the subject crypto-shredded\n", rep.Shredded)
		}
	}
	if err == nil && len(rep.Refused) > 0 {
		return fmt.Errorf("%d recording(s) may not be erased (reasons above)", len(rep.Refused))
	}
	return err
}

func cmdOpen(e *env, args []string) (err error) {
	fset := flag.NewFlagSet("open", flag.ContinueOnError)
	data := dataFlag(fset)
	identity := fset.String("identity", "", "age identity `FILE` to decrypt encrypted recordings (recorder/agestore)")
	as := fset.String("as", "", "the `ROLE` you act in, one "+AccessFile+" grants you (default: the first that may open it)")
	reason := fset.String("reason", "", "why you open it, `TEXT` (required, audited)")
	action := fset.String("action", "download", "what you do, `ACTION`: listen, download or export")
	by := byGone(fset)
	out := fset.String("out", "", "write the audio to `FILE` (must not exist); - for standard output (default: standard output unless it is a terminal)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if err := by.check(); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one recording ID")
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("--reason is required (it goes to the audit log)")
	}
	a := retention.Action(*action)
	if !a.Valid() {
		return usagef("--action %q: want listen, download or export", *action)
	}
	// Where the audio goes is settled before the gate is asked: an access
	// it grants is audited, and must deliver (no audio to a terminal, no
	// file that exists).
	toStdout, err := binaryOut(e, *out, "--out")
	if err != nil {
		return err
	}
	ctx := context.Background()
	renv, err := openRetention(ctx, *data, true, *identity)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, renv.Close()) }()
	g, err := renv.gate(*data)
	if err != nil {
		return err
	}
	var f *os.File
	if !toStdout {
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return err
		}
	}
	rc, p, err := gateOpen(ctx, g, *as, pos[0], a, *reason)
	if err != nil {
		if f != nil {
			f.Close()
			os.Remove(*out)
		}
		return explainDenied(ctx, renv.catalog, err)
	}
	defer rc.Close()
	if f == nil {
		n, err := io.Copy(e.stdout, rc)
		if err == nil {
			fmt.Fprintf(e.stderr, "%s: %d bytes (%s by %s as %s, audited)\n", pos[0], n, a, p.ID, p.Role)
		}
		return err
	}
	n, err := io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
		return err
	}
	fmt.Fprintf(e.stderr, "%s: %d bytes written to %s (%s by %s as %s, audited)\n", pos[0], n, *out, a, p.ID, p.Role)
	return nil
}

// gate returns the access gate of the data directory root, authenticating
// the operating-system user against its access table.
func (r *retentionEnv) gate(root string) (*retention.Gate, error) {
	az, err := cliAuthorizer(root)
	if err != nil {
		return nil, err
	}
	return &retention.Gate{Catalog: r.catalog, Store: r.store, Audit: r.log, Authorizer: az, IsIntegrity: isRecorderIntegrity}, nil
}

// gateOpen opens id through g as the user acting in role (empty: any
// granted role that may), and returns who and in which role it was audited.
func gateOpen(ctx context.Context, g *retention.Gate, role, id string, a retention.Action, reason string) (io.ReadCloser, retention.Principal, error) {
	return g.OpenAs(ctx, retention.Principal{Role: policy.Role(role)}, id, a, reason)
}

// gatedFile returns a reader on path through the access gate when path is
// a recording catalogued in the data directory holding it (DIR/recordings/
// ID.opus), acting in role with reason; nil and no error for any other file.
func gatedFile(ctx context.Context, path, role, reason string) (io.ReadCloser, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(abs)
	id, ok := strings.CutSuffix(filepath.Base(abs), ".opus")
	if !ok || filepath.Base(dir) != consentrec.RecordingsSubdir {
		return nil, nil
	}
	root := filepath.Dir(dir)
	if _, err := os.Stat(consentrec.DataDir{Root: root}.Catalog()); err != nil {
		return nil, nil
	}
	renv, err := openRetention(ctx, root, false, "")
	if err != nil {
		return nil, err
	}
	_, err = renv.catalog.Get(ctx, id)
	renv.Close()
	if errors.Is(err, retention.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, usagef("%s is catalogued recording %s: --reason is required (it goes to the audit log)", path, id)
	}
	if renv, err = openRetention(ctx, root, true, ""); err != nil {
		return nil, err
	}
	g, err := renv.gate(root)
	if err != nil {
		renv.Close()
		return nil, err
	}
	rc, _, err := gateOpen(ctx, g, role, id, retention.ActionExport, reason)
	if err != nil {
		renv.Close()
		return nil, err
	}
	return &closeBoth{rc, renv}, nil
}

// closeBoth closes a reader, then what it was read through.
type closeBoth struct {
	io.ReadCloser
	env *retentionEnv
}

func (c *closeBoth) Close() error { return errors.Join(c.ReadCloser.Close(), c.env.Close()) }

// explainDenied says an unknown recording plainly (the gate's refusals
// already name the rule and the roles allowed).
func explainDenied(ctx context.Context, cat retention.Catalog, err error) error {
	var d *retention.DeniedError
	if errors.As(err, &d) && errors.Is(err, retention.ErrNotFound) {
		return fmt.Errorf("%s: %w (the refused access is audited)", d.RecordingID, retention.ErrNotFound)
	}
	return err
}

// syncDir makes the creations and renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
