package notice

import (
	"context"
	"fmt"
	"math"
	"time"
)

// BeepPrompt returns a tone prompt: freq Hz for dur, at 48 kHz, at -12 dBFS
// with 10 ms fades so it does not click. Zero values give the usual
// recording beep, 1400 Hz for 200 ms.
func BeepPrompt(freq float64, dur time.Duration) (*Prompt, error) {
	if freq == 0 {
		freq = 1400
	}
	if dur == 0 {
		dur = 200 * time.Millisecond
	}
	if freq < 100 || freq > 3800 || dur < 20*time.Millisecond || dur > 5*time.Second {
		return nil, fmt.Errorf("notice: beep of %g Hz for %v: %w", freq, dur, ErrFormat)
	}
	const rate = 48000
	n := int(dur * rate / time.Second)
	fade := rate / 100
	pcm := make([]int16, n)
	amp := 32767 * math.Pow(10, -12.0/20)
	for i := range pcm {
		g := 1.0
		if i < fade {
			g = float64(i) / float64(fade)
		} else if n-i < fade {
			g = float64(n-i) / float64(fade)
		}
		pcm[i] = int16(math.Round(amp * g * math.Sin(2*math.Pi*freq*float64(i)/rate)))
	}
	return NewPCMPrompt(fmt.Sprintf("beep-%gHz-%dms", freq, dur.Milliseconds()), pcm, rate)
}

// Beeper plays a short tone periodically while a call is recorded, so both
// parties keep knowing it (Asterisk's MixMonitor B() option). The zero value
// beeps every 15 s.
type Beeper struct {
	Interval time.Duration // default 15 s; at least 1 s
}

// Run streams beep into sink at once and then every Interval, until ctx is
// done; it then returns nil. It returns the sink's error if one fails. The
// sink must be free for the beep's duration (a mixer, or a track carrying
// nothing else). Run is usually started when recording starts and canceled
// when it stops.
func (b Beeper) Run(ctx context.Context, beep *Prepared, sink FrameSink) error {
	iv := b.Interval
	if iv == 0 {
		iv = 15 * time.Second
	}
	if iv < time.Second {
		return fmt.Errorf("notice: beeper: interval %v under 1s: %w", iv, ErrFormat)
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		if _, err := Stream(ctx, beep, sink); err != nil {
			return fmt.Errorf("notice: beeper: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
