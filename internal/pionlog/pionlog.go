// Package pionlog routes pion's logs (ICE, DTLS, SCTP, the RTP
// interceptors) to a writer the program chooses. pion's default logger
// factory writes errors to the process's standard error, so a test that
// closes a peer connection while packets are in flight prints lines such as
// "twcc_sender_interceptor ERROR: ... io: read/write on closed pipe" in the
// middle of go test's output.
//
// Pass the factory both to the SettingEngine and to the interceptors:
//
//	lf := pionlog.Writer(w)
//	se.LoggerFactory = lf
//	webrtc.RegisterDefaultInterceptorsWithOptions(m, reg, webrtc.WithInterceptorLoggerFactory(lf))
//
// Programs that log with log/slog use Slog. Tests use ForTest: the logs
// are kept and shown only if the test fails.
package pionlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/pion/logging"
)

// Writer returns a logger factory writing to w, at the levels pion's own
// environment variables select (PION_LOG_ERROR, PION_LOG_WARN, ...; errors
// only by default). Writes to w are serialised.
func Writer(w io.Writer) logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.Writer = &lockedWriter{w: w}
	return f
}

// Discard is a logger factory that drops every line.
func Discard() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled
	f.ScopeLevels = map[string]logging.LogLevel{}
	f.Writer = io.Discard
	return f
}

// TB is the part of testing.TB that ForTest uses.
type TB interface {
	Cleanup(func())
	Failed() bool
	Logf(format string, args ...any)
}

// ForTest returns a logger factory that keeps pion's logs in memory and
// hands them to t.Logf when the test ends, only if it failed. Lines pion
// logs after the test ended (its goroutines may outlive a closed peer
// connection) are dropped, never logged through a finished t.
func ForTest(t TB) logging.LoggerFactory {
	b := &testBuffer{}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.done = true
		if t.Failed() && b.buf.Len() > 0 {
			t.Logf("pion's logs:\n%s", b.buf.String())
		}
	})
	f := logging.NewDefaultLoggerFactory()
	f.Writer = b
	return f
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type testBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

func (b *testBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.buf.Write(p)
	}
	return len(p), nil
}

// LevelTrace is the slog level of pion's trace lines (below slog.LevelDebug).
const LevelTrace = slog.LevelDebug - 4

// Slog returns a logger factory writing through l: pion's scope ("ice",
// "twcc_sender_interceptor") becomes the attribute pion=SCOPE, and its
// levels slog's (trace at LevelTrace). l's handler decides what is kept.
func Slog(l *slog.Logger) logging.LoggerFactory { return slogFactory{l} }

type slogFactory struct{ l *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.l.With("pion", scope)}
}

type slogLogger struct{ l *slog.Logger }

func (s slogLogger) log(level slog.Level, msg string) { s.l.Log(context.Background(), level, msg) }
func (s slogLogger) logf(level slog.Level, format string, args ...any) {
	if s.l.Enabled(context.Background(), level) {
		s.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (s slogLogger) Trace(msg string)             { s.log(LevelTrace, msg) }
func (s slogLogger) Tracef(f string, args ...any) { s.logf(LevelTrace, f, args...) }
func (s slogLogger) Debug(msg string)             { s.log(slog.LevelDebug, msg) }
func (s slogLogger) Debugf(f string, args ...any) { s.logf(slog.LevelDebug, f, args...) }
func (s slogLogger) Info(msg string)              { s.log(slog.LevelInfo, msg) }
func (s slogLogger) Infof(f string, args ...any)  { s.logf(slog.LevelInfo, f, args...) }
func (s slogLogger) Warn(msg string)              { s.log(slog.LevelWarn, msg) }
func (s slogLogger) Warnf(f string, args ...any)  { s.logf(slog.LevelWarn, f, args...) }
func (s slogLogger) Error(msg string)             { s.log(slog.LevelError, msg) }
func (s slogLogger) Errorf(f string, args ...any) { s.logf(slog.LevelError, f, args...) }
