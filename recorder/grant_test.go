package recorder_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/policy/policytest"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/recordertest"
	"github.com/pion/rtp"
)

// Recording cannot start without the policy's say-so (former hole: Start
// recorded with no decision at all).
func TestStartNeedsAGrant(t *testing.T) {
	ctx := context.Background()
	store := &recordertest.MemStore{}
	rec, err := recorder.New(recorder.Config{CallID: "call-1", Purpose: policy.Quality, Store: store, Audit: audit.Discard})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, g policy.Grant, want error) {
		t.Helper()
		_, err := rec.Start(ctx, g, "agent")
		if !errors.Is(err, recorder.ErrGrant) || !errors.Is(err, want) {
			t.Fatalf("%s: Start gave %v, want ErrGrant wrapping %v", name, err, want)
		}
		if rec.Recording() != "" {
			t.Fatalf("%s: recording after a refused start", name)
		}
	}
	check("zero grant", policy.Grant{}, policy.ErrNoGrant)
	check("foreign grant", policytest.Grant(t, "call-2", policy.Quality), policy.ErrForeignGrant)
	check("other purpose", policytest.Grant(t, "call-1", policy.Training), recorder.ErrGrant)

	c, err := policytest.GrantCall("call-1", policy.Quality)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := c.Grant()
	c.End()
	check("spent grant", g, policy.ErrRevoked)
	if ms, _ := store.List(ctx); len(ms) != 0 {
		t.Fatalf("refused starts left %d files", len(ms))
	}
}

// A revoked grant stops capture at once; the recording keeps what it had,
// and its Meta carries what the grant fixed.
func TestRevokedGrantStopsCapture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &recordertest.MemStore{}
		rec, err := recorder.New(recorder.Config{CallID: "call-7", Store: store, Audit: audit.Discard,
			Subject: policy.SubjectKey([]byte("0123456789abcdef"), "+33123456789")})
		if err != nil {
			t.Fatal(err)
		}
		leg, _ := rec.AddLeg(recorder.LegConfig{Role: recorder.Customer, OpusPT: 111})
		c, err := policytest.GrantCall("call-7", policy.Quality)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := c.Grant()
		if _, err := rec.Start(ctx, g, "agent"); err != nil {
			t.Fatal(err)
		}
		send := func(i int) {
			leg.WriteRTP(&rtp.Packet{Header: rtp.Header{PayloadType: 111, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: 9},
				Payload: []byte{0xf8, 0xff, 0xfe}})
		}
		for i := range 50 {
			send(i)
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := c.Apply(ctx, policy.Event{Kind: policy.EventObjection, Party: policy.PartyCaller, Actor: "caller"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if rec.Recording() != "" {
			t.Fatal("still recording after the grant was revoked")
		}
		for i := 50; i < 100; i++ {
			send(i) // dropped: not recording
			time.Sleep(20 * time.Millisecond)
		}
		ms, _ := store.List(ctx)
		if len(ms) != 1 || ms[0].State != recorder.StateFinalized {
			t.Fatalf("files %+v", ms)
		}
		m := ms[0]
		if m.Duration > 1100*time.Millisecond {
			t.Fatalf("recording lasts %v: audio after the revocation was kept", m.Duration)
		}
		if m.LawfulBasis != g.LawfulBasis() || m.Retention != g.Retention() || !m.Deadline.Equal(g.Deadline()) ||
			m.Purpose != policy.Quality || m.PolicyVersion != g.PolicyVersion() || len(m.Evidence) != 1 || m.Subject == "" {
			t.Fatalf("meta does not carry the grant: %+v", m)
		}
		if _, err := rec.Start(ctx, g, "agent"); !errors.Is(err, policy.ErrRevoked) {
			t.Fatalf("restart with the revoked grant: %v", err)
		}
	})
}

func TestSubjectMustBeKeyed(t *testing.T) {
	_, err := recorder.New(recorder.Config{CallID: "c", Store: &recordertest.MemStore{}, Audit: audit.Discard, Subject: "+33123456789"})
	if !errors.Is(err, recorder.ErrConfig) {
		t.Fatalf("a phone number as subject: %v", err)
	}
}

// Files lists what the recorder made, one per leg in the mono layout, and
// nothing once discarded.
func TestFilesListsWhatWasMade(t *testing.T) {
	ctx := context.Background()
	rec, err := recorder.New(recorder.Config{CallID: "call-f", Layout: recorder.LayoutMono, Store: &recordertest.MemStore{}, Audit: audit.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := rec.Start(ctx, policytest.GrantFor(t, rec), "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := rec.Stop(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rec.Files()); n != 4 {
		t.Fatalf("%d files after two mono recordings, want 4: %v", n, rec.Files())
	}
	if err := rec.Discard(ctx, "objection", "caller"); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Files()); n != 0 {
		t.Fatalf("%d files after Discard", n)
	}
}
