package sqlitecatalog

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestQueryPlansUseIndexes: "expired before T", "recordings of S" and the
// pending deletions are answered from indexes, never by scanning the table.
func TestQueryPlansUseIndexes(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name, q := range map[string]struct {
		where string
		args  []any
		index string
	}{
		"expired": {"WHERE deadline <= ? AND (deadline, id) > (?, ?) ORDER BY deadline, id LIMIT ?", []any{1, int64(math.MinInt64), "", 10}, "recordings_deadline"},
		"subject": {"WHERE subject = ? AND subject <> '' ORDER BY created, id", []any{"sk1:x"}, "recordings_subject"},
		"pending": {"WHERE deletion <> '' ORDER BY id LIMIT ?", []any{-1}, "recordings_pending"},
	} {
		rows, err := c.db.QueryContext(ctx, "EXPLAIN QUERY PLAN SELECT "+columns+" FROM recordings r "+q.where, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, " | ")
		if !strings.Contains(all, q.index) || strings.Contains(all, "SCAN r ") && !strings.Contains(all, "USING") {
			t.Errorf("%s: plan %q does not use %s", name, all, q.index)
		}
		if strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%s: plan %q sorts in a temporary b-tree", name, all)
		}
		t.Logf("%s: %s", name, all)
	}
}
