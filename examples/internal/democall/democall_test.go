package democall

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/internal/pionlog"
	"github.com/consentrec/consentrec/recorder"
)

type events struct {
	mu    sync.Mutex
	kinds []audit.Kind
}

func (e *events) Append(_ context.Context, ev audit.Event) (uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kinds = append(e.kinds, ev.Kind)
	return uint64(len(e.kinds)), nil
}

// TestRun places a real 3 s WebRTC call over loopback (it takes 3 s of wall
// time: pion's transports run on real sockets and timers).
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a real 3 s call")
	}
	ev := &events{}
	res, err := Run(t.Context(), Config{DataDir: t.TempDir(), Audit: ev, Duration: 3 * time.Second,
		PauseAt: time.Second, PauseFor: 500 * time.Millisecond, LoggerFactory: pionlog.ForTest(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", res.Summary())
	if res.Info.Channels != 2 || res.Info.Tag("LEFT") != "customer" || res.Info.Tag("RIGHT") != "agent" || res.Info.SHA256 != res.Meta.SHA256 {
		t.Fatalf("info %+v", res.Info)
	}
	if d := res.Meta.Duration - res.Recorded; d < -30*time.Millisecond || d > 30*time.Millisecond {
		t.Errorf("file lasts %v, recorded for %v", res.Meta.Duration, res.Recorded)
	}
	var pause *recorder.Gap
	for i, g := range res.Meta.Gaps {
		if g.Reason == recorder.GapPause {
			pause = &res.Meta.Gaps[i]
		}
	}
	if pause == nil || pause.End-pause.Start < 440*time.Millisecond || pause.End-pause.Start > 560*time.Millisecond {
		t.Errorf("pause gap %+v", pause)
	}
	if res.Meta.Legs[0].Packets < 50 || res.Meta.Legs[1].Packets < 50 {
		t.Errorf("legs %+v", res.Meta.Legs)
	}
	if len(ev.kinds) != 5 {
		t.Errorf("audit events %v", ev.kinds)
	}
	if bin, err := exec.LookPath("opusinfo"); err == nil {
		out, err := exec.Command(bin, res.Path).CombinedOutput()
		if err != nil || strings.Contains(strings.ToLower(string(out)), "warning") {
			t.Errorf("opusinfo: %v\n%s", err, out)
		}
	}
}
