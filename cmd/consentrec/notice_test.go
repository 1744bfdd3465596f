package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNoticeInspect(t *testing.T) {
	wav := filepath.Join("..", "..", "notice", "testdata", "notice-en.wav")
	mp3 := filepath.Join("..", "..", "notice", "testdata", "notice-fr.mp3")
	b, err := os.ReadFile(wav)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	var out, errb bytes.Buffer
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"notice", "inspect", wav, mp3}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], hex.EncodeToString(sum[:])+"  "+wav) ||
		!strings.Contains(lines[0], "wav") || !strings.Contains(lines[1], "mp3") {
		t.Fatalf("output:\n%s", out.String())
	}

	out.Reset()
	bad := filepath.Join(t.TempDir(), "bad.wav")
	if err := os.WriteFile(bad, []byte("RIFF"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"notice", "inspect", "--json", wav, bad}); code != 1 {
		t.Fatalf("bad file: exit %d, want 1", code)
	}
	var infos []promptInfo
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var pi promptInfo
		if err := json.Unmarshal([]byte(l), &pi); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		infos = append(infos, pi)
	}
	if len(infos) != 2 || infos[0].Version != hex.EncodeToString(sum[:]) || infos[0].SampleRate != 8000 ||
		infos[1].Error == "" {
		t.Fatalf("json: %+v", infos)
	}
	if code := run(&env{stdout: &out, stderr: &errb}, []string{"notice", "inspect"}); code != 2 {
		t.Fatalf("no file: exit %d, want 2", code)
	}
}
