package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestCreateNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "secret")
	if err := CreateNew(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := CreateNew(path, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("over an existing file: %v, want fs.ErrExist", err)
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(b) != "first" || st.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v", b, st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

// Concurrent creators: exactly one wins, and every reader sees a whole file.
func TestCreateNewConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	data := make([]byte, 1<<16)
	for i := range data {
		data[i] = byte(i)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			err := CreateNew(path, data)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, fs.ErrExist) {
				t.Error(err)
			}
			if b, err := os.ReadFile(path); err == nil && len(b) != len(data) {
				t.Errorf("read a partial file: %d bytes", len(b))
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d creators won", wins)
	}
}

func TestSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "s.key")
	if _, err := Secret(path, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing without create: %v", err)
	}
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Go(func() { got[i], _ = Secret(path, true) })
	}
	wg.Wait()
	for _, b := range got {
		if len(b) != 32 || !bytes.Equal(b, got[0]) {
			t.Fatalf("concurrent callers got different secrets: %x vs %x", b, got[0])
		}
	}
	os.WriteFile(path+".short", []byte("short"), 0o600)
	if _, err := Secret(path+".short", true); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}

// Replace creates a file or replaces it whole, mode 0600, and leaves no
// temporary file behind, also when it fails.
func TestReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint")
	for _, data := range []string{"first", "second, longer"} {
		if err := Replace(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != data {
			t.Fatalf("read %q, %v; want %q", b, err, data)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if err := Replace(filepath.Join(dir, "missing", "x"), []byte("x")); err == nil {
		t.Fatal("Replace into a missing folder: no error")
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Replace(filepath.Join(dir, "adir"), []byte("x")); err == nil {
		t.Fatal("Replace over a folder: no error")
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 2 {
		t.Fatalf("folder holds %d entries, want the file and the folder: %v", len(es), es)
	}
}
