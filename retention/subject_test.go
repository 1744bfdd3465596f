package retention_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

func (f *fixture) subjects(now time.Time) *retention.Subjects {
	return &retention.Subjects{Catalog: f.cat, Store: f.store, Audit: f.log, Authorizer: &retentiontest.Authorizer{}, Now: func() time.Time { return now }}
}

func TestSubjectExportDir(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	alice, bob := retentiontest.SubjectOf("+33 6 12 34 56 78"), retentiontest.SubjectOf("+33 6 99 99 99 99")
	f.add(t, "a1", policy.Quality, t0, alice)
	f.add(t, "a2", policy.LegalObligation, t0.Add(time.Hour), alice)
	f.add(t, "b1", policy.Quality, t0, bob)
	if _, err := f.holds().Set(ctx, "a1", "RG 9", "Ann"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "export")
	req := retention.Request{Subject: alice, Received: t0.Add(24 * time.Hour), Handler: "dpo", Reference: "DSAR-42"}
	rep, err := f.subjects(t0.Add(48*time.Hour)).ExportDir(ctx, req, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Exported, []string{"a1", "a2"}) || rep.Late || !rep.Due.Equal(req.Received.AddDate(0, 1, 0)) {
		t.Errorf("report: exported %v late %v due %v", rep.Exported, rep.Late, rep.Due)
	}
	for _, id := range []string{"a1", "a2"} {
		b, err := os.ReadFile(filepath.Join(dir, "audio", id+".opus"))
		if err != nil || string(b) != "OggS audio of "+id {
			t.Errorf("audio/%s.opus: %q, %v", id, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "audio", "b1.opus")); err == nil {
		t.Error("another subject's recording exported")
	}
	var meta struct {
		Recordings []struct {
			ID, Purpose, SHA256 string
			UnderLegalHold      bool `json:"under_legal_hold"`
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, "recordings.json"))
	if err != nil || json.Unmarshal(js, &meta) != nil || len(meta.Recordings) != 2 || !meta.Recordings[0].UnderLegalHold {
		t.Errorf("recordings.json: %s, %v", js, err)
	}
	if strings.Contains(string(js), alice) || strings.Contains(string(js), "RG 9") {
		t.Error("recordings.json leaks the subject key or the case reference")
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.txt"))
	if err != nil || !strings.Contains(string(readme), "DSAR-42") || !strings.Contains(string(readme), "a2") {
		t.Errorf("README.txt: %s, %v", readme, err)
	}
	evs := f.log.Kind(audit.KindSubjectExport)
	if len(evs) != 4 || retentiontest.Attr(evs[0], "phase") != "request" || retentiontest.Attr(evs[3], "outcome") != "complete" ||
		evs[1].RecordingID != "a1" || evs[1].SHA256 == "" || evs[3].Subject != alice {
		t.Errorf("audit: %+v", evs)
	}
	if _, err := f.subjects(t0).ExportDir(ctx, req, dir); !errors.Is(err, retention.ErrInvalid) {
		t.Errorf("export into a non-empty folder = %v, want ErrInvalid", err)
	}
}

func TestSubjectExportZipLateAndCorrupt(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	s := retentiontest.SubjectOf("C-1234")
	f.add(t, "ok", policy.Training, t0, s)
	f.add(t, "bad", policy.Training, t0, s)
	f.add(t, "swapped", policy.Training, t0, s)
	f.store.Corrupt("bad")                         // the store notices
	f.store.Replace("swapped", []byte("tampered")) // only the catalog's digest notices
	var buf bytes.Buffer
	req := retention.Request{Subject: s, Received: t0, Handler: "dpo", Reference: "R-1"}
	rep, err := f.subjects(t0.AddDate(0, 2, 0)).ExportZip(ctx, req, &buf)
	if !errors.Is(err, retention.ErrIncomplete) || len(rep.Failed) != 2 || rep.Failed[0].ID != "bad" || rep.Failed[1].ID != "swapped" || !rep.Late {
		t.Fatalf("ExportZip = %v, failed %+v, late %v", err, rep.Failed, rep.Late)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, zf := range zr.File {
		names = append(names, zf.Name)
		if zf.Name == "audio/ok.opus" {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "OggS audio of ok" {
				t.Errorf("audio/ok.opus = %q", b)
			}
		}
	}
	if !slices.Equal(names, []string{"audio/ok.opus", "recordings.json", "README.txt"}) {
		t.Errorf("zip holds %v", names)
	}
	if n := len(f.log.Kind(audit.KindIntegrityFailure)); n != 2 {
		t.Errorf("%d integrity failures audited, want 2", n)
	}
	out := f.log.Kind(audit.KindSubjectExport)
	if last := out[len(out)-1]; retentiontest.Attr(last, "outcome") != "incomplete" || retentiontest.Attr(last, "late") != "true" {
		t.Errorf("outcome audited as %+v", last)
	}
}

// TestSubjectErase: erasable recordings go; those held or kept under a
// legal obligation are refused with the reason; all audited.
func TestSubjectErase(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	s := retentiontest.SubjectOf("+44 20 7946 0000")
	f.add(t, "q", policy.Quality, t0, s)
	f.add(t, "held", policy.Training, t0, s)
	f.add(t, "mifid", policy.LegalObligation, t0, s)
	f.add(t, "other", policy.Quality, t0, retentiontest.SubjectOf("someone else"))
	if _, err := f.holds().Set(ctx, "held", "RG 77", "Ann"); err != nil {
		t.Fatal(err)
	}
	req := retention.Request{Subject: s, Received: t0, Handler: "dpo", Reference: "ERASE-1"}
	rep, err := f.subjects(t0.Add(time.Hour)).Erase(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(rep.Erased), []string{"q"}) || len(rep.Refused) != 2 {
		t.Fatalf("erased %v refused %+v", ids(rep.Erased), rep.Refused)
	}
	for _, r := range rep.Refused {
		switch r.ID {
		case "held":
			if !errors.Is(r.Err, retention.ErrHeld) || !strings.Contains(r.Reason, "RG 77") {
				t.Errorf("held refused as %+v", r)
			}
		case "mifid":
			if !errors.Is(r.Err, retention.ErrNotErasable) || !strings.Contains(r.Reason, "17(3)(b)") {
				t.Errorf("mifid refused as %+v", r)
			}
		}
	}
	if got := f.store.IDs(); !slices.Equal(got, []string{"held", "mifid", "other"}) {
		t.Errorf("stored after erasure: %v", got)
	}
	evs := f.log.Kind(audit.KindErasure)
	var outcomes []string
	for _, e := range evs {
		outcomes = append(outcomes, e.RecordingID+":"+retentiontest.Attr(e, "phase")+retentiontest.Attr(e, "outcome"))
	}
	want := []string{":request", "q:erased", "held:refused", "mifid:refused", ":outcomecomplete"}
	slices.Sort(outcomes)
	slices.Sort(want)
	if !slices.Equal(outcomes, want) {
		t.Errorf("audited %v, want %v", outcomes, want)
	}
	for _, e := range evs {
		if e.RecordingID == "q" && e.SHA256 == "" {
			t.Error("erasure audited without the file's SHA-256")
		}
	}
}

func TestSubjectRequestValidation(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	for _, req := range []retention.Request{
		{Subject: "", Handler: "dpo"},
		{Subject: "+33612345678", Handler: "dpo"},
	} {
		if _, err := f.subjects(t0).Erase(ctx, req); !errors.Is(err, retention.ErrInvalid) {
			t.Errorf("Erase(%+v) = %v, want ErrInvalid", req, err)
		}
	}
	if len(f.log.Events()) != 0 {
		t.Error("invalid requests audited as served")
	}
	// Nobody the authorizer can name: refused, and the refusal audited.
	if _, err := f.subjects(t0).Erase(ctx, retention.Request{Subject: retentiontest.SubjectOf("x")}); !errors.Is(err, retention.ErrUnauthenticated) {
		t.Errorf("Erase without a handler = %v, want ErrUnauthenticated", err)
	}
	if ev := f.log.Events(); len(ev) != 1 || ev[0].Kind != audit.KindAccessDenied || ev[0].Actor != "unauthenticated" {
		t.Errorf("unauthenticated request audited as %+v", ev)
	}
}

func TestSubjectEraseShredsAudit(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	s := retentiontest.SubjectOf("+33 6 11 11 11 11")
	f.add(t, "q", policy.Quality, t0, s)
	rc, err := f.gate().Open(ctx, retention.Principal{ID: "qa", Role: policy.RoleQuality}, "q", retention.ActionListen, "review")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	sub := f.subjects(t0)
	sub.ShredAudit = true
	rep, err := sub.Erase(ctx, retention.Request{Subject: s, Handler: "dpo", Reference: "E-2"})
	if err != nil || rep.Shredded != 3 { // access, request, erased
		t.Fatalf("Erase: shredded %d, %v", rep.Shredded, err)
	}
	var linked []audit.Kind
	for _, e := range f.log.Events() {
		if e.Subject == s {
			linked = append(linked, e.Kind)
		}
	}
	if len(linked) != 1 || linked[0] != audit.KindErasure {
		t.Errorf("events still linked to the subject: %v, want only the erasure outcome", linked)
	}

	// A refusal keeps the trail linked: the held recording is still there.
	s2 := retentiontest.SubjectOf("+33 6 22 22 22 22")
	f.add(t, "h", policy.Quality, t0, s2)
	f.holds().Set(ctx, "h", "K", "A")
	rep, err = sub.Erase(ctx, retention.Request{Subject: s2, Handler: "dpo"})
	if err != nil || rep.Shredded != 0 || len(rep.Refused) != 1 {
		t.Errorf("Erase with a refusal: shredded %d refused %d, %v", rep.Shredded, len(rep.Refused), err)
	}
}

// An export folder kept the audio of a recording whose "exported" audit
// entry could not be appended: a copy of a recording outside the store that
// no audit entry accounts for. The file must go when its entry fails.
func TestSubjectExportDirAuditFailureLeavesNoAudio(t *testing.T) {
	ctx := context.Background()
	f := newFixture()
	alice := retentiontest.SubjectOf("+33 6 12 34 56 78")
	f.add(t, "a1", policy.Quality, t0, alice)
	f.add(t, "a2", policy.Quality, t0.Add(time.Hour), alice)
	broken := errors.New("disk full")
	f.log.Fail = func(e audit.Event) error {
		if e.Kind == audit.KindSubjectExport && e.RecordingID == "a2" {
			return broken
		}
		return nil
	}
	dir := filepath.Join(t.TempDir(), "export")
	req := retention.Request{Subject: alice, Handler: "dpo", Reference: "DSAR-7"}
	_, err := f.subjects(t0.Add(24*time.Hour)).ExportDir(ctx, req, dir)
	if !errors.Is(err, broken) {
		t.Fatalf("ExportDir = %v, want the audit log's error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "audio", "a2.opus")); err == nil {
		t.Error("audio/a2.opus left in the export folder though its export was never audited")
	}
	if _, err := os.Stat(filepath.Join(dir, "audio", "a1.opus")); err != nil {
		t.Errorf("audio/a1.opus (audited) missing: %v", err)
	}
}
