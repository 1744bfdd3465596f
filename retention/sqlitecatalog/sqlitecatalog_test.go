package sqlitecatalog_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consentrec/consentrec/policy"

	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/retentiontest"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

func open(t *testing.T, path string) *sqlitecatalog.Catalog {
	t.Helper()
	c, err := sqlitecatalog.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCatalog(t *testing.T) {
	retentiontest.TestCatalog(t, func(t *testing.T) retention.Catalog {
		return open(t, filepath.Join(t.TempDir(), "catalog.db"))
	})
}

func TestSweepCrash(t *testing.T) {
	retentiontest.TestSweepCrash(t, func(t *testing.T) retention.Catalog {
		return open(t, filepath.Join(t.TempDir(), "catalog.db"))
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := sqlitecatalog.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := retentiontest.Rec("a", policy.Quality, 0, retentiontest.SubjectOf("x"))
	r.Gaps = []retention.Gap{{Start: time.Second, End: 3 * time.Second, Reason: "pause"}}
	if err := c.Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(ctx, retentiontest.Rec("b", policy.Quality, 0, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetHold(ctx, "a", retention.Hold{Case: "K", Approver: "A", Since: retentiontest.Epoch}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BeginDelete(ctx, "b", retention.DeletionErasure); err != nil {
		t.Fatal(err)
	}
	c.Close()

	c = open(t, path)
	got, err := c.Get(ctx, "a")
	if err != nil || !got.Held() || len(got.Gaps) != 1 || got.Gaps[0] != r.Gaps[0] || !got.Deadline.Equal(r.Deadline) {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
	p, err := c.Pending(ctx, 0)
	if err != nil || len(p) != 1 || p[0].ID != "b" || p[0].Deletion != retention.DeletionErasure {
		t.Errorf("pending after reopen: %+v, %v", p, err)
	}
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "catalog.db")
	open(t, path)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("catalog file: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c := open(t, path)
	c.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := sqlitecatalog.Open(ctx, path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema = %v", err)
	}
	if _, err := sqlitecatalog.Open(ctx, "a?b"); !errors.Is(err, retention.ErrInvalid) {
		t.Errorf("Open(a?b) = %v, want ErrInvalid", err)
	}
}

func TestSweepConcurrent(t *testing.T) {
	retentiontest.TestSweepConcurrent(t, func(t *testing.T) retention.Catalog {
		return open(t, filepath.Join(t.TempDir(), "catalog.db"))
	})
}
