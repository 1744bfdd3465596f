package fromrecorder_test

import (
	"fmt"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/fromrecorder"
)

func ExampleEntry() {
	m := recorder.Meta{ID: "rec-1", CallID: "call-1", Purpose: policy.Quality,
		Created: time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC), SHA256: fmt.Sprintf("%064x", 1),
		Gaps: []recorder.Gap{{Start: 5 * time.Second, End: 40 * time.Second, Reason: recorder.GapPause}}}
	e, err := fromrecorder.Entry(m, policy.SubjectKey([]byte("secret"), "+33 1 23 45 67 89"), policy.Days(15))
	if err != nil {
		panic(err)
	}
	r, _ := retention.New(e)
	fmt.Println(r.ID, r.Deadline.Format(time.RFC3339), r.Gaps[0].Reason)
	_, err = fromrecorder.Entry(recorder.Meta{ID: "rec-2"}, "", policy.Period{})
	fmt.Println(err)
	// Output:
	// rec-1 2026-02-15T10:00:00Z pause
	// fromrecorder: rec-2: sha256: recording not finalized
}
