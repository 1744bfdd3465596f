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
// no wait for the disk); it runs on a goroutine of its own, never on the
// packet path, and only while files are open.
type writeOut struct {
	every time.Duration                  // each file's period
	do    func(f *os.File, off, n int64) // starts a write-out (writeBehind; tests record)

	mu      sync.Mutex
	files   []*fileWriter
	pos     int
	running bool
	stop    chan struct{}
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
	if !o.running {
		o.running = true
		o.stop = make(chan struct{})
		go o.run(o.stop)
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
	w.woAt = -1
	if len(o.files) == 0 && o.running {
		o.running = false
		close(o.stop)
	}
}

func (o *writeOut) run(stop chan struct{}) {
	t := time.NewTicker(writeOutTick)
	defer t.Stop()
	var batch []*fileWriter
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		o.mu.Lock()
		n := len(o.files)
		k := min(n, (n*int(writeOutTick)+int(o.every)-1)/int(o.every)) // every file once a period
		batch = batch[:0]
		for range k {
			if o.pos >= n {
				o.pos = 0
			}
			batch = append(batch, o.files[o.pos])
			o.pos++
		}
		o.mu.Unlock()
		for i, w := range batch {
			// woBehind is this goroutine's alone; the file may be closed
			// meanwhile (writeBehind then does nothing).
			if end := w.written.Load(); end > w.woBehind {
				o.do(w.f, w.woBehind, end-w.woBehind)
				w.woBehind = end
			}
			batch[i] = nil
		}
	}
}
