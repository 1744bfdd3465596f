package recorder

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// Defaults of Writers.
const (
	// DefaultWriteGoroutines is how many goroutines write at most at once
	// by default. A page takes about 10 µs to reach a FileStore (the page
	// cache), so a few suffice for 10,000 legs (5,000-10,000 pages per
	// second: one page a second per file); a store with latency L per write
	// needs pages/s × L of them (10,000 legs on a 150 ms store: 750 in
	// dual-channel files, 1,500 in mono files).
	DefaultWriteGoroutines = 16
	// DefaultQueueBytes bounds the page bytes waiting to be written, all
	// recordings together. A queued page takes a buffer of 4 KiB (a mono
	// file at 24 kbit/s) or 8 KiB (a dual-channel one) for its second of
	// audio: 32 MiB hold about 0.8 s of 10,000 legs, 4 s of 2,000 (a store
	// stalling longer loses pages, counted). An eighth of it more may be
	// kept in spare buffers.
	DefaultQueueBytes = 32 << 20
	// DefaultRecordingQueueBytes bounds the page bytes waiting for one
	// recording (32 pages of 8 KiB: about 30 s of a call), so that one
	// stuck store or writer cannot fill the queue of every other
	// recording.
	DefaultRecordingQueueBytes = 256 << 10
)

// Writers writes the pages of recordings to their stores, off the media
// path: WriteRTP and the flush timer only build pages in memory and queue
// them; a small pool of goroutines writes them. A slow store never delays
// reading packets.
//
// Every recording gets a queue of its own, served by at most one goroutine
// at a time, so its writes happen in order: pages in stream order, each
// checkpoint (Writer.Sync, then Checkpointer.Checkpoint with the gap index
// so far) after the pages before it. Stop waits for the recording's queued
// pages (bounded by its ctx) before it writes the last page and finalizes;
// Discard drops them. A write error fails the recording as a synchronous one
// did: later pages of that file are not written, Stop (and Config.OnError)
// report it, and the file is not finalized (Recover finishes it).
//
// The queue is bounded in bytes, all recordings together (QueueBytes) and
// per recording (RecordingBytes). When a page is ready and the queue is
// full, the page is not queued: its audio is lost, and a run of silence
// pages takes its place (queued without bytes: one entry per run, however
// long), with the same sequence numbers and granule positions, so the file
// stays a valid, continuous Ogg Opus stream and every later page lands
// where it belongs. The loss is never silent: LegStats.Overload counts its
// 20 ms slots for each leg the page carried (its packets leave
// LegStats.Packets), and the gap index records the span with reason
// GapOverload. Whole pages are dropped rather than single packets: the
// queue holds whole pages (a copy of each, in buffers of the Writers'
// bounded pool, so a recording keeps only the page it builds), a dropped
// one costs nothing to keep, and the queue never reorders audio.
//
// The zero value is ready to use, with the defaults. Recorders share the
// Writers of their Config, else that of their Config.Clock, else the
// process's; its goroutines run only while pages wait (none when idle),
// and one more starts only when more recordings wait than goroutines are
// free to take them (all are inside writes: a slow store, or one stuck
// for a recording), so a fast store is served by one or two. Its
// methods are safe for concurrent use. A Writers must not be copied after
// first use.
type Writers struct {
	// Goroutines is the most goroutines writing at once. Zero:
	// DefaultWriteGoroutines.
	Goroutines int
	// QueueBytes bounds the bytes of the pages queued or being written.
	// Zero: DefaultQueueBytes.
	QueueBytes int64
	// RecordingBytes bounds the bytes queued for one recording. Zero:
	// DefaultRecordingQueueBytes (or QueueBytes if smaller).
	RecordingBytes int64

	mu        sync.Mutex
	ready     *wqueue // the queues with work and no goroutine serving them, first to serve first
	readyTail *wqueue
	nready    int // queues in ready
	writing   int // goroutines inside exec
	running   int
	queued    int64
	free      [qbufClasses][][]byte // spare buffers for queued pages, by size class
	freeBytes int64
	freeOps   *wop
	stats     WritersStats
}

// WritersStats counts what a Writers did since it was made.
type WritersStats struct {
	Pages       int64 // pages written
	Dropped     int64 // pages not queued because the queue was full (written as silence)
	Silence     int64 // silence pages written in place of dropped ones
	Checkpoints int64 // checkpoints written
	Queued      int64 // bytes queued or being written now
	MaxQueued   int64 // the most bytes ever queued at once
	Goroutines  int   // goroutines writing now
}

// Stats returns the counters.
func (p *Writers) Stats() WritersStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.Queued, st.Goroutines = p.queued, p.running
	return st
}

// processWriters serves the recorders whose Config names neither Writers
// nor a Clock.
var processWriters Writers

func (p *Writers) goroutines() int {
	if p.Goroutines > 0 {
		return p.Goroutines
	}
	return DefaultWriteGoroutines
}

func (p *Writers) limit() int64 {
	if p.QueueBytes > 0 {
		return p.QueueBytes
	}
	return DefaultQueueBytes
}

func (p *Writers) recordingLimit() int64 {
	if p.RecordingBytes > 0 {
		return p.RecordingBytes
	}
	return min(DefaultRecordingQueueBytes, p.limit())
}

// Queued operations.
const (
	opPage       = iota // write buf, one page
	opSilence           // write silence pages for granules [from, to)
	opCheckpoint        // Sync and Checkpoint every file of the recording
)

type wop struct {
	next   *wop
	kind   uint8
	stream uint8
	buf    []byte
	// opSilence: the first page's sequence number and the granule span.
	seq      uint32
	from, to int64
	fin      []Final // opCheckpoint: one per file
}

// wqueue is one recording's queue.
type wqueue struct {
	s          *session
	head, tail *wop
	next       *wqueue // in the ready list
	inReady    bool
	busy       bool // a goroutine is running one of its operations
	cancelled  bool
	bytes      int64
	err        [2]error // per file: the first write error
	run        [2]*wop  // per file: the silence run last queued, while it can grow
	idle       chan struct{}
}

// push appends op to q and makes sure a goroutine will serve q. Called
// with p.mu held.
func (p *Writers) push(q *wqueue, op *wop) {
	if q.tail == nil {
		q.head = op
	} else {
		q.tail.next = op
	}
	q.tail = op
	if q.busy || q.inReady {
		return
	}
	p.pushReady(q)
	// A goroutine not inside a write takes a ready queue next: one more
	// is started only when more queues wait than such goroutines (every
	// goroutine is writing: the store is slow, or stuck for one
	// recording). A fast store (the page cache) is served by one or two,
	// not by a crowd competing with the readers for the processors and
	// the lock.
	if p.nready > p.running-p.writing && p.running < p.goroutines() {
		p.running++
		go p.work()
	}
}

func (p *Writers) pushReady(q *wqueue) {
	q.inReady = true
	q.next = nil
	if p.readyTail == nil {
		p.ready = q
	} else {
		p.readyTail.next = q
	}
	p.readyTail = q
	p.nready++
}

func (p *Writers) popReady() *wqueue {
	q := p.ready
	if q == nil {
		return nil
	}
	p.ready = q.next
	if p.ready == nil {
		p.readyTail = nil
	}
	q.next, q.inReady = nil, false
	p.nready--
	return q
}

func (p *Writers) newOp() *wop {
	op := p.freeOps
	if op == nil {
		return &wop{}
	}
	p.freeOps = op.next
	op.next = nil
	return op
}

func (p *Writers) freeOp(op *wop) {
	*op = wop{next: p.freeOps}
	p.freeOps = op
}

// Queued pages are copies in buffers of size classes: 1 KiB, 2 KiB, ...
// 128 KiB (a page holds at most 65,307 bytes). Only the pages waiting or
// being written take them: each recording keeps only the page it builds.
const (
	qbufMin     = 1 << 10
	qbufClasses = 8
)

// qbufClass is the class of a buffer holding n bytes.
func qbufClass(n int) int {
	k := 0
	for k < qbufClasses-1 && qbufMin<<k < n {
		k++
	}
	return k
}

// qbufSize is the capacity of the buffer a page of n bytes is copied to.
func qbufSize(n int) int { return max(n, qbufMin<<qbufClass(n)) }

// getBuf returns an empty buffer for a page of n bytes.
func (p *Writers) getBuf(n int) []byte {
	l := &p.free[qbufClass(n)]
	if k := len(*l); k > 0 {
		b := (*l)[k-1]
		(*l)[k-1] = nil
		*l = (*l)[:k-1]
		p.freeBytes -= int64(cap(b))
		return b[:0]
	}
	return make([]byte, 0, qbufSize(n))
}

// putBuf keeps b for reuse, up to an eighth of the queue's bytes (what
// the pages in flight at once need: a few hundred KiB for 10,000 legs on a
// local disk).
func (p *Writers) putBuf(b []byte) {
	k := qbufClass(cap(b))
	if cap(b) != qbufMin<<k || p.freeBytes+int64(cap(b)) > p.limit()/8 {
		return
	}
	p.free[k] = append(p.free[k], b)
	p.freeBytes += int64(cap(b))
}

// work serves ready queues, one operation at a time (a queue goes back to
// the end of the line after each), and returns when none is left.
func (p *Writers) work() {
	p.mu.Lock()
	for {
		q := p.popReady()
		if q == nil {
			p.running--
			p.mu.Unlock()
			return
		}
		op := q.head
		if op == nil || q.cancelled {
			p.settle(q)
			continue
		}
		q.head = op.next
		if q.head == nil {
			q.tail = nil
		}
		i := op.stream
		if q.run[i] == op {
			q.run[i] = nil // being written: it can no longer grow
		}
		q.busy = true
		failed := q.err[i]
		p.writing++
		p.mu.Unlock()

		err := q.exec(op, failed)
		if err != nil {
			q.s.failAsync(err)
		}

		p.mu.Lock()
		p.writing--
		q.busy = false
		switch op.kind {
		case opPage:
			n := int64(cap(op.buf))
			q.bytes -= n
			p.queued -= n
			p.putBuf(op.buf)
			if failed == nil && err == nil {
				p.stats.Pages++
			}
		case opSilence:
			if failed == nil && err == nil {
				p.stats.Silence += silencePages(op.to - op.from)
			}
		case opCheckpoint:
			p.stats.Checkpoints++
		}
		if err != nil && op.kind != opCheckpoint && q.err[i] == nil {
			q.err[i] = err
		}
		p.freeOp(op)
		p.settle(q)
	}
}

// settle puts q back in line if it has more to write, else wakes whoever
// waits for it to drain. Called with p.mu held, q not busy.
func (p *Writers) settle(q *wqueue) {
	if q.head != nil && !q.cancelled {
		if !q.inReady {
			p.pushReady(q)
		}
		return
	}
	if q.idle != nil {
		close(q.idle)
		q.idle = nil
	}
}

// exec performs one operation without any lock. failed is the file's
// earlier write error: its pages are no longer written.
func (q *wqueue) exec(op *wop, failed error) error {
	s := q.s
	switch op.kind {
	case opPage:
		if failed != nil {
			return nil
		}
		h := op.buf
		binary.LittleEndian.PutUint32(h[22:], oggChecksum(0, h))
		_, err := s.writers[op.stream].Write(h)
		return err
	case opSilence:
		if failed != nil {
			return nil
		}
		st := s.streams[op.stream] // its serial and channels only: the rest is the producer's
		return writeSilence(s.writers[op.stream], st.serial, st.channels, op.seq, op.from, op.to)
	case opCheckpoint:
		var errs []error
		for i, w := range s.writers {
			c, ok := w.(Checkpointer)
			if !ok || q.err[i] != nil {
				continue
			}
			if err := w.Sync(); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := c.Checkpoint(context.Background(), op.fin[i]); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("checkpoint: %w", errors.Join(errs...))
		}
	}
	return nil
}

// wait returns once every operation queued for q is done, or ctx is done.
func (p *Writers) wait(ctx context.Context, q *wqueue) error {
	p.mu.Lock()
	if q.head == nil && !q.busy {
		p.mu.Unlock()
		return nil
	}
	ch := q.idle
	if ch == nil {
		ch = make(chan struct{})
		q.idle = ch
	}
	n := q.bytes
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %d queued bytes to be written: %w", n, ctx.Err())
	}
}

// fileErr returns the write error of file i of q, if any.
func (p *Writers) fileErr(q *wqueue, i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return q.err[i]
}

// cancel drops the operations queued for q (Discard); one being written
// goes on.
func (p *Writers) cancel(q *wqueue) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q.cancelled = true
	for op := q.head; op != nil; {
		next := op.next
		if op.kind == opPage {
			n := int64(cap(op.buf))
			q.bytes -= n
			p.queued -= n
			p.putBuf(op.buf)
		}
		p.freeOp(op)
		op = next
	}
	q.head, q.tail, q.run = nil, nil, [2]*wop{}
	if !q.busy {
		p.settle(q)
	}
}

// silencePages is how many pages a silence run of n samples takes: one
// per second (50 packets of 20 ms), the last one shorter.
func silencePages(n int64) int64 { return (n + pageSamples - 1) / pageSamples }
