package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/consentrec/consentrec"
	"github.com/consentrec/consentrec/recorder"
	"github.com/consentrec/consentrec/recorder/s3store"
	"github.com/consentrec/consentrec/retention"
	"github.com/consentrec/consentrec/retention/pgcatalog"
	"github.com/consentrec/consentrec/retention/sqlitecatalog"
)

// BackendsFile names, in a data directory, the backends that replace the
// embedded defaults for every command (several recorder nodes sharing one
// bucket and one database):
//
//	{"recordings": "s3://BUCKET/PREFIX?endpoint=https://...&spool=/var/spool/consentrec",
//	 "catalog": "postgres://consentrec@db.example.com/consentrec",
//	 "audit": "tessera+mysql://consentrec@tcp(db.example.com:3306)/audit"}
//
// Any may be left out (the data directory's file store, its SQLite
// catalog, its audit file log). The audit log may also be a Tessera log
// in a directory, "tessera+posix:///var/lib/consentrec/audit-tiles" (see
// auditSchemePOSIX). Credentials never go in the file: S3 keys come from
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, PostgreSQL's from PGPASSWORD
// or ~/.pgpass, MySQL's from MYSQL_PWD.
const BackendsFile = "backends.json"

type backends struct {
	Recordings string `json:"recordings,omitempty"`
	Catalog    string `json:"catalog,omitempty"`
	Audit      string `json:"audit,omitempty"`
}

func loadBackends(root string) (backends, error) {
	var b backends
	data, err := os.ReadFile(filepath.Join(root, BackendsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, usagef("%s: %v", filepath.Join(root, BackendsFile), err)
	}
	return b, nil
}

// closingCatalog is a catalog the command closes when done.
type closingCatalog interface {
	retention.Catalog
	Close() error
}

// openCatalog opens the data directory's catalog: PostgreSQL when
// backends.json names one, else its SQLite file.
func openCatalog(ctx context.Context, root string) (closingCatalog, error) {
	b, err := loadBackends(root)
	if err != nil {
		return nil, err
	}
	if b.Catalog != "" {
		if err := pgcatalog.ParseDSN(b.Catalog); err != nil {
			return nil, usagef("%s: catalog: %v", BackendsFile, err)
		}
		return pgcatalog.Open(ctx, b.Catalog)
	}
	return sqlitecatalog.Open(ctx, consentrec.DataDir{Root: root}.Catalog())
}

// catalogExists reports whether root has a catalog to open (a mistyped
// --data must not create an empty one).
func catalogExists(root string) error {
	if b, err := loadBackends(root); err != nil || b.Catalog != "" {
		return err
	}
	_, err := os.Stat(consentrec.DataDir{Root: root}.Catalog())
	return err
}

// openStore opens the data directory's recordings: on S3 when
// backends.json names a bucket, else its file store. close releases it.
func openStore(root string) (st recorder.Store, close func() error, err error) {
	b, err := loadBackends(root)
	if err != nil {
		return nil, nil, err
	}
	if b.Recordings != "" {
		cfg, err := s3store.ParseURL(b.Recordings)
		if err != nil {
			return nil, nil, usagef("%s: recordings: %v", BackendsFile, err)
		}
		s := s3store.New(cfg)
		if err := s.Init(context.Background()); err != nil {
			return nil, nil, fmt.Errorf("recordings on S3: %w", err)
		}
		return s, s.Close, nil
	}
	fsStore, err := recorder.NewFileStore(consentrec.DataDir{Root: root}.Recordings())
	if err != nil {
		return nil, nil, err
	}
	return fsStore, func() error { return nil }, nil
}
