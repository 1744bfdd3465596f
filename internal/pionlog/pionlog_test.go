package pionlog_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/consentrec/consentrec/internal/pionlog"
)

// fakeTB records what ForTest does with a test.
type fakeTB struct {
	failed   bool
	cleanups []func()
	logs     []string
}

func (f *fakeTB) Cleanup(fn func())            { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Failed() bool                 { return f.failed }
func (f *fakeTB) Logf(format string, a ...any) { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) end() {
	for _, fn := range f.cleanups {
		fn()
	}
}

func TestForTest(t *testing.T) {
	for _, failed := range []bool{false, true} {
		tb := &fakeTB{failed: failed}
		lf := pionlog.ForTest(tb)
		l := lf.NewLogger("twcc_sender_interceptor")
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { l.Errorf("write %d: io: read/write on closed pipe", i) })
		}
		wg.Wait()
		l.Debug("not at the default level")
		tb.end()
		l.Error("after the test ended") // must not reach a finished test
		switch {
		case !failed && len(tb.logs) != 0:
			t.Errorf("a passing test logged %q", tb.logs)
		case failed && (len(tb.logs) != 1 || strings.Count(tb.logs[0], "closed pipe") != 8 ||
			strings.Contains(tb.logs[0], "default level") || strings.Contains(tb.logs[0], "ended")):
			t.Errorf("a failing test logged %q", tb.logs)
		}
	}
}

func TestWriterAndDiscard(t *testing.T) {
	var b bytes.Buffer
	pionlog.Writer(&b).NewLogger("ice").Errorf("boom %d", 1)
	if !strings.Contains(b.String(), "ice ERROR") || !strings.Contains(b.String(), "boom 1") {
		t.Errorf("Writer wrote %q", b.String())
	}
	// Discard writes nothing, not even to stderr (pion's default), whatever
	// the environment asks.
	t.Setenv("PION_LOG_ERROR", "all")
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer func(e *os.File) { os.Stderr = e }(os.Stderr)
	os.Stderr = f
	pionlog.Discard().NewLogger("ice").Error("dropped")
	pionlog.Discard().NewLogger("twcc_sender_interceptor").Warn("dropped")
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("Discard wrote %d bytes to stderr", st.Size())
	}
}

func TestSlog(t *testing.T) {
	var b bytes.Buffer
	h := slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	l := pionlog.Slog(slog.New(h)).NewLogger("twcc_sender_interceptor")
	l.Errorf("write: %v", "io: read/write on closed pipe")
	l.Warn("slow")
	l.Info("not kept")
	l.Tracef("not kept %d", 1)
	want := "level=ERROR msg=\"write: io: read/write on closed pipe\" pion=twcc_sender_interceptor\n" +
		"level=WARN msg=slow pion=twcc_sender_interceptor\n"
	if b.String() != want {
		t.Errorf("slog got\n%s\nwant\n%s", b.String(), want)
	}
}

func Example() {
	var b bytes.Buffer
	lf := pionlog.Writer(&b) // e.g. se.LoggerFactory = lf
	lf.NewLogger("twcc_sender_interceptor").Error("io: read/write on closed pipe")
	lf.NewLogger("ice").Debug("not logged: errors only by default")
	fmt.Println(strings.Count(b.String(), "\n"), strings.Contains(b.String(), "twcc_sender_interceptor ERROR"))
	// Output: 1 true
}
