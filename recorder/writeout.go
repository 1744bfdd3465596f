package recorder

import (
	"os"
	"sync"
	"time"
)

// writeOut starts the kernel's write-out of what a FileStore's open files
// were written, a few files at a time, so that every file's bytes are
// handed over within writeOutEvery of being written. Without it the
// kernel writes them back when they are 30 s old (vm.dirty_expire), all
// at once: at 10,000 legs on ext4, some 700 MB in two seconds, whose
// write-out took the CPU the readers needed (196,000 datagrams dropped).
// The write-out is asynchronous (sync_file_range SYNC_FILE_RANGE_WRITE,
// no wait for the disk); it runs from a timer, never on the packet path,
// and only while files are open.
type writeOut struct {
	every time.Duration                  // each file's period
	do    func(f *os.File, off, n int64) // starts a write-out (writeBehind; tests record)

	mu    sync.Mutex
	files []*fileWriter
	pos   int
	timer *time.Timer // runs while files are open; a timer, not a goroutine: a store abandoned open (a crash) holds none

	tickMu sync.Mutex // one tick at a time
	batch  []*fileWriter
}

const (
	writeOutEvery = 5 * time.Second
	writeOutTick  = 100 * time.Millisecond
)

func newWriteOut() *writeOut {
	if !writeBehindSupported {
		return nil
	}
	return &writeOut{every: writeOutEvery, do: writeBehind}
}

func (o *writeOut) add(w *fileWriter) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	w.woAt = len(o.files)
	o.files = append(o.files, w)
	switch {
	case len(o.files) > 1: // the timer runs
	case o.timer == nil:
		o.timer = time.AfterFunc(writeOutTick, o.tick)
	default:
		o.timer.Reset(writeOutTick)
	}
}

func (o *writeOut) remove(w *fileWriter) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	i := w.woAt
	if i < 0 || i >= len(o.files) || o.files[i] != w {
		return
	}
	last := len(o.files) - 1
	o.files[i] = o.files[last]
	o.files[i].woAt = i
	o.files[last] = nil
	o.files = o.files[:last]
	if len(o.files) == 0 {
		o.timer.Stop()
	}
}

// tick starts the write-out of the next few files' new bytes: every file
// once a period.
func (o *writeOut) tick() {
	o.tickMu.Lock()
	defer o.tickMu.Unlock()
	o.mu.Lock()
	n := len(o.files)
	k := min(n, (n*int(writeOutTick)+int(o.every)-1)/int(o.every))
	batch := o.batch[:0]
	for range k {
		if o.pos >= n {
			o.pos = 0
		}
		batch = append(batch, o.files[o.pos])
		o.pos++
	}
	o.mu.Unlock()
	for i, w := range batch {
		// woBehind is the ticks' alone; the file may be closed meanwhile
		// (writeBehind then does nothing).
		if end := w.n.Load(); end > w.woBehind {
			o.do(w.f, w.woBehind, end-w.woBehind)
			w.woBehind = end
		}
		batch[i] = nil
	}
	o.batch = batch
	o.mu.Lock()
	if len(o.files) > 0 {
		o.timer.Reset(writeOutTick)
	}
	o.mu.Unlock()
}
