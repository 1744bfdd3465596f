package recorder

import (
	"sync"
	"time"
)

// wheelSlots is how many groups a Clock's recordings are spread over: one
// group is flushed every tickEvery/wheelSlots (10 ms), so each recording
// is flushed every tickEvery and the work never comes all at once.
const wheelSlots = 25

// Clock drives the periodic flush (the writing of slots whose reorder
// window has passed, pages reaching storage while every leg is silent) of
// every Recorder whose Config names it, from one ticker and one goroutine,
// instead of one timer per Recorder. Share one Clock among all the calls of
// a process that records thousands at once. A recording that got packets
// since its last flush is skipped: its packets wrote what had become due
// (each advances the writing before it is placed), so an active recording
// costs the Clock one atomic swap a flush period; one that went silent is
// flushed again at its next turn.
//
// The goroutine runs only while a recording is in progress; a Clock
// needs no closing. Its methods are safe for concurrent use. A recording's
// flush runs on the Clock's goroutine under that recording's lock; it only
// queues pages: the Clock's Writers (unless Config.Writers names others)
// write them, so a slow Store delays no flush.
type Clock struct {
	writers Writers

	mu      sync.Mutex
	wheel   [wheelSlots][]*session
	pos     int // the group flushed next
	rr      int // the group the next recording joins
	n       int
	running bool
	stop    chan struct{} // closed when the last recording leaves: the goroutine exits at once
}

// NewClock returns a Clock with no recording.
func NewClock() *Clock { return &Clock{} }

func (c *Clock) add(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.wheelAt = c.rr
	c.rr = (c.rr + 1) % wheelSlots
	c.wheel[s.wheelAt] = append(c.wheel[s.wheelAt], s)
	c.n++
	if !c.running {
		c.running = true
		c.stop = make(chan struct{})
		go c.run(c.stop)
	}
}

func (c *Clock) remove(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.wheel[s.wheelAt]
	for i, x := range g {
		if x == s {
			g[i] = g[len(g)-1]
			g[len(g)-1] = nil
			c.wheel[s.wheelAt] = g[:len(g)-1]
			c.n--
			if c.n == 0 && c.running {
				c.running = false
				close(c.stop)
			}
			return
		}
	}
}

func (c *Clock) run(stop chan struct{}) {
	t := time.NewTicker(tickEvery / wheelSlots)
	defer t.Stop()
	var batch []*session
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		if c.n == 0 {
			c.mu.Unlock()
			return
		}
		batch = append(batch[:0], c.wheel[c.pos]...)
		c.pos = (c.pos + 1) % wheelSlots
		c.mu.Unlock()
		for i, s := range batch {
			batch[i] = nil
			if s.active.Swap(false) && !s.failed.Load() {
				// Packets came since the last flush: each wrote what
				// had become due (receive advances first), and the
				// next one will. Flushing would only cost the misses
				// of a recording whose state no cache holds any more.
				continue
			}
			s.onTick()
		}
	}
}
