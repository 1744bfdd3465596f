package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	consentrec "github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/recorder"
)

func init() {
	register(&command{name: "inspect", args: "FILE [--json]",
		short: "describe a recording: channels, duration, gaps, tags, SHA-256", run: cmdInspect})
	register(&command{name: "export", args: "FILE --wav OUT [--reason TEXT] [--as ROLE] [--unaudited]",
		short: "decode a recording to a 48 kHz 16-bit WAV file", run: cmdExport})
	register(&command{name: "recover", args: "--data DIR",
		short: "finalize the recordings a crash left unfinalized", run: cmdRecover})
}

// ageHeader starts every age file (https://age-encryption.org/v1).
const ageHeader = "age-encryption.org/v1\n"

// errEncrypted: a command that reads Ogg Opus was given an age-encrypted
// recording.
var errEncrypted = errors.New("the file is encrypted with age")

// notEncrypted returns an error wrapping errEncrypted, saying how to
// decrypt, when f (read from its start, left there) is an age file.
func notEncrypted(f *os.File, path string) error {
	head := make([]byte, len(ageHeader))
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if string(head[:n]) != ageHeader {
		return nil
	}
	id := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".partial"), ".opus")
	data := "DIR"
	if dir := filepath.Dir(path); filepath.Base(dir) == consentrec.RecordingsSubdir {
		data = filepath.Dir(dir)
	}
	hint := fmt.Sprintf("consentrec keys decrypt %s --identity FILE -o %s.ogg --data %s", id, id, data)
	if strings.HasSuffix(path, ".partial") {
		hint = fmt.Sprintf("consentrec keys recover --identity FILE --data %s (it was never finalized), then %s", data, hint)
	}
	return fmt.Errorf("%s: %w; decrypt it first: %s", path, errEncrypted, hint)
}

// inspectReport is what inspect prints (and --json emits).
type inspectReport struct {
	File      string          `json:"file"`
	Channels  int             `json:"channels"`
	Layout    string          `json:"layout"`
	Legs      []recorder.Role `json:"legs"`
	Duration  time.Duration   `json:"duration_ns"`
	PreSkip   int             `json:"pre_skip"`
	Streams   int             `json:"streams"`
	Coupled   int             `json:"coupled"`
	Family    int             `json:"mapping_family"`
	Pages     int             `json:"pages"`
	Packets   int             `json:"packets"`
	Size      int64           `json:"size"`
	Overhead  float64         `json:"container_overhead_pct"`
	SHA256    string          `json:"sha256"`
	Vendor    string          `json:"vendor"`
	Tags      []string        `json:"tags"`
	Complete  bool            `json:"eos"`
	GapSource string          `json:"gap_source"` // "metadata" or "file"
	Gaps      []recorder.Gap  `json:"gaps"`
	Meta      *recorder.Meta  `json:"meta,omitempty"`
	Integrity string          `json:"integrity,omitempty"` // against the metadata's SHA-256
}

func cmdInspect(e *env, args []string) error {
	fset := flag.NewFlagSet("inspect", flag.ContinueOnError)
	asJSON := fset.Bool("json", false, "print JSON")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one FILE")
	}
	f, err := openInput(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	if err := notEncrypted(f, pos[0]); err != nil {
		return err
	}
	in, err := recorder.Inspect(f)
	if err != nil {
		return err
	}
	rep := inspectReport{
		File: pos[0], Channels: in.Channels, Legs: in.Roles(), Duration: in.Duration, PreSkip: in.PreSkip,
		Streams: in.Streams, Coupled: in.Coupled, Family: in.Family, Pages: in.Pages, Packets: in.Packets,
		Size: in.Size, SHA256: in.SHA256, Vendor: in.Vendor, Tags: in.Tags, Complete: in.EOS,
		Layout: in.Tag("CONSENTREC_LAYOUT"), GapSource: "file", Gaps: in.Gaps,
	}
	if in.PayloadBytes > 0 {
		rep.Overhead = 100 * float64(in.Size-in.PayloadBytes) / float64(in.PayloadBytes)
	}
	// A file of a recordings store has its metadata beside it: the gap
	// index with reasons and actors, and the digest recorded at finalization.
	base := strings.TrimSuffix(strings.TrimSuffix(pos[0], ".partial"), ".opus")
	if b, err := os.ReadFile(base + ".json"); err == nil {
		var m recorder.Meta
		if json.Unmarshal(b, &m) == nil && m.ID == filepath.Base(base) {
			rep.Meta = &m
			rep.GapSource = "metadata"
			rep.Gaps = m.Gaps
			switch {
			case m.SHA256 == "":
				rep.Integrity = "not finalized"
			case m.SHA256 == in.SHA256:
				rep.Integrity = "ok"
			default:
				rep.Integrity = "MISMATCH"
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printInspect(e.stdout, &rep)
	}
	if rep.Integrity == "MISMATCH" {
		return fmt.Errorf("%s: SHA-256 differs from the one recorded at finalization: %w", pos[0], recorder.ErrIntegrity)
	}
	return nil
}

func printInspect(w io.Writer, r *inspectReport) {
	layout := r.Layout
	if layout == "" {
		layout = "unknown"
	}
	legs := make([]string, len(r.Legs))
	for i, l := range r.Legs {
		legs[i] = string(l)
		if legs[i] == "" {
			legs[i] = "?"
		}
	}
	fmt.Fprintf(w, "file:      %s\n", r.File)
	fmt.Fprintf(w, "channels:  %d (%s layout; %s; mapping family %d, %d streams, %d coupled)\n",
		r.Channels, layout, strings.Join(legs, " | "), r.Family, r.Streams, r.Coupled)
	fmt.Fprintf(w, "duration:  %v (pre-skip %d)\n", r.Duration.Round(time.Millisecond), r.PreSkip)
	fmt.Fprintf(w, "size:      %d bytes, %d pages, %d packets, container overhead %.2f%%\n", r.Size, r.Pages, r.Packets, r.Overhead)
	fmt.Fprintf(w, "sha256:    %s\n", r.SHA256)
	if r.Integrity != "" {
		fmt.Fprintf(w, "integrity: %s (metadata)\n", r.Integrity)
	}
	if !r.Complete {
		fmt.Fprintf(w, "warning:   no end-of-stream page: unfinished or cut file (consentrec recover)\n")
	}
	if r.Meta != nil && r.Meta.Recovered {
		fmt.Fprintf(w, "recovered: yes (finalized by crash recovery)\n")
	}
	fmt.Fprintf(w, "tags:      vendor %q\n", r.Vendor)
	for _, t := range r.Tags {
		fmt.Fprintf(w, "           %s\n", t)
	}
	fmt.Fprintf(w, "gaps:      %d (from the %s)\n", len(r.Gaps), r.GapSource)
	for _, g := range r.Gaps {
		leg := string(g.Leg)
		if leg == "" {
			leg = "all"
		}
		line := fmt.Sprintf("           %9s - %9s  %-8s %-11s", fmtOffset(g.Start), fmtOffset(g.End), leg, g.Reason)
		if g.Actor != "" {
			line += " by " + g.Actor
		}
		if g.Note != "" {
			line += " (" + g.Note + ")"
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func fmtOffset(d time.Duration) string {
	return fmt.Sprintf("%.3fs", d.Seconds())
}

func cmdExport(e *env, args []string) error {
	fset := flag.NewFlagSet("export", flag.ContinueOnError)
	out := fset.String("wav", "", "output WAV `FILE`")
	reason := fset.String("reason", "", "why you export a catalogued recording, `TEXT` (audited)")
	as := fset.String("as", "", "the `ROLE` you act in for a catalogued recording (default: the first "+AccessFile+" grants you that may)")
	unaudited := fset.Bool("unaudited", false, "decode a file that is no catalogued recording (nothing is audited)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return usagef("want FILE and --wav OUT")
	}
	src, err := openInput(pos[0])
	if err != nil {
		return err
	}
	defer src.Close()
	if err := notEncrypted(src, pos[0]); err != nil {
		return err
	}
	// OUT is never overwritten: checked before decoding (and before the
	// gate audits an access), and the finished file is linked into place,
	// which fails if OUT appeared meanwhile.
	if err := newOutput(*out); err != nil {
		return err
	}
	// A catalogued recording is decoded only through the access gate (R25).
	var in io.Reader = src
	rc, err := gatedFile(context.Background(), pos[0], *as, *reason)
	switch {
	case err != nil:
		return err
	case rc != nil:
		defer rc.Close()
		in = rc
	case !*unaudited:
		return usagef("%s is not a catalogued recording, so decoding it is not audited (R26): pass --unaudited to decode it anyway", pos[0])
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	info, err := recorder.ExportWAV(in, tmp)
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), *out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: the CLI never overwrites a file", *out)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d channels, 48000 Hz, 16-bit, %v\n", *out, info.Channels, info.Duration.Round(time.Millisecond))
	return nil
}

func cmdRecover(e *env, args []string) error {
	fset := flag.NewFlagSet("recover", flag.ContinueOnError)
	data := dataFlag(fset)
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %q", pos)
	}
	ctx := context.Background()
	dd := consentrec.DataDir{Root: *data}
	if _, err := os.Stat(dd.Recordings()); err != nil {
		return usagef("no recordings in %s: %v", *data, err)
	}
	st, closeSt, err := openStore(*data)
	if err != nil {
		return err
	}
	lg, err := openAuditLog(ctx, *data)
	if err != nil {
		return err
	}
	defer closeSt()
	cat, err := openCatalog(ctx, *data)
	if err != nil {
		lg.Close()
		return err
	}
	// Recovered recordings are catalogued by the same code as a hang-up's:
	// swept at their deadline, found by their subject's erasure.
	rs, rerr := consentrec.Recover(ctx, st, lg, cat)
	cerr := errors.Join(cat.Close(), lg.Close())
	for _, r := range rs {
		fmt.Fprintf(e.stdout, "recovered %s: catalogued (%s, delete by %s), %d gaps, sha256 %s\n", r.ID, r.Purpose, r.Deadline.Format(time.DateOnly), len(r.Gaps), r.SHA256)
	}
	if len(rs) == 0 && rerr == nil {
		fmt.Fprintln(e.stdout, "nothing to recover")
	}
	return errors.Join(rerr, cerr)
}
