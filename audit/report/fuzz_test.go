package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/consentrec/consentrec/audit"
	"github.com/consentrec/consentrec/audit/audittest"
	"github.com/consentrec/consentrec/audit/report"
	"github.com/consentrec/consentrec/retention"
)

// FuzzBuild feeds the report arbitrary histories: events of any kind, in
// any order, with any ids, roles, purposes and attribute values (a deadline
// that does not parse, a rate of "NaN", a resume without a pause...). Build
// must neither panic nor fail on a log that verifies, and every rendering
// must succeed.
func FuzzBuild(f *testing.F) {
	f.Add([]byte("\x01\x00\x10ab\x00record\x00true\x05\x00\x20ab\x00\x03\x00\x30ab"))
	f.Add([]byte("\x0d\x00\x01x\x00deadline\x00not-a-time\x0b\x00\x02x\x00action\x00<b>&"))
	f.Add([]byte("\x06\x01\x00c\x00\x07\x00\x00c\x00reason\x00max-pause\x08\xff\xffc"))
	f.Add([]byte("\x01\x00\x00a\x00rate\x00NaN\x01\x00\x00a\x00mode\x00statute\x04\x00\x01a"))
	vals := []string{"", "true", "false", "quality", "legal", "trainer", "statute", "sampling", "not-applicable",
		"2026-11-02T00:00:00Z", "0.1", "NaN", "-1", "1e308", "<script>", "\x1b[2J", "agent-1", "max-pause"}
	keys := []string{"record", "mode", "rule", "rate", "cap", "grid", "agent", "on_objection", "deadline",
		"completed", "interrupted", "action", "denied", "outcome", "method", "error", "late", "count", "before"}
	t0 := time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		log := audittest.NewLog("fuzz.example/audit", nil)
		// Each event: kind, two bytes of minutes, an id, then attributes
		// (key index, value: an index or raw bytes) until the next 0x00.
		for len(data) >= 4 && log.Size() < 200 {
			k := audit.Kind(data[0] % 25)
			mins := int(data[1])<<8 | int(data[2])
			data = data[3:]
			id, rest, _ := bytes.Cut(data, []byte{0})
			data = rest
			e := audit.Event{Kind: k, Time: t0.Add(time.Duration(mins) * time.Minute), CallID: string(id),
				RecordingID: "r" + string(id), Actor: string(id), Role: vals[len(id)%len(vals)],
				Purpose: vals[(len(id)+3)%len(vals)], Reason: vals[len(id)%len(vals)], PolicyVersion: "pv1:" + string(id)}
			for len(data) >= 2 && data[0] != 0xff {
				key := keys[int(data[0])%len(keys)]
				val, rest, _ := bytes.Cut(data[1:], []byte{0})
				v := string(val)
				if len(val) == 1 {
					v = vals[int(val[0])%len(vals)]
				}
				e.Attrs = append(e.Attrs, audit.Attr{Key: key, Value: v})
				data = rest
			}
			if len(data) > 0 && data[0] == 0xff {
				data = data[1:]
			}
			_, _ = log.Append(ctx, e) // an invalid event is refused: fine
		}
		cat := retention.NewMemCatalog()
		rep, err := report.Build(ctx, report.Source{Log: log, Catalog: cat},
			report.Options{From: t0, To: t0.AddDate(0, 2, 0), Now: t0.AddDate(0, 3, 0)})
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if !slices.IsSortedFunc(rep.Violations, func(x, y report.Violation) int { return x.Time.Compare(y.Time) }) {
			t.Error("violations not in time order")
		}
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil || !json.Valid(b.Bytes()) {
			t.Fatalf("JSON: %v", err)
		}
		if err := rep.WriteHTML(io.Discard); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteText(io.Discard); err != nil {
			t.Fatal(err)
		}
		_ = rep.Summary()
	})
}
