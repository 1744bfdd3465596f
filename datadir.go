package consentrec

import "path/filepath"

// DataDir is the layout of the embedded default: one directory holding
// everything the library keeps. Its zero value is not usable; set Root.
type DataDir struct {
	Root string
}

// Well-known entries of a data directory, relative to its root.
const (
	AuditSubdir      = "audit"      // the audit log (package audit's file log)
	RecordingsSubdir = "recordings" // recordings and their metadata (package recorder's file store)
	CatalogFile      = "catalog.db" // the recordings catalog (package retention)
	KeysSubdir       = "keys"       // secrets: sampling key, subject-hash key, signing key
	// RecordingKeysSubdir, under KeysSubdir, holds the per-recording keys of
	// encrypted recordings (recorder/agestore): deleting one crypto-shreds
	// its recording. Keep it out of the recordings' backups.
	RecordingKeysSubdir = "recordings"
	// AgentNoticesFile holds the agents' acknowledgements of the employee
	// notice (policy.AgentNoticeFile, R19): JSON lines, mode 0600.
	AgentNoticesFile = "agent-notices.jsonl"
)

// Audit returns the directory of the audit log.
func (d DataDir) Audit() string { return filepath.Join(d.Root, AuditSubdir) }

// Recordings returns the directory of the recordings store.
func (d DataDir) Recordings() string { return filepath.Join(d.Root, RecordingsSubdir) }

// Catalog returns the path of the catalog database.
func (d DataDir) Catalog() string { return filepath.Join(d.Root, CatalogFile) }

// Keys returns the directory of the secrets.
func (d DataDir) Keys() string { return filepath.Join(d.Root, KeysSubdir) }

// RecordingKeys returns the directory of the per-recording keys.
func (d DataDir) RecordingKeys() string { return filepath.Join(d.Keys(), RecordingKeysSubdir) }

// AgentNotices returns the path of the agents' notice acknowledgements.
func (d DataDir) AgentNotices() string { return filepath.Join(d.Root, AgentNoticesFile) }
