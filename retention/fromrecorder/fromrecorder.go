// Package fromrecorder catalogues the recordings of package recorder: it
// turns a finalized recorder.Meta into a retention entry. It is apart from
// package retention so that retention does not link the recorder.
package fromrecorder

import (
	"context"
	"fmt"
	"io"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
)

// Entry returns the catalog entry of a finalized recording: its id, call,
// purpose, creation time, SHA-256, gap index (a gap's reason is kept with
// its leg, e.g. "pause (agent)", with the pause's actor and note), and what
// the policy's grant fixed and the recorder kept in m: lawful basis,
// retention, deadline, subject. subject and period are used only when m has
// none (recordings made before grants existed): the caller's
// policy.SubjectKey ("" if unknown) and the retention decided (zero: the
// purpose's default). A recording not finalized (no SHA-256) is refused
// with an error wrapping retention.ErrInvalid.
func Entry(m recorder.Meta, subject string, period policy.Period) (retention.Entry, error) {
	if m.SHA256 == "" {
		return retention.Entry{}, fmt.Errorf("fromrecorder: %s: %w", m.ID,
			&retention.InvalidError{Field: "sha256", Msg: "recording not finalized"})
	}
	if m.Subject != "" {
		subject = m.Subject
	}
	if !m.Retention.IsZero() {
		period = m.Retention
	}
	e := retention.Entry{
		ID: m.ID, CallID: m.CallID, Purpose: m.Purpose, Created: m.Created, Retention: period,
		Subject: subject, SHA256: m.SHA256, LawfulBasis: m.LawfulBasis, Deadline: m.Deadline,
		KeepUntil: m.KeepUntil, AccessRoles: m.AccessRoles,
	}
	for _, g := range m.Gaps {
		reason := string(g.Reason)
		if g.Leg != "" {
			reason += " (" + string(g.Leg) + ")"
		}
		e.Gaps = append(e.Gaps, retention.Gap{Start: g.Start, End: g.End, Reason: reason, Actor: g.Actor, Note: g.Note})
	}
	return e, nil
}

// Catalogue adds the finalized recording m to cat (see Entry) and returns
// its catalog record, deadline fixed.
func Catalogue(ctx context.Context, cat retention.Catalog, m recorder.Meta, subject string, period policy.Period) (retention.Recording, error) {
	e, err := Entry(m, subject, period)
	if err != nil {
		return retention.Recording{}, err
	}
	r, err := retention.New(e)
	if err != nil {
		return retention.Recording{}, fmt.Errorf("fromrecorder: %w", err)
	}
	if err := cat.Add(ctx, r); err != nil {
		return retention.Recording{}, fmt.Errorf("fromrecorder: %w", err)
	}
	return r, nil
}

// CustomerOnly is a retention.Subjects Redact: it writes the customer's
// channel of a dual-channel recording as a mono Ogg Opus file, re-muxed
// without transcoding (recorder.ExtractLeg), so that a data subject's copy
// holds their voice only (GDPR Art. 15(4), R29).
func CustomerOnly(r io.Reader, w io.Writer) error {
	_, err := recorder.ExtractLeg(r, w, recorder.Customer)
	return err
}
