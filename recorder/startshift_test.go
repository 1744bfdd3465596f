package recorder_test

import (
	"testing"
	"time"

	"github.com/consentrec/consentrec/recorder"
)

// Arrival wall slots (20 ms, counted from the recording's start) of the
// 150 Opus frames that codec/g711opus made of ffmpeg -re's 256 ms PCMU
// packets, in two runs of TestFFmpegPCMUToRecorder/ptime256 that failed
// at load average 9 (-race): the frames of one 256 ms packet come out of
// the transcoder over 2 to 10 wall slots, its tail one frame a slot at a
// constant lead. The first frame of every burst is on time.
var (
	slowBurstsA = []int{20, 20, 20, 20, 20, 21, 21, 21, 21, 21, 21, 21, 33, 33, 33, 33, 33, 34, 34, 34, 34, 34, 34, 35, 35, 45, 45, 46, 46, 46, 46, 46, 46, 47, 47, 48, 49, 50, 58, 59, 60, 61, 61, 61, 62, 62, 62, 63, 63, 63, 63, 71, 71, 71, 71, 72, 72, 73, 73, 73, 73, 73, 73, 73, 84, 84, 84, 85, 85, 86, 86, 86, 86, 87, 87, 87, 97, 97, 97, 97, 97, 97, 97, 97, 98, 98, 98, 98, 98, 110, 110, 110, 110, 110, 110, 110, 110, 111, 111, 111, 111, 111, 122, 122, 122, 123, 123, 123, 123, 123, 123, 123, 123, 123, 123, 135, 136, 136, 136, 136, 136, 136, 136, 137, 137, 137, 137, 137, 148, 148, 149, 149, 149, 149, 149, 150, 151, 151, 151, 151, 160, 161, 161, 161, 161, 161, 161, 162, 162, 162}
	slowBurstsB = []int{15, 15, 16, 18, 18, 19, 21, 21, 23, 23, 23, 25, 26, 26, 28, 28, 28, 29, 29, 29, 29, 29, 29, 30, 30, 39, 39, 40, 40, 40, 42, 43, 43, 44, 45, 46, 46, 47, 51, 52, 52, 52, 52, 52, 52, 52, 53, 53, 53, 53, 53, 64, 64, 64, 65, 65, 65, 65, 65, 65, 65, 65, 66, 66, 77, 77, 77, 78, 78, 78, 78, 79, 79, 79, 79, 79, 89, 89, 90, 90, 90, 90, 90, 90, 90, 90, 90, 91, 91, 102, 102, 103, 104, 105, 105, 105, 105, 105, 106, 106, 106, 107, 115, 115, 116, 116, 117, 117, 117, 117, 117, 117, 118, 118, 118, 128, 128, 128, 129, 129, 129, 130, 130, 130, 130, 131, 131, 131, 141, 141, 141, 141, 141, 141, 142, 142, 142, 142, 142, 142, 154, 155, 155, 156, 156, 156, 157, 157, 158, 158}
)

// TestBurstsReadSlowlyNeverMoveTheLeg: a sender that bursts (ffmpeg -re
// sends 256 ms at once) and whose bursts reach the recorder spread over
// several wall slots (a transcoder or a reader slowed by CPU load) is not
// a leg that started late: its first packet, and the first of every burst,
// was on time. Each of its packets is written at its timestamp's slot,
// aligned with the other leg; none is late, lost or slipped. Before, the
// tail of a slow burst (three frames in three wall slots, ahead by more
// than the reorder window) passed for the on-time packets after a late
// start: the leg moved 80 to 140 ms earlier and as many packets were
// dropped as late (TestFFmpegPCMUToRecorder failed 1 run in 2 at load 9).
func TestBurstsReadSlowlyNeverMoveTheLeg(t *testing.T) {
	const n = 150
	// spread returns arrival instants for bursts of 256 ms read out at
	// per per frame, from the first frame of each burst.
	spread := func(per time.Duration) []time.Duration {
		at := make([]time.Duration, n)
		for i := range at {
			burst := time.Duration(i*20) * time.Millisecond / (256 * time.Millisecond)
			first := int((burst*256*time.Millisecond + 19*time.Millisecond) / (20 * time.Millisecond))
			at[i] = burst*256*time.Millisecond + time.Duration(i-first)*per
		}
		return at
	}
	measured := func(slots []int) []time.Duration {
		at := make([]time.Duration, n)
		for i, w := range slots {
			at[i] = time.Duration(w-slots[0])*recorder.SlotDuration + time.Duration(i)*time.Microsecond
		}
		return at
	}
	for _, c := range []struct {
		name string
		at   []time.Duration // arrival of customer packet i, from its first
	}{
		{"measured-load9-a", measured(slowBurstsA)},
		{"measured-load9-b", measured(slowBurstsB)},
		// Every burst read out at 10 ms a frame: its tail gains a slot
		// on the wall clock every other frame, never paced.
		{"bursts-at-10ms-a-frame", spread(10 * time.Millisecond)},
		{"bursts-at-once", spread(0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if len(c.at) != n {
				t.Fatalf("%d arrivals, want %d", len(c.at), n)
			}
			const start = 5 * time.Millisecond // both legs' first packets, on time
			metas, store := record(t, recorder.Config{Layout: recorder.LayoutMono}, func(rec *recorder.Recorder, cl, a *recorder.Leg) {
				var evs []simEvent
				for i := range n {
					evs = append(evs,
						simEvent{at: start + c.at[i], leg: cl, pkt: pkt(1, uint16(100+i), uint32(3000+i*960), marked(0, i))},
						simEvent{at: start + time.Duration(i)*recorder.SlotDuration, leg: a, pkt: pkt(2, uint16(7+i), uint32(5+i*960), marked(1, i))})
				}
				evs = append(evs, simEvent{at: start + c.at[n-1] + time.Second, fn: func() {}})
				run(t, evs)
			})
			var pos [2][]int
			for i, m := range metas {
				st := m.Legs[0]
				t.Logf("%s %+v", m.Channels[0], st)
				if st.Packets != n || st.Late != 0 || st.Slips != 0 || st.Lost != 0 || st.DTX != 0 {
					t.Errorf("%s: %+v, want %d packets written, none late, lost or slipped", m.Channels[0], st, n)
				}
				pos[i] = positions(t, store.Bytes(m.ID), byte(i), n)
			}
			bad := 0
			for i := range n {
				if d := pos[0][i] - pos[1][i]; pos[0][i] < 0 || pos[1][i] < 0 || d < -1 || d > 1 {
					if bad++; bad <= 5 {
						t.Errorf("packet %d: customer at slot %d, agent at slot %d", i, pos[0][i], pos[1][i])
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d packets more than one slot apart", bad, n)
			}
		})
	}
}
