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
