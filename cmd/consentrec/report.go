package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/audit/report"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
)

func init() {
	register(&command{name: "report",
		args:  "--data DIR [--from DATE --to DATE | --month YYYY-MM] [--html OUT] [--json] [--policy FILE] [--max-pause D] [--grace D]",
		short: "compliance report proven from the verified audit log: sampling, notices, retention, access, card-data pauses, integrity (exit 1 on any violation)",
		run:   cmdReport})
}

// reportPeriod reads --month or --from/--to: dates are whole UTC days, --to
// included; an RFC 3339 instant is taken as given (--to then excluded).
func reportPeriod(month, from, to string) (time.Time, time.Time, error) {
	if month != "" {
		if from != "" || to != "" {
			return time.Time{}, time.Time{}, usagef("give --month or --from/--to, not both")
		}
		m, err := time.Parse("2006-01", month)
		if err != nil {
			return time.Time{}, time.Time{}, usagef("--month %q: want YYYY-MM", month)
		}
		return m, m.AddDate(0, 1, 0), nil
	}
	parse := func(name, s string, end bool) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		if d, err := time.Parse(time.DateOnly, s); err == nil {
			if end {
				d = d.AddDate(0, 0, 1)
			}
			return d, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, usagef("--%s %q: want a date YYYY-MM-DD or an RFC 3339 time", name, s)
		}
		return t.UTC(), nil
	}
	f, err := parse("from", from, false)
	if err != nil {
		return f, f, err
	}
	t, err := parse("to", to, true)
	if err != nil {
		return f, t, err
	}
	if !t.IsZero() && t.Before(f) {
		return f, t, usagef("--to %s is before --from %s", to, from)
	}
	return f, t, nil
}

func cmdReport(e *env, args []string) (err error) {
	fset := flag.NewFlagSet("report", flag.ContinueOnError)
	data := dataFlag(fset)
	month := fset.String("month", "", "report on one calendar month `YYYY-MM` (UTC)")
	from := fset.String("from", "", "first `DATE` reported on (YYYY-MM-DD, UTC; default: the log's start)")
	to := fset.String("to", "", "last `DATE` reported on, included (default: now)")
	htmlOut := fset.String("html", "", "also write the report as one self-contained HTML `FILE` (must not exist)")
	asJSON := fset.Bool("json", false, "write the report as JSON (keys sampling, notices, retention, access, pauses, integrity, violations)")
	polFile := fset.String("policy", "", "the policy `FILE` in force: narrows who may open each purpose's recordings")
	maxPause := fset.Duration("max-pause", report.DefaultMaxPause, "the recorder's MaxPause: a longer card-data pause is a violation")
	grace := fset.Duration("grace", report.DefaultGrace, "how long after its deadline a deletion is still on time")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	start, end, err := reportPeriod(*month, *from, *to)
	if err != nil {
		return err
	}
	if *maxPause <= 0 || *grace <= 0 {
		return usagef("--max-pause and --grace must be positive")
	}
	opts := report.Options{From: start, To: end, MaxPause: *maxPause, Grace: *grace}
	if *polFile != "" {
		b, err := os.ReadFile(*polFile)
		if err != nil {
			return usagef("--policy: %v", err)
		}
		if opts.Policy, err = policy.Parse(b); err != nil {
			return usagef("--policy %s: %v", *polFile, err)
		}
	}
	// Never over an existing file: a report is evidence, and so may be
	// whatever is there. Checked now so that no work is wasted; created
	// exclusively below.
	if *htmlOut != "" {
		if _, err := os.Lstat(*htmlOut); err == nil {
			return usagef("--html %s: file exists (a report never overwrites)", *htmlOut)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return usagef("--html %s: %v", *htmlOut, err)
		}
	}

	ctx := context.Background()
	ab, err := auditLogExists(*data)
	if err != nil {
		return err
	}
	var cat retention.Catalog
	dir := consentrec.DataDir{Root: *data}
	if _, serr := os.Stat(dir.Catalog()); serr == nil {
		sc, oerr := openCatalog(ctx, dir.Root)
		if oerr != nil {
			return oerr
		}
		defer func() { err = errors.Join(err, sc.Close()) }()
		cat = sc
	} else {
		fmt.Fprintf(e.stderr, "note: no catalog at %s: the retention section holds only what the log says\n", dir.Catalog())
	}

	src := report.DirSource(*data, cat)
	if !ab.isFile() {
		// A Tessera log is opened and verified as it is read (the chain
		// and the tree against its signed checkpoint).
		l, err := ab.open(ctx, *data)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, l.Close()) }()
		src = report.Source{Log: l, Catalog: cat}
	}
	rep, berr := report.Build(ctx, src, opts)
	if berr != nil && !errors.Is(berr, report.ErrUnverified) {
		return berr
	}
	if *asJSON {
		err = rep.WriteJSON(e.stdout)
	} else {
		err = rep.WriteText(e.stdout)
	}
	if err != nil {
		return err
	}
	if *htmlOut != "" {
		if err := rep.SaveHTML(*htmlOut); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "html report: %s\n", *htmlOut)
	}
	if berr != nil {
		return fmt.Errorf("the audit log does not verify: nothing can be reported from it: %w", berr)
	}
	if n := len(rep.Violations); n > 0 {
		return fmt.Errorf("%d violation(s) found (listed first in the report)", n)
	}
	return nil
}
