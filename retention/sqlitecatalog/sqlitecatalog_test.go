package sqlitecatalog_test

import (
	"context"
	"path/filepath"
	"testing"

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
