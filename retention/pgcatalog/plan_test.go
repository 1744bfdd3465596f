package pgcatalog

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// subjectKeys memoizes retentiontest.SubjectOf, a deliberately slow keyed
// hash (about 1.4 ms here): computed once per subject, not per recording,
// so that benchmarks time the catalogue, not the hash.
var subjectKeys sync.Map

func subjectOf(n int) string {
	if s, ok := subjectKeys.Load(n); ok {
		return s.(string)
	}
	s := retentiontest.SubjectOf(fmt.Sprint(n))
	subjectKeys.Store(n, s)
	return s
}

// planRecording is the i-th recording of the plan and benchmark sets: one
// every 2.6 s over a month, three purposes, ten recordings per subject.
func planRecording(i, subjects int) retention.Recording {
	p := []policy.Purpose{policy.Quality, policy.Training, policy.ContractProof}[i%3]
	r, err := retention.New(retention.Entry{
		ID: fmt.Sprintf("rec-%07d", i), CallID: fmt.Sprintf("call-%07d", i), Purpose: p,
		Created: retentiontest.Epoch.Add(time.Duration(i) * 2600 * time.Millisecond),
		Subject: subjectOf(i % subjects),
		SHA256:  fmt.Sprintf("%064x", i),
	})
	if err != nil {
		panic(err)
	}
	return r
}

// TestPlansUseIndexes checks with EXPLAIN that the expiry scan and the
// subject lookup read their indexes, not the table, on a catalog of 20,000
// recordings.
func TestPlansUseIndexes(t *testing.T) {
	ctx := context.Background()
	c := openT(t, freshSchema(t))
	const n = 20_000
	rs := make([]retention.Recording, n)
	for i := range rs {
		rs[i] = planRecording(i, n/10)
	}
	if err := c.AddBatch(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if _, err := c.pool.Exec(ctx, "ANALYZE recordings; ANALYZE holds"); err != nil {
		t.Fatal(err)
	}
	at := rs[100].Deadline
	for _, tc := range []struct {
		name, sql, index string
		args             []any
	}{
		{"expired", expiredSQL, "recordings_deadline", []any{nanos(at), int64(-1 << 63), "", int64(1000)}},
		{"expired-next-page", expiredSQL, "recordings_deadline", []any{nanos(at), nanos(rs[50].Deadline), rs[50].ID, int64(1000)}},
		{"subject", subjectSQL, "recordings_subject", []any{rs[42].Subject}},
		{"pending", pendingSQL, "recordings_pending", nil},
	} {
		rows, err := c.pool.Query(ctx, "EXPLAIN "+tc.sql, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "\n")
		t.Logf("EXPLAIN %s:\n%s", tc.name, p)
		if !strings.Contains(p, "Index Scan using "+tc.index) && !strings.Contains(p, "Bitmap Index Scan on "+tc.index) &&
			!strings.Contains(p, "Index Only Scan using "+tc.index) {
			t.Errorf("%s does not use %s:\n%s", tc.name, tc.index, p)
		}
		if strings.Contains(p, "Seq Scan on recordings") {
			t.Errorf("%s scans the whole table:\n%s", tc.name, p)
		}
	}
}
