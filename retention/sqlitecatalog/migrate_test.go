package sqlitecatalog_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/consentrec/consentrec/policy"
	"github.com/consentrec/consentrec/retention/retentiontest"
)

// schemaV1 is the catalog as version 1 of this package created it.
const schemaV1 = `
CREATE TABLE recordings (
	id TEXT PRIMARY KEY, call_id TEXT NOT NULL, purpose TEXT NOT NULL, lawful_basis TEXT NOT NULL,
	created INTEGER NOT NULL, deadline INTEGER NOT NULL, subject TEXT NOT NULL, sha256 TEXT NOT NULL,
	gaps TEXT NOT NULL, deletion TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX recordings_deadline ON recordings (deadline, id);
CREATE INDEX recordings_subject ON recordings (subject, created, id) WHERE subject <> '';
CREATE INDEX recordings_pending ON recordings (id) WHERE deletion <> '';
CREATE TABLE holds (
	recording_id TEXT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE, seq INTEGER NOT NULL,
	case_ref TEXT NOT NULL, approver TEXT NOT NULL, since INTEGER NOT NULL,
	PRIMARY KEY (recording_id, case_ref)
) WITHOUT ROWID;
PRAGMA user_version = 1;
`

// TestMigrateV1: a catalog written before the statutory minimum and the
// access roles existed opens, keeps its rows (with neither), and then
// stores both.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	old := retentiontest.Rec("old", policy.Quality, 0, "")
	if _, err := db.Exec(schemaV1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO recordings VALUES (?, ?, ?, ?, ?, ?, '', ?, '[]', '')`, old.ID, old.CallID,
		string(old.Purpose), old.LawfulBasis, old.Created.UnixNano(), old.Deadline.UnixNano(), old.SHA256); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c := open(t, path)
	got, err := c.Get(ctx, "old")
	if err != nil || !got.Deadline.Equal(old.Deadline) || !got.KeepUntil.IsZero() || got.AccessRoles != nil {
		t.Fatalf("Get(old) after migration = %+v, %v", got, err)
	}
	n := retentiontest.Rec("new", policy.LegalObligation, 0, "")
	n.KeepUntil = n.Deadline
	n.AccessRoles = []policy.Role{policy.RoleCompliance}
	if err := c.Add(ctx, n); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = open(t, path) // reopening a version 2 catalog migrates nothing
	got, err = c.Get(ctx, "new")
	if err != nil || !got.KeepUntil.Equal(n.KeepUntil) || len(got.AccessRoles) != 1 || got.AccessRoles[0] != policy.RoleCompliance {
		t.Errorf("Get(new) = %+v, %v", got, err)
	}
}
