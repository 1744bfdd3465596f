package agestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/consentrec/consentrec/recorder"
)

// KeyStore keeps the per-recording keys of crypto-shredding, apart from
// the recordings. The values are opaque (age files, already encrypted to
// the operators' recipients): a KeyStore never sees a key in clear.
//
// Every method may be called concurrently; ctx bounds each call. Ids are
// recording ids (recorder.ValidateID); an invalid id gives an error
// wrapping recorder.ErrInvalidID.
type KeyStore interface {
	// Put stores the key of id, replacing any previous one, and returns
	// once it is durable.
	Put(ctx context.Context, id string, wrapped []byte) error
	// Get returns the key of id, or an error wrapping fs.ErrNotExist.
	Get(ctx context.Context, id string) ([]byte, error)
	// Delete removes the key of id durably. Deleting a key that does not
	// exist is not an error (shredding is idempotent).
	Delete(ctx context.Context, id string) error
	// List returns the ids that have a key, sorted.
	List(ctx context.Context) ([]string, error)
}

// DirKeyStore keeps each key in a file <Dir>/<id>.age (mode 0600, written
// with fsync and an atomic rename). Put it on a different disk or volume
// than the recordings, and leave it out of the recordings' backups (back
// it up separately, for a shorter time): deleting a key is what makes every
// backup of its recording unreadable. On SSDs and copy-on-write file
// systems a deleted file's blocks may survive until reused; when that
// matters, implement KeyStore on a KMS or HSM.
type DirKeyStore struct {
	dir string
}

var _ KeyStore = (*DirKeyStore)(nil)

// KeyExt is the extension of the key files of a DirKeyStore.
const KeyExt = ".age"

// NewDirKeyStore opens (creating it, mode 0700) a key directory.
func NewDirKeyStore(dir string) (*DirKeyStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agestore: key store: %w", err)
	}
	return &DirKeyStore{dir: dir}, nil
}

// Dir returns the directory.
func (d *DirKeyStore) Dir() string { return d.dir }

// Path returns the file holding the key of id.
func (d *DirKeyStore) Path(id string) string { return filepath.Join(d.dir, id+KeyExt) }

// Put implements KeyStore.
func (d *DirKeyStore) Put(ctx context.Context, id string, wrapped []byte) error {
	if err := recorder.ValidateID(id); err != nil {
		return fmt.Errorf("agestore: put key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("agestore: put key %s: %w", id, err)
	}
	f, err := os.CreateTemp(d.dir, ".tmp-"+id+"-*")
	if err != nil {
		return fmt.Errorf("agestore: put key %s: %w", id, err)
	}
	tmp := f.Name()
	_, err = f.Write(wrapped)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.Path(id))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("agestore: put key %s: %w", id, err)
	}
	if err := d.syncDir(); err != nil {
		return fmt.Errorf("agestore: put key %s: %w", id, err)
	}
	return nil
}

// Get implements KeyStore.
func (d *DirKeyStore) Get(ctx context.Context, id string) ([]byte, error) {
	if err := recorder.ValidateID(id); err != nil {
		return nil, fmt.Errorf("agestore: get key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("agestore: get key %s: %w", id, err)
	}
	b, err := os.ReadFile(d.Path(id))
	if err != nil {
		return nil, fmt.Errorf("agestore: get key %s: %w", id, err)
	}
	return b, nil
}

// Delete implements KeyStore.
func (d *DirKeyStore) Delete(ctx context.Context, id string) error {
	if err := recorder.ValidateID(id); err != nil {
		return fmt.Errorf("agestore: delete key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("agestore: delete key %s: %w", id, err)
	}
	err := os.Remove(d.Path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = d.syncDir()
	}
	if err != nil {
		return fmt.Errorf("agestore: delete key %s: %w", id, err)
	}
	return nil
}

// List implements KeyStore.
func (d *DirKeyStore) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("agestore: list keys: %w", err)
	}
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("agestore: list keys: %w", err)
	}
	var ids []string
	for _, e := range ents {
		name := e.Name()
		if id, ok := strings.CutSuffix(name, KeyExt); ok && e.Type().IsRegular() && recorder.ValidateID(id) == nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (d *DirKeyStore) syncDir() error {
	f, err := os.Open(d.dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
