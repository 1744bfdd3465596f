package catalogrow

import (
	"slices"
	"testing"
	"time"

	"github.com/consentrec/consentrec/retention"
)

// FuzzDecodeGaps: the gaps column of a damaged or hostile database never
// panics the reader, and what it decodes re-encodes to the same gaps.
func FuzzDecodeGaps(f *testing.F) {
	f.Add(`[]`)
	f.Add(EncodeGaps([]retention.Gap{{Start: time.Second, End: 2 * time.Second, Reason: "pause", Actor: "agent-7", Note: "card-data"}}))
	f.Add(`[{"s":1,"e":2},{"s":-5,"e":9223372036854775807,"r":"loss"}]`)
	f.Add(`null`)
	f.Add(`[{"s":"x"}]`)
	f.Add(`[{"s":1,"e":2,"r":"pause","a":"x","n":"y"}]`)
	f.Fuzz(func(t *testing.T, s string) {
		gs, err := DecodeGaps(s)
		if err != nil {
			return
		}
		again, err := DecodeGaps(EncodeGaps(gs))
		if err != nil || !slices.Equal(gs, again) {
			t.Fatalf("round trip of %q: %v then %v (%v)", s, gs, again, err)
		}
	})
}
