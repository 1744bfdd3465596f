package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/tesseralog"
	"github.com/consentrec/consentrec/retention"
	"golang.org/x/mod/sumdb/note"
)

func init() {
	register(&command{name: "audit verify", args: "--data DIR [--key PUBKEY] [--checkpoint FILE]... [--anchor FILE] [--witness KEY]... [--quorum N] | --tiles DIR --key PUBKEY | --mysql DSN --key PUBKEY",
		short: "verify the audit log (the data directory's, or a Tessera log's tiles or database): every entry, the chain, the tree and the signed checkpoint", run: auditVerify})
	register(&command{name: "audit show", args: "--data DIR [--from N] [--limit N] [--json]",
		short: "list the audit log's entries in log order (INDEX), each with its event's TIME", run: auditShow})
	register(&command{name: "audit prove", args: "--data DIR [--hide-subject] [-o FILE] INDEX",
		short: "write a self-contained receipt (entry, proof, signed checkpoint) for one entry", run: auditProve})
	register(&command{name: "audit prune", args: "--data DIR (--older-than DAYS | --before TIME) [--all-kinds]",
		short: "delete old access-log payloads (the log's own retention; with --all-kinds also other evidence, except that of recordings still catalogued), keeping every proof valid", run: auditPrune})
	register(&command{name: "audit key", args: "--data DIR",
		short: "print the audit log's verifier key (for auditors: audit verify --key, audit check --key)", run: auditKey})
	register(&command{name: "audit check", args: "RECEIPT --key PUBKEY [--witness KEY]...",
		short: "check a receipt offline against the log's public key", run: auditCheck})
}

// auditFS returns the file layer of DIR's audit log.
func auditFS(data string) (audit.FS, error) {
	dir := filepath.Join(data, "audit")
	if _, err := os.Stat(filepath.Join(dir, "log")); errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("no audit log in %s: is --data right?", data)
	} else if err != nil {
		return nil, fmt.Errorf("no audit log in %s: %w", data, err)
	}
	return audit.DirFS(dir), nil
}

// auditKeyFlag loads --key: a verifier key or a file holding one; "" is nil.
func auditKeyFlag(s string) (note.Verifier, error) {
	if s == "" {
		return nil, nil
	}
	v, err := audit.LoadVerifier(s)
	if err != nil {
		return nil, usagef("--key: %v", err)
	}
	return v, nil
}

type auditMultiFlag []string

func (m *auditMultiFlag) String() string     { return strings.Join(*m, ",") }
func (m *auditMultiFlag) Set(s string) error { *m = append(*m, s); return nil }

func auditVerify(e *env, args []string) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	data := dataFlag(fs)
	keyArg := fs.String("key", "", "verifier `PUBKEY` (key or file; default: the key kept beside the log, or for a Tessera backend the public half of the data directory's signing key)")
	var wits, known auditMultiFlag
	fs.Var(&wits, "witness", "a witness `KEY` (C2SP cosignature/v1 or Ed25519 note key, or a file holding one) whose cosignature counts (repeatable)")
	quorum := fs.Int("quorum", 0, "require cosignatures by at least `N` of the --witness keys (default: all of them)")
	fs.Var(&known, "checkpoint", "a signed checkpoint or receipt `FILE` kept earlier: the log must still extend it (repeatable)")
	anchorArg := fs.String("anchor", "", "the anchor `FILE` kept outside the audit folder (default: DIR/keys/audit-anchor, when present)")
	tiles := fs.String("tiles", "", "verify a copy of a Tessera log's tiles in `DIR` (its tlog directory: checkpoint, tile/) instead of the data directory's log; needs --key")
	mysqlDSN := fs.String("mysql", "", "verify the Tessera log in the MySQL/MariaDB database `DSN` (USER@tcp(HOST:PORT)/DATABASE, password in $MYSQL_PWD) instead of the data directory's log; needs --key")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	key, err := auditKeyFlag(*keyArg)
	if err != nil {
		return err
	}
	witnesses, err := auditWitnessKeys(wits)
	if err != nil {
		return err
	}
	if *quorum < 0 || *quorum > len(witnesses) {
		return usagef("--quorum %d: between 1 and the number of --witness keys (%d)", *quorum, len(witnesses))
	}
	if tfs, closeTiles, err := auditTesseraTiles(*data, *tiles, *mysqlDSN, *keyArg != ""); err != nil {
		return err
	} else if tfs != nil {
		defer closeTiles()
		if len(known) > 0 || *anchorArg != "" {
			return usagef("--checkpoint and --anchor apply to the file log only (a Tessera log's witnesses keep its cosigned checkpoint beside the tiles: --witness)")
		}
		// The data directory's own backend also has the openings.
		withOpenings := *tiles == "" && *mysqlDSN == ""
		return auditVerifyTiles(e, *data, tfs, tesseralog.VerifyOptions{Key: key, Witnesses: witnesses, Quorum: *quorum}, withOpenings)
	}
	var knownCPs [][]byte
	for _, k := range known {
		b, err := os.ReadFile(k)
		if err != nil {
			return usagef("--checkpoint: %v", err)
		}
		if r, err := audit.ParseReceipt(b); err == nil {
			b = r.Checkpoint
		}
		knownCPs = append(knownCPs, b)
	}
	fsys, err := auditFS(*data)
	if err != nil {
		return err
	}
	// The anchor kept outside the audit folder (keys/audit-anchor) exposes
	// a rollback of the folder alone; --anchor names another copy.
	anchor := audit.DirAnchor(*data)
	if *anchorArg != "" {
		anchor = &audit.FileAnchor{Path: *anchorArg}
	}
	rep, err := audit.Verify(context.Background(), fsys, audit.VerifyOptions{Key: key, Witnesses: witnesses, Quorum: *quorum, Known: knownCPs, Anchor: anchor})
	if err != nil {
		return err
	}
	if rep.Checkpoint.Size == 0 && rep.Entries > 0 {
		return fmt.Errorf("%d entries but no signed checkpoint: truncation cannot be ruled out", rep.Entries)
	}
	fmt.Fprintf(e.stdout, "ok: %d entries, root %s\n", rep.Entries, base64.StdEncoding.EncodeToString(rep.Root[:]))
	fmt.Fprintf(e.stdout, "origin: %s\n", rep.Origin)
	fmt.Fprintf(e.stdout, "checkpoint: %d entries signed, %d witness cosignatures, %d not yet signed\n",
		rep.Checkpoint.Size, rep.Cosigned, rep.Unsigned())
	for _, c := range rep.Cosignatures {
		at := "no timestamp (plain note signature)"
		if !c.Time.IsZero() {
			at = "cosigned at " + c.Time.Format(time.RFC3339)
		}
		fmt.Fprintf(e.stdout, "witness: %s, %s\n", c.Name, at)
	}
	if rep.Pruned > 0 || rep.Shredded > 0 {
		fmt.Fprintf(e.stdout, "retention: %d entries pruned (leaf only), %d subjects shredded\n", rep.Pruned, rep.Shredded)
	}
	if rep.TornBytes > 0 {
		fmt.Fprintf(e.stdout, "note: %d bytes of torn, unacknowledged tail (trimmed on next open)\n", rep.TornBytes)
	}
	return nil
}

// auditTesseraTiles returns the tiles audit verify reads for a Tessera
// log: --tiles DIR, --mysql DSN (both need --key), or the Tessera backend
// of the data directory's backends.json. nil: the file log.
func auditTesseraTiles(data, tiles, dsn string, hasKey bool) (fs.FS, func() error, error) {
	if tiles != "" || dsn != "" {
		// An auditor with a copy of the tiles, or read access to the
		// database, and the public key needs neither the openings nor the
		// signing key (audit/tesseralog).
		switch {
		case tiles != "" && dsn != "":
			return nil, nil, usagef("give --tiles or --mysql, not both")
		case !hasKey && tiles != "":
			return nil, nil, usagef("--tiles needs --key PUBKEY (the log's verifier key)")
		case !hasKey:
			return nil, nil, usagef("--mysql needs --key PUBKEY (the log's verifier key)")
		}
	}
	if tiles != "" {
		if st, err := os.Stat(tiles); err != nil || !st.IsDir() {
			return nil, nil, usagef("--tiles %s: not a directory", tiles)
		}
		return os.DirFS(tiles), func() error { return nil }, nil
	}
	var ab auditBackend
	if dsn != "" {
		cfg, err := parseMySQLDSN(strings.TrimPrefix(dsn, auditSchemeMySQL))
		if err != nil {
			return nil, nil, usagef("--mysql: %v", err)
		}
		ab.mysql = cfg
	} else {
		var err error
		if ab, err = auditLogExists(data); err != nil || ab.isFile() {
			return nil, nil, err
		}
	}
	return ab.openTiles(context.Background())
}

// auditKey prints the verifier key of the data directory's log: the one
// kept beside the file log, or for a Tessera log the public half of the
// signing key under the origin of the log's checkpoint.
func auditKey(e *env, args []string) error {
	fs := flag.NewFlagSet("audit key", flag.ContinueOnError)
	data := dataFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	ab, err := auditLogExists(*data)
	if err != nil {
		return err
	}
	var vkey string
	if ab.isFile() {
		b, err := os.ReadFile(filepath.Join(consentrec.DataDir{Root: *data}.Audit(), "checkpoint.pub"))
		if err != nil {
			return fmt.Errorf("no verifier key beside the audit log: %w", err)
		}
		vkey = strings.TrimSpace(string(b))
	} else {
		tiles, closeTiles, err := ab.openTiles(context.Background())
		if err != nil {
			return err
		}
		defer closeTiles()
		if vkey, err = tesseraVerifierKey(*data, tiles); err != nil {
			return err
		}
	}
	// Parsed back: never print something audit verify would refuse.
	if _, err := audit.LoadVerifier(vkey); err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, vkey)
	return err
}

// tesseraVerifierKey returns the verifier key of a Tessera log whose tiles
// are tiles, signed with the data directory's signing key: the public
// half of the key under the origin of the log's checkpoint (or the origin
// of a new log).
func tesseraVerifierKey(data string, tiles fs.FS) (string, error) {
	path := filepath.Join(consentrec.DataDir{Root: data}.Keys(), audit.SigningKeyFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("no signing key to derive the verifier key from: %v", err)
	}
	priv, err := audit.ParseSigningKey(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	origin := tesseraOrigin(pub)
	if cp, err := fs.ReadFile(tiles, "checkpoint"); err == nil {
		if o, err := checkpointOrigin(cp); err == nil {
			origin = o
		}
	}
	return audit.VerifierKey(origin, pub)
}

// auditVerifyTiles verifies a Tessera log's tiles
// (tesseralog.VerifyTilesWith: with witnesses, their quorum on the
// cosigned checkpoint kept beside the tiles) with opts.Key, or without it
// with the data directory's signing key under the origin of the log's
// checkpoint, and prints what audit verify prints for the file log.
// withOpenings, it then opens the data directory's log and checks every
// entry's opening (event payload and subject) against its leaf, as the file
// log's verification does.
func auditVerifyTiles(e *env, data string, tiles fs.FS, opts tesseralog.VerifyOptions, withOpenings bool) error {
	ctx := context.Background()
	if opts.Key == nil {
		vkey, err := tesseraVerifierKey(data, tiles)
		if err != nil {
			return err
		}
		if opts.Key, err = note.NewVerifier(vkey); err != nil {
			return err
		}
	}
	cp, err := tesseralog.VerifyTilesWith(ctx, tiles, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ok: %d entries, root %s\n", cp.Size, base64.StdEncoding.EncodeToString(cp.Root[:]))
	fmt.Fprintf(e.stdout, "origin: %s\n", cp.Origin)
	if len(opts.Witnesses) > 0 {
		fmt.Fprintf(e.stdout, "witnesses: the cosigned checkpoint holds a quorum of the %d listed\n", len(opts.Witnesses))
	}
	if !withOpenings {
		fmt.Fprintf(e.stdout, "checkpoint: %d entries signed (tiles only: payloads and subjects are not in the tiles)\n", cp.Size)
		return nil
	}
	fmt.Fprintf(e.stdout, "checkpoint: %d entries signed\n", cp.Size)
	l, err := openAuditLog(ctx, data)
	if errors.Is(err, tesseralog.ErrLocked) {
		// A POSIX log has one process at a time: its host is running.
		fmt.Fprintf(e.stdout, "note: openings not checked (tiles only): %v\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	defer l.Close()
	pruned, shredded := 0, 0
	for i := range cp.Size {
		en, err := l.Entry(ctx, i)
		if err != nil {
			return err
		}
		if en.Pruned {
			pruned++
		}
		if en.Shredded {
			shredded++
		}
	}
	if pruned > 0 || shredded > 0 {
		fmt.Fprintf(e.stdout, "retention: %d entries pruned (leaf only), %d subjects shredded\n", pruned, shredded)
	}
	return nil
}

func auditWitnessKeys(keys []string) ([]note.Verifier, error) {
	var out []note.Verifier
	for _, k := range keys {
		v, err := audit.LoadVerifier(k)
		if err != nil {
			return nil, usagef("--witness: %v", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// auditShownEvent is the JSON form of one entry in `audit show --json`.
type auditShownEvent struct {
	Index         uint64       `json:"index"`
	Time          time.Time    `json:"time"`
	Kind          string       `json:"kind"`
	CallID        string       `json:"call_id,omitempty"`
	RecordingID   string       `json:"recording_id,omitempty"`
	Actor         string       `json:"actor,omitempty"`
	Role          string       `json:"role,omitempty"`
	Reason        string       `json:"reason,omitempty"`
	Subject       string       `json:"subject,omitempty"`
	Purpose       string       `json:"purpose,omitempty"`
	PolicyVersion string       `json:"policy_version,omitempty"`
	SHA256        string       `json:"sha256,omitempty"`
	Attrs         []audit.Attr `json:"attrs,omitempty"`
	Pruned        bool         `json:"pruned,omitempty"`
	Shredded      bool         `json:"shredded,omitempty"`
}

func auditShow(e *env, args []string) error {
	fs := flag.NewFlagSet("audit show", flag.ContinueOnError)
	data := dataFlag(fs)
	from := fs.Uint64("from", 0, "first `INDEX` to show")
	limit := fs.Uint64("limit", 0, "show at most `N` entries (0: all)")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if _, err := auditLogExists(*data); err != nil {
		return err
	}
	if !*asJSON {
		// The log is a sequence: entries are appended in the order they
		// reach it, and each keeps the time its source stamped, so times
		// can go back (a decision stamped at call start, logged after a
		// later event).
		fmt.Fprintln(e.stderr, "# entries in log order (INDEX), not sorted by TIME: TIME is when the event happened, as its source stamped it\n# INDEX TIME KIND FIELD=VALUE...")
	}
	enc := json.NewEncoder(e.stdout)
	shown := uint64(0)
	stop := errors.New("stop")
	err := readAuditEntries(context.Background(), *data, *from, func(en audit.Entry) error {
		if *limit > 0 && shown == *limit {
			return stop
		}
		shown++
		ev := en.Event
		if *asJSON {
			return enc.Encode(auditShownEvent{Index: en.Index, Time: ev.Time, Kind: ev.Kind.String(), CallID: ev.CallID,
				RecordingID: ev.RecordingID, Actor: ev.Actor, Role: ev.Role, Reason: ev.Reason, Subject: ev.Subject,
				Purpose: ev.Purpose, PolicyVersion: ev.PolicyVersion, SHA256: ev.SHA256, Attrs: ev.Attrs,
				Pruned: en.Pruned, Shredded: en.Shredded})
		}
		_, err := fmt.Fprintln(e.stdout, auditFormatEntry(en))
		return err
	})
	if err == stop {
		err = nil
	}
	return err
}

// auditFormatEntry renders one entry on one line: index, time, kind, then the
// non-empty fields as key=value (values quoted when needed).
func auditFormatEntry(en audit.Entry) string {
	ev := en.Event
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s", en.Index, ev.Time.Format(time.RFC3339Nano), ev.Kind)
	kv := func(k, v string) {
		if v == "" {
			return
		}
		if strings.ContainsAny(v, " \t\n\"=") || v != strings.TrimSpace(v) {
			v = strconv.Quote(v)
		}
		b.WriteString(" " + k + "=" + v)
	}
	kv("call", ev.CallID)
	kv("recording", ev.RecordingID)
	kv("actor", ev.Actor)
	kv("role", ev.Role)
	kv("reason", ev.Reason)
	kv("subject", ev.Subject)
	kv("purpose", ev.Purpose)
	kv("policy", ev.PolicyVersion)
	kv("sha256", ev.SHA256)
	for _, a := range ev.Attrs {
		if a.Key == "draw" { // entries logged before draws had a fixed width
			if d, err := strconv.ParseUint(a.Value, 16, 64); err == nil {
				a.Value = fmt.Sprintf("%016x", d)
			}
		}
		kv(a.Key, a.Value)
	}
	if en.Pruned {
		b.WriteString(" [pruned]")
	}
	if en.Shredded {
		b.WriteString(" [subject shredded]")
	}
	return b.String()
}

func auditProve(e *env, args []string) error {
	fs := flag.NewFlagSet("audit prove", flag.ContinueOnError)
	data := dataFlag(fs)
	hide := fs.Bool("hide-subject", false, "leave the subject's opening out of the receipt")
	out := fs.String("o", "", "write the receipt to `FILE` (must not exist; mode 0600; default: standard output)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one INDEX")
	}
	index, err := strconv.ParseUint(pos[0], 10, 63)
	if err != nil {
		return usagef("INDEX %q: not an entry index", pos[0])
	}
	if *out != "" {
		if err := newOutput(*out); err != nil {
			return err
		}
	}
	r, err := auditReceipt(context.Background(), *data, index)
	if err != nil {
		return err
	}
	if *hide {
		r.HideSubject()
	}
	txt, err := r.MarshalText()
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = e.stdout.Write(txt)
		return err
	}
	// The receipt holds the entry in clear (actor, reason, and the
	// subject's opening unless --hide-subject): owner-only, like the log,
	// and never over an existing file (which would keep its own mode).
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(txt)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
	}
	return err
}

// auditReceipt proves entry index of the data directory's log: from the
// file log's files, or by opening a Tessera log.
func auditReceipt(ctx context.Context, data string, index uint64) (*audit.Receipt, error) {
	ab, err := auditLogExists(data)
	if err != nil {
		return nil, err
	}
	if ab.isFile() {
		fsys, err := auditFS(data)
		if err != nil {
			return nil, err
		}
		return audit.ProveFS(ctx, fsys, nil, index)
	}
	l, err := ab.open(ctx, data)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if n := l.Size(); index >= n {
		return nil, fmt.Errorf("entry %d of %d: %w", index, n, audit.ErrNotFound)
	}
	return l.Receipt(ctx, index)
}

func auditCheck(e *env, args []string) error {
	fs := flag.NewFlagSet("audit check", flag.ContinueOnError)
	keyArg := fs.String("key", "", "the log's verifier `PUBKEY` (key or file)")
	var wits auditMultiFlag
	fs.Var(&wits, "witness", "require a cosignature by this witness `KEY` (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one RECEIPT file (- for standard input)")
	}
	if *keyArg == "" {
		return usagef("--key is required: a receipt proves nothing without the log's public key")
	}
	key, err := auditKeyFlag(*keyArg)
	if err != nil {
		return err
	}
	witnesses, err := auditWitnessKeys(wits)
	if err != nil {
		return err
	}
	var data []byte
	if pos[0] == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, 16<<20))
	} else {
		var f *os.File
		if f, err = openInput(pos[0]); err != nil {
			return err
		}
		data, err = io.ReadAll(io.LimitReader(f, 16<<20))
		f.Close()
	}
	if err != nil {
		return err
	}
	en, cp, err := audit.CheckReceipt(data, key, witnesses...)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ok: entry %d of %s is in its signed checkpoint of %d entries, root %s\n",
		en.Index, cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Root[:]))
	fmt.Fprintln(e.stdout, auditFormatEntry(en))
	return nil
}

func auditPrune(e *env, args []string) error {
	fs := flag.NewFlagSet("audit prune", flag.ContinueOnError)
	data := dataFlag(fs)
	days := fs.Int("older-than", 0, "prune entries older than `DAYS` days (the CNIL recommends 180 to 365 for access logs)")
	before := fs.String("before", "", "prune entries logged before `TIME` (RFC 3339)")
	all := fs.Bool("all-kinds", false, "prune entries of every kind, consent and notice evidence included, except the evidence of recordings still catalogued (default: the access log only)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	var cutoff time.Time
	switch {
	case *days > 0 && *before == "":
		cutoff = time.Now().AddDate(0, 0, -*days)
	case *days == 0 && *before != "":
		var err error
		if cutoff, err = time.Parse(time.RFC3339, *before); err != nil {
			return usagef("--before: %v", err)
		}
	default:
		return usagef("give exactly one of --older-than DAYS (> 0) and --before TIME")
	}
	// Pruning cannot be undone: a cutoff not in the past (a --before in the
	// future, or an --older-than so large that the date arithmetic wraps)
	// would prune the whole trail.
	if !cutoff.Before(time.Now()) {
		return usagef("the cutoff %s is not in the past: nothing that recent may be pruned", cutoff.UTC().Format(time.RFC3339))
	}
	ab, err := auditLogExists(*data)
	if err != nil {
		return err
	}
	ctx := context.Background()
	keep, err := auditCatalogKeep(ctx, *data)
	if err != nil {
		return err
	}
	l, err := ab.open(ctx, *data)
	if err != nil {
		return err
	}
	kinds, what := audit.AccessKinds, "access-log entries"
	if *all {
		kinds, what = nil, "entries"
	}
	opts := audit.PruneOptions{Before: cutoff, Kinds: kinds, Keep: keep, Actor: whoami("")}
	if _, ok := l.(audit.Pruner); !ok {
		if *all {
			// A log that prunes by kind and date only (Tessera's) could
			// not keep the evidence of recordings still catalogued (R26).
			l.Close()
			return usagef("--all-kinds: the audit log %s prunes the access log only (it cannot keep the evidence of recordings still catalogued)", ab)
		}
		// keep spares no access-log entry: Prune by kind selects the same.
		opts.Keep = nil
	}
	res, err := audit.PruneWith(ctx, l, opts)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "pruned %d %s logged before %s (leaves kept: the log still verifies)\n", res.Pruned, what, cutoff.UTC().Format(time.RFC3339))
	kept := 0
	for _, n := range res.Kept {
		kept += n
	}
	if kept > 0 {
		fmt.Fprintf(e.stdout, "kept %d older entries that evidence recordings still catalogued (R26):\n", kept)
		reasons := make([]string, 0, len(res.Kept))
		for r := range res.Kept {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(e.stdout, "  %d: %s\n", res.Kept[r], r)
		}
	}
	return nil
}

// Reasons audit prune keeps an entry (R26).
const (
	keepRecording = "recording still catalogued"
	keepCall      = "call of a recording still catalogued"
)

// auditCatalogKeep returns the keep predicate of `audit prune` (R26): the
// entries that evidence a recording still catalogued (its notice,
// consent, objection, decision, holds...: every entry naming the recording
// or its call) stay, whatever the cutoff; the access log (AccessKinds)
// keeps its own retention. A data directory without a catalog keeps
// nothing more.
func auditCatalogKeep(ctx context.Context, root string) (func(audit.Event) string, error) {
	dir := consentrec.DataDir{Root: root}
	if _, err := os.Stat(dir.Catalog()); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	cat, err := openCatalog(ctx, dir.Root)
	if err != nil {
		return nil, err
	}
	defer cat.Close()
	// Every recording: those whose deadline is at or before the end of
	// time, held and pending ones included.
	all, err := cat.Expired(ctx, time.Unix(0, math.MaxInt64), retention.Cursor{}, 0)
	if err != nil {
		return nil, fmt.Errorf("audit prune: reading the catalog: %w", err)
	}
	recs, calls := map[string]bool{}, map[string]bool{}
	for _, r := range all {
		recs[r.ID] = true
		calls[r.CallID] = true
	}
	return func(e audit.Event) string {
		switch {
		case slices.Contains(audit.AccessKinds, e.Kind):
			return ""
		case e.RecordingID != "" && recs[e.RecordingID]:
			return keepRecording
		case e.CallID != "" && calls[e.CallID]:
			return keepCall
		}
		return ""
	}, nil
}
