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

	"filippo.io/age"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// Encrypted recordings (package recorder/agestore) live in the usual
// recordings directory; per-recording keys (crypto-shredding), when used,
// in DataDir.Keys()/recordings.
func init() {
	register(&command{name: "keys generate", args: "[-o FILE]",
		short: "create an age X25519 identity (private key) and print its public key", run: cmdKeysGenerate})
	register(&command{name: "keys recipient", args: "IDENTITY-FILE",
		short: "print the public key (age1...) of an identity file", run: cmdKeysRecipient})
	register(&command{name: "keys decrypt", args: "ID --identity FILE -o OUT [--reason TEXT] [--by NAME] --data DIR",
		short: "check and decrypt an encrypted recording to an Ogg Opus file", run: cmdKeysDecrypt})
	register(&command{name: "keys export", args: "ID --identity FILE [--reason TEXT] [--by NAME] --data DIR",
		short: "print a recording's own key, for `age -d -i KEY` (crypto-shredding mode)", run: cmdKeysExport})
	register(&command{name: "keys shred", args: "ID --reason TEXT [--by NAME] --data DIR",
		short: "delete a recording's own key: every copy of it becomes unreadable", run: cmdKeysShred})
	register(&command{name: "keys recover", args: "--identity FILE --data DIR",
		short: "finalize encrypted recordings a crash left unfinalized", run: cmdKeysRecover})
}

// recordingKeysDir is where a data directory keeps per-recording keys.
func recordingKeysDir(root string) string {
	return consentrec.DataDir{Root: root}.RecordingKeys()
}

func cmdKeysGenerate(e *env, args []string) error {
	fset := flag.NewFlagSet("keys generate", flag.ContinueOnError)
	out := fset.String("o", "", "write the identity to `FILE` (mode 0600; default: standard output)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("no arguments expected")
	}
	if *out != "" {
		if err := newOutput(*out); err != nil {
			return err
		}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	text := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if *out == "" {
		fmt.Fprint(e.stdout, text)
	} else {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := f.WriteString(text); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "public key: %s\n", id.Recipient())
	return nil
}

// readIdentities parses an age identity file (as age-keygen writes them).
func readIdentities(path string) ([]age.Identity, error) {
	if path == "" {
		return nil, usagef("--identity FILE is required")
	}
	f, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return ids, nil
}

func cmdKeysRecipient(e *env, args []string) error {
	fset := flag.NewFlagSet("keys recipient", flag.ContinueOnError)
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one IDENTITY-FILE")
	}
	ids, err := readIdentities(pos[0])
	if err != nil {
		return err
	}
	n := 0
	for _, id := range ids {
		if x, ok := id.(*age.X25519Identity); ok {
			fmt.Fprintln(e.stdout, x.Recipient())
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%s holds no X25519 identity", pos[0])
	}
	return nil
}

// openEncrypted opens the encrypted recordings of a data directory with the
// identities of idFile (crypto-shredding on if the keys directory exists).
func openEncrypted(root, idFile string, needIdentity bool) (*agestore.Store, error) {
	cfg := agestore.Config{}
	if needIdentity || idFile != "" {
		ids, err := readIdentities(idFile)
		if err != nil {
			return nil, err
		}
		cfg.Identities = ids
		for _, id := range ids {
			if x, ok := id.(*age.X25519Identity); ok {
				cfg.Recipients = append(cfg.Recipients, x.Recipient())
			}
		}
	}
	dir := consentrec.DataDir{Root: root}
	if _, err := os.Stat(dir.Recordings()); err != nil {
		return nil, usagef("no recordings at %s: is --data right?", dir.Recordings())
	}
	inner, err := recorder.NewFileStore(dir.Recordings())
	if err != nil {
		return nil, err
	}
	if len(cfg.Recipients) == 0 {
		// Shredding needs no key: any recipient satisfies the constructor.
		id, _ := age.GenerateX25519Identity()
		cfg.Recipients = []age.Recipient{id.Recipient()}
	}
	if st, err := os.Stat(recordingKeysDir(root)); err == nil && st.IsDir() {
		if cfg.Keys, err = agestore.NewDirKeyStore(recordingKeysDir(root)); err != nil {
			return nil, err
		}
	}
	return agestore.New(inner, cfg)
}

func cmdKeysDecrypt(e *env, args []string) error {
	fset := flag.NewFlagSet("keys decrypt", flag.ContinueOnError)
	data := dataFlag(fset)
	idFile := fset.String("identity", "", "age identity `FILE` (private key)")
	out := fset.String("o", "", "write the decrypted Ogg Opus file to `OUT` (- for standard output)")
	reason := fset.String("reason", "", "why you decrypt it, `TEXT` (audited)")
	by := fset.String("by", "", "who you are, `NAME` (default: the login name)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return usagef("want one recording ID and -o OUT")
	}
	// OUT is checked before the recording is opened or the access
	// audited: the CLI never overwrites, and audits only what it delivers.
	if *out != "-" {
		if err := newOutput(*out); err != nil {
			return err
		}
	}
	st, err := openEncrypted(*data, *idFile, true)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rc, err := st.Open(ctx, pos[0])
	if err != nil {
		return explainKeyErr(err)
	}
	defer rc.Close()
	if err := auditAccess(ctx, *data, pos[0], *by, *reason, "keys decrypt"); err != nil {
		return err
	}
	var w io.Writer = e.stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return err
		}
		w = f
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		if f != nil {
			f.Close()
			os.Remove(*out) // never leave a partial, unauthenticated file
		}
		return explainKeyErr(err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%s: %d bytes, SHA-256 verified, decrypted to %s\n", pos[0], n, *out)
	}
	return nil
}

// explainKeyErr adds a hint to the errors an operator can act on.
func explainKeyErr(err error) error {
	switch {
	case errors.Is(err, agestore.ErrWrongKey):
		return fmt.Errorf("%w\nhint: this identity is not one the recording was encrypted to", err)
	case errors.Is(err, agestore.ErrShredded):
		return fmt.Errorf("%w\nthe recording can no longer be decrypted by anyone", err)
	case errors.Is(err, recorder.ErrIntegrity):
		return fmt.Errorf("%w\nthe stored file was altered or truncated: do not use it", err)
	}
	return err
}

func cmdKeysExport(e *env, args []string) error {
	fset := flag.NewFlagSet("keys export", flag.ContinueOnError)
	data := dataFlag(fset)
	idFile := fset.String("identity", "", "age identity `FILE` (private key)")
	reason := fset.String("reason", "", "why you export the key, `TEXT` (audited)")
	by := fset.String("by", "", "who you are, `NAME` (default: the login name)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one recording ID")
	}
	if err := recorder.ValidateID(pos[0]); err != nil {
		return usagef("%v", err)
	}
	ids, err := readIdentities(*idFile)
	if err != nil {
		return err
	}
	ks, err := agestore.NewDirKeyStore(recordingKeysDir(*data))
	if err != nil {
		return err
	}
	wrapped, err := ks.Get(context.Background(), pos[0])
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no key for %s in %s: %w (or the recording does not use per-recording keys)", pos[0], ks.Dir(), agestore.ErrShredded)
	}
	if err != nil {
		return err
	}
	key, err := agestore.UnwrapKey(wrapped, ids...)
	if err != nil {
		return explainKeyErr(err)
	}
	if err := auditAccess(context.Background(), *data, pos[0], *by, *reason, "keys export"); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "# key of recording %s: age -d -i THIS-FILE %s\n%s\n", pos[0],
		filepath.Join(consentrec.DataDir{Root: *data}.Recordings(), pos[0]+".opus"), key)
	return nil
}

func cmdKeysShred(e *env, args []string) (err error) {
	fset := flag.NewFlagSet("keys shred", flag.ContinueOnError)
	data := dataFlag(fset)
	reason := fset.String("reason", "", "why the recording is destroyed, `TEXT` (required, audited)")
	by := fset.String("by", "", "who you are, `NAME` (default: the login name)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one recording ID")
	}
	if err := recorder.ValidateID(pos[0]); err != nil {
		return usagef("%v", err)
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("--reason is required (it goes to the audit log)")
	}
	who := whoami(*by)
	ks, err := agestore.NewDirKeyStore(recordingKeysDir(*data))
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := ks.Get(ctx, pos[0]); err != nil {
		return fmt.Errorf("no key for %s in %s: %w", pos[0], ks.Dir(), err)
	}
	// The audit log is opened first: no shredding without its trail.
	log, err := audit.OpenDir(ctx, *data, audit.Options{})
	if err != nil {
		return fmt.Errorf("keys shred %s: audit log: %w (nothing deleted)", pos[0], err)
	}
	defer func() { err = errors.Join(err, log.Close()) }()
	ev := audit.Event{Kind: audit.KindKeyShredded, Time: time.Now().UTC(), RecordingID: pos[0], Actor: who, Reason: *reason}
	// The recording's metadata (unencrypted beside it) gives the event its
	// call, purpose and the digest of the file that just became unreadable.
	if st, err := recorder.NewFileStore(consentrec.DataDir{Root: *data}.Recordings()); err == nil {
		if m, err := st.Stat(ctx, pos[0]); err == nil {
			ev.CallID, ev.Purpose, ev.PolicyVersion, ev.SHA256 = m.CallID, string(m.Purpose), m.PolicyVersion, m.SHA256
		}
	}
	if err := ks.Delete(ctx, pos[0]); err != nil {
		return err
	}
	if _, err := log.Append(ctx, ev); err != nil {
		return fmt.Errorf("keys shred %s: the key is deleted, but the audit event was not appended: %w", pos[0], err)
	}
	fmt.Fprintf(e.stdout, "%s: key deleted; the recording and every copy of it are now unreadable (audited)\n", pos[0])
	return nil
}

// whoami returns by, or the login name.
func whoami(by string) string {
	if by == "" {
		if u, err := user.Current(); err == nil {
			return u.Username
		}
	}
	return by
}

// auditAccess appends the access event (KindAccess, action export) of a
// command that hands out a recording, or its key, in the clear: who, why,
// and the digest of the stored file. If it cannot, nothing is handed out
// (as through `consentrec open`: nothing is read untraced).
func auditAccess(ctx context.Context, root, id, by, reason, tool string) (err error) {
	log, err := audit.OpenDir(ctx, root, audit.Options{})
	if err != nil {
		return fmt.Errorf("%s %s: audit log: %w (nothing handed out)", tool, id, err)
	}
	defer func() { err = errors.Join(err, log.Close()) }()
	ev := audit.Event{Kind: audit.KindAccess, Time: time.Now().UTC(), RecordingID: id, Actor: whoami(by),
		Reason: strings.TrimSpace(reason), Attrs: []audit.Attr{{Key: "action", Value: "export"}, {Key: "tool", Value: "consentrec " + tool}}}
	if st, err := recorder.NewFileStore(consentrec.DataDir{Root: root}.Recordings()); err == nil {
		if m, err := st.Stat(ctx, id); err == nil {
			ev.CallID, ev.Purpose, ev.PolicyVersion, ev.SHA256 = m.CallID, string(m.Purpose), m.PolicyVersion, m.SHA256
		}
	}
	if _, err := log.Append(ctx, ev); err != nil {
		return fmt.Errorf("%s %s: audit: %w (nothing handed out)", tool, id, err)
	}
	return nil
}

func cmdKeysRecover(e *env, args []string) error {
	fset := flag.NewFlagSet("keys recover", flag.ContinueOnError)
	data := dataFlag(fset)
	idFile := fset.String("identity", "", "age identity `FILE` (private key)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("no arguments expected")
	}
	st, err := openEncrypted(*data, *idFile, true)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var aud audit.Appender = audit.Discard
	if _, err := os.Stat(consentrec.DataDir{Root: *data}.Audit()); err == nil {
		log, err := audit.OpenDir(ctx, *data, audit.Options{})
		if err != nil {
			return err
		}
		defer log.Close()
		aud = log
	}
	cat, err := sqlitecatalog.Open(ctx, consentrec.DataDir{Root: *data}.Catalog())
	if err != nil {
		return err
	}
	defer cat.Close()
	// Recovered recordings are catalogued by the same code as a hang-up's:
	// swept at their deadline, found by their subject's erasure.
	rs, err := consentrec.Recover(ctx, st, aud, cat)
	for _, r := range rs {
		fmt.Fprintf(e.stdout, "%s: recovered and catalogued (%s, delete by %s), %d gaps\n", r.ID, r.Purpose, r.Deadline.Format(time.DateOnly), len(r.Gaps))
	}
	if len(rs) == 0 && err == nil {
		fmt.Fprintln(e.stdout, "nothing to recover")
	}
	if err != nil {
		return explainKeyErr(err)
	}
	return nil
}
