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
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/agestore"
	"github.com/consentrec/consentrec/retention"
)

// Encrypted recordings (package recorder/agestore) live in the usual
// recordings directory; per-recording keys (crypto-shredding), when used,
// in DataDir.Keys()/recordings.
func init() {
	register(&command{name: "keys generate", args: "[-o FILE]",
		short: "create an age X25519 identity (private key) and print its public key", run: cmdKeysGenerate})
	register(&command{name: "keys recipient", args: "IDENTITY-FILE",
		short: "print the public key (age1...) of an identity file", run: cmdKeysRecipient})
	register(&command{name: "keys decrypt", args: "ID --identity FILE -o OUT --reason TEXT [--as ROLE] --data DIR",
		short: "check and decrypt an encrypted recording to an Ogg Opus file", run: cmdKeysDecrypt})
	register(&command{name: "keys export", args: "ID --identity FILE --reason TEXT [--as ROLE] --data DIR",
		short: "print a recording's own key, for `age -d -i KEY` (crypto-shredding mode)", run: cmdKeysExport})
	register(&command{name: "keys shred", args: "ID --reason TEXT --data DIR",
		short: "destroy a recording and its own key, if the catalog allows (no hold, no legal minimum): every copy becomes unreadable", run: cmdKeysShred})
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

// cmdKeysDecrypt hands out a recording in the clear: it goes through the
// access gate like open (role from the access table, reason, hold and
// erasure state; audited), and never leaves a partial file.
func cmdKeysDecrypt(e *env, args []string) (err error) {
	fset := flag.NewFlagSet("keys decrypt", flag.ContinueOnError)
	data := dataFlag(fset)
	idFile := fset.String("identity", "", "age identity `FILE` (private key)")
	out := fset.String("o", "", "write the decrypted Ogg Opus file to `OUT` (- for standard output)")
	reason := fset.String("reason", "", "why you decrypt it, `TEXT` (required, audited)")
	as := fset.String("as", "", "the `ROLE` you act in, one "+AccessFile+" grants you (default: the first that may)")
	by := byGone(fset)
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if err := by.check(); err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return usagef("want one recording ID and -o OUT")
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("--reason is required (it goes to the audit log)")
	}
	// OUT is checked before the recording is opened or the access
	// audited: the CLI never overwrites, and audits only what it delivers.
	if *out != "-" {
		if err := newOutput(*out); err != nil {
			return err
		}
	}
	if _, err := readIdentities(*idFile); err != nil {
		return err
	}
	ctx := context.Background()
	renv, err := openRetention(ctx, *data, true, *idFile)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, renv.Close()) }()
	g, err := renv.gate(*data)
	if err != nil {
		return err
	}
	var w io.Writer = e.stdout
	var tmp *os.File
	if *out != "-" {
		if tmp, err = os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*"); err != nil {
			return err
		}
		defer os.Remove(tmp.Name()) // never leave a partial, unauthenticated file
		defer tmp.Close()
		w = tmp
	}
	rc, _, err := gateOpen(ctx, g, *as, pos[0], retention.ActionExport, *reason)
	if err != nil {
		return explainKeyErr(err)
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err != nil {
		return explainKeyErr(err)
	}
	if tmp != nil {
		if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
			return err
		}
		if err := os.Link(tmp.Name(), *out); err != nil { // never overwrites
			return err
		}
		fmt.Fprintf(e.stderr, "%s: %d bytes, SHA-256 verified, decrypted to %s (audited)\n", pos[0], n, *out)
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

// cmdKeysExport hands out a recording's own key, which opens the audio:
// it goes through the same gate as open, and is audited as an export.
func cmdKeysExport(e *env, args []string) (err error) {
	fset := flag.NewFlagSet("keys export", flag.ContinueOnError)
	data := dataFlag(fset)
	idFile := fset.String("identity", "", "age identity `FILE` (private key)")
	reason := fset.String("reason", "", "why you export the key, `TEXT` (required, audited)")
	as := fset.String("as", "", "the `ROLE` you act in, one "+AccessFile+" grants you (default: the first that may)")
	by := byGone(fset)
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
	if err := recorder.ValidateID(pos[0]); err != nil {
		return usagef("%v", err)
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("--reason is required (it goes to the audit log)")
	}
	ids, err := readIdentities(*idFile)
	if err != nil {
		return err
	}
	ks, err := agestore.NewDirKeyStore(recordingKeysDir(*data))
	if err != nil {
		return err
	}
	ctx := context.Background()
	wrapped, err := ks.Get(ctx, pos[0])
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
	renv, err := openRetention(ctx, *data, true, "")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, renv.Close()) }()
	g, err := renv.gate(*data)
	if err != nil {
		return err
	}
	if _, _, err := g.Admit(ctx, retention.Principal{Role: policy.Role(*as)}, pos[0], retention.ActionExport, *reason,
		audit.Attr{Key: "tool", Value: "consentrec keys export"}); err != nil {
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
	by := byGone(fset)
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
	if err := recorder.ValidateID(pos[0]); err != nil {
		return usagef("%v", err)
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("--reason is required (it goes to the audit log)")
	}
	ks, err := agestore.NewDirKeyStore(recordingKeysDir(*data))
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := ks.Get(ctx, pos[0]); err != nil {
		return fmt.Errorf("no key for %s in %s: %w", pos[0], ks.Dir(), err)
	}
	// The catalog is asked first (R13, R30): no shredding of a recording
	// under legal hold or kept under a legal obligation, and no shredding
	// without its trail. The key goes with the file and the catalog row.
	renv, err := openRetention(ctx, *data, true, "")
	if err != nil {
		return fmt.Errorf("keys shred %s: %w (nothing deleted)", pos[0], err)
	}
	defer func() { err = errors.Join(err, renv.Close()) }()
	az, err := cliAuthorizer(*data)
	if err != nil {
		return err
	}
	d := &retention.Destroyer{Catalog: renv.catalog, Store: renv.store, Audit: renv.log, Authorizer: az, Kind: audit.KindKeyShredded}
	if _, err := d.Destroy(ctx, pos[0], *reason); err != nil {
		var kept *retention.KeptError
		if errors.As(err, &kept) || errors.Is(err, retention.ErrNotFound) || errors.Is(err, retention.ErrDenied) {
			return fmt.Errorf("%w (nothing deleted; the refusal is in the audit log)", err)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "%s: key and file deleted; the recording and every copy of it are now unreadable (audited)\n", pos[0])
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
	ab, err := loadAuditBackend(*data)
	if err != nil {
		return err
	}
	if _, err := os.Stat(consentrec.DataDir{Root: *data}.Audit()); err == nil || !ab.isFile() {
		log, err := ab.open(ctx, *data)
		if err != nil {
			return err
		}
		defer log.Close()
		aud = log
	}
	cat, err := openCatalog(ctx, *data)
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

// whoami returns by, or the login name (commands outside the access gate
// that still take --by as an annotation: agent ack, breach report).
func whoami(by string) string {
	if by == "" {
		if u, err := user.Current(); err == nil {
			return u.Username
		}
	}
	return by
}
