package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/retention"
)

func init() {
	register(&command{name: "breach report", args: "--what TEXT [--discovered TIME] --data DIR",
		short: "record a personal data breach in the audit log and print the 72-hour notification deadline (GDPR Art. 33, R28)",
		run:   cmdBreachReport})
	register(&command{name: "breach notify", args: "ID [--at TIME] --data DIR",
		short: "record when breach ID was notified to the supervisory authority (on time or late)",
		run:   cmdBreachNotify})
	register(&command{name: "breach list", args: "--data DIR",
		short: "list the breaches in the audit log, their deadlines and notifications; exit 1 if one is overdue",
		run:   cmdBreachList})
}

// BreachNotifyWithin is the GDPR Art. 33(1) deadline: the controller
// notifies the supervisory authority "not later than 72 hours after having
// become aware of it".
const breachNotifyWithin = 72 * time.Hour

// breach is one breach as read back from the audit log.
type breach struct {
	id, what             string
	discovered, deadline time.Time
	notified             time.Time // zero: not yet
	reported             uint64    // index of the report entry
}

func attrOf(ev audit.Event, k string) string {
	for _, a := range ev.Attrs {
		if a.Key == k {
			return a.Value
		}
	}
	return ""
}

// readBreaches returns the breaches of the log in DIR, in report order.
func readBreaches(ctx context.Context, data string) ([]*breach, error) {
	var out []*breach
	byID := map[string]*breach{}
	err := readAuditEntries(ctx, data, 0, func(en audit.Entry) error {
		ev := en.Event
		if ev.Kind != audit.KindBreach || en.Pruned {
			return nil
		}
		id := attrOf(ev, "breach")
		switch attrOf(ev, "stage") {
		case "reported":
			b := &breach{id: id, what: attrOf(ev, "what"), reported: en.Index}
			b.discovered, _ = time.Parse(time.RFC3339Nano, attrOf(ev, "discovered"))
			b.deadline, _ = time.Parse(time.RFC3339Nano, attrOf(ev, "deadline"))
			byID[id] = b
			out = append(out, b)
		case "notified":
			if b := byID[id]; b != nil && b.notified.IsZero() {
				b.notified, _ = time.Parse(time.RFC3339Nano, attrOf(ev, "notified_at"))
			}
		}
		return nil
	})
	return out, err
}

func appendBreach(ctx context.Context, data string, ev audit.Event) (idx uint64, err error) {
	log, err := openAuditLog(ctx, data)
	if err != nil {
		return 0, fmt.Errorf("audit log: %w", err)
	}
	defer func() { err = errors.Join(err, log.Close()) }()
	return log.Append(ctx, ev)
}

func cmdBreachReport(e *env, args []string) error {
	fs := flag.NewFlagSet("breach report", flag.ContinueOnError)
	data := dataFlag(fs)
	what := fs.String("what", "", "what happened, without personal data (required, up to 1024 characters)")
	discovered := fs.String("discovered", "", "when the controller became aware of it, `TIME` (RFC 3339 or 2026-07-01; default now)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	text := strings.TrimSpace(*what)
	if text == "" || len(text) > 1024 || strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return usagef("--what: describe the breach in 1 to 1024 printable characters (the trail keeps it for good: no personal data)")
	}
	now := time.Now().UTC()
	at, err := retention.ParseTime(*discovered, now)
	if err != nil {
		return usagef("--discovered: %v", err)
	}
	if at.After(now.Add(time.Minute)) {
		return usagef("--discovered %s is in the future", at.Format(time.RFC3339))
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	id := "breach-" + at.Format("20060102") + "-" + hex.EncodeToString(b[:])
	deadline := at.Add(breachNotifyWithin)
	ev := audit.Event{Kind: audit.KindBreach, Time: now, Actor: whoami(""), Reason: "personal data breach (GDPR Art. 33)",
		Attrs: []audit.Attr{{Key: "breach", Value: id}, {Key: "stage", Value: "reported"}, {Key: "what", Value: text},
			{Key: "discovered", Value: at.Format(time.RFC3339Nano)}, {Key: "deadline", Value: deadline.Format(time.RFC3339Nano)}}}
	idx, err := appendBreach(context.Background(), *data, ev)
	if err != nil {
		return fmt.Errorf("breach report: %w (nothing recorded)", err)
	}
	fmt.Fprintf(e.stdout, "breach %s recorded (audit entry %d)\ndiscovered %s\nnotify the supervisory authority by %s (GDPR Art. 33(1): within 72 hours of becoming aware)\n",
		id, idx, at.Format(time.RFC3339), deadline.Format(time.RFC3339))
	if left := deadline.Sub(now); left > 0 {
		fmt.Fprintf(e.stdout, "%s left; then: consentrec breach notify %s --at TIME\n", left.Round(time.Minute), id)
	} else {
		fmt.Fprintf(e.stdout, "the deadline has passed: the notification must give the reasons for the delay (Art. 33(1))\n")
	}
	return nil
}

func cmdBreachNotify(e *env, args []string) error {
	fs := flag.NewFlagSet("breach notify", flag.ContinueOnError)
	data := dataFlag(fs)
	atFlag := fs.String("at", "", "when the authority was notified, `TIME` (RFC 3339 or 2026-07-01; default now)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one breach ID (see consentrec breach list)")
	}
	now := time.Now().UTC()
	at, err := retention.ParseTime(*atFlag, now)
	if err != nil {
		return usagef("--at: %v", err)
	}
	if at.After(now.Add(time.Minute)) {
		return usagef("--at %s is in the future", at.Format(time.RFC3339))
	}
	ctx := context.Background()
	all, err := readBreaches(ctx, *data)
	if err != nil {
		return err
	}
	var b *breach
	for _, x := range all {
		if x.id == pos[0] {
			b = x
		}
	}
	switch {
	case b == nil:
		return fmt.Errorf("no breach %q in the audit log of %s", pos[0], *data)
	case !b.notified.IsZero():
		return fmt.Errorf("breach %s was already notified at %s", b.id, b.notified.Format(time.RFC3339))
	case at.Before(b.discovered):
		return usagef("--at %s is before the breach was discovered (%s)", at.Format(time.RFC3339), b.discovered.Format(time.RFC3339))
	}
	late := at.After(b.deadline)
	ev := audit.Event{Kind: audit.KindBreach, Time: now, Actor: whoami(""), Reason: "breach notified to the supervisory authority (GDPR Art. 33)",
		Attrs: []audit.Attr{{Key: "breach", Value: b.id}, {Key: "stage", Value: "notified"}, {Key: "notified_at", Value: at.Format(time.RFC3339Nano)},
			{Key: "deadline", Value: b.deadline.Format(time.RFC3339Nano)}, {Key: "late", Value: fmt.Sprint(late)}}}
	idx, err := appendBreach(ctx, *data, ev)
	if err != nil {
		return fmt.Errorf("breach notify: %w (nothing recorded)", err)
	}
	if late {
		fmt.Fprintf(e.stdout, "breach %s notified at %s (audit entry %d): %s after the deadline %s; the notification must give the reasons for the delay (Art. 33(1))\n",
			b.id, at.Format(time.RFC3339), idx, at.Sub(b.deadline).Round(time.Minute), b.deadline.Format(time.RFC3339))
	} else {
		fmt.Fprintf(e.stdout, "breach %s notified at %s (audit entry %d), within the deadline %s\n", b.id, at.Format(time.RFC3339), idx, b.deadline.Format(time.RFC3339))
	}
	return nil
}

func cmdBreachList(e *env, args []string) error {
	fs := flag.NewFlagSet("breach list", flag.ContinueOnError)
	data := dataFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	all, err := readBreaches(context.Background(), *data)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintln(e.stdout, "no breach recorded")
		return nil
	}
	now := time.Now()
	overdue := 0
	for _, b := range all {
		status := "notified " + b.notified.Format(time.RFC3339)
		switch {
		case !b.notified.IsZero() && b.notified.After(b.deadline):
			status += " (late)"
		case b.notified.IsZero() && now.After(b.deadline):
			status = "NOT NOTIFIED, deadline passed"
			overdue++
		case b.notified.IsZero():
			status = fmt.Sprintf("to notify, %s left", b.deadline.Sub(now).Round(time.Minute))
		}
		fmt.Fprintf(e.stdout, "%s  discovered %s  deadline %s  %s\n  %s\n", b.id, b.discovered.Format(time.RFC3339), b.deadline.Format(time.RFC3339), status, b.what)
	}
	if overdue > 0 {
		return fmt.Errorf("%d breach(es) past the 72-hour deadline without notification (GDPR Art. 33)", overdue)
	}
	return nil
}
