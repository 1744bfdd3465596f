package policy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/consentrec/consentrec/internal/atomicfile"
)

// CounterKey names one count: a rule of a policy, an agent (empty for
// per-policy caps) and the start of a calendar period (Unix seconds).
type CounterKey struct {
	Policy string // policy version
	Rule   int    // index of the rule in the policy
	Agent  string // agent id for grids, "" for caps
	Period int64  // start of the period, Unix seconds UTC
}

// Counter keeps the counts behind caps and grids.
//
// Implementations must be safe for concurrent use: Take is atomic, so that
// concurrent decisions never push a count above its limit. ctx bounds any
// I/O; on error, Take reports false and the count is unchanged or, for
// durable counters, it is unknown whether the increment persisted (callers
// then do not record, erring on the side of privacy).
type Counter interface {
	// Take increments the count of key by one if it is below limit and
	// reports whether it did.
	Take(ctx context.Context, key CounterKey, limit int64) (bool, error)
	// Count returns the count of key (0 if never taken).
	Count(ctx context.Context, key CounterKey) (int64, error)
}

// MemCounter is an in-memory Counter. The zero value is ready to use.
// Counts are lost when the process exits; see FileCounter.
type MemCounter struct {
	mu sync.Mutex
	m  map[CounterKey]int64
}

var _ Counter = (*MemCounter)(nil)

// Take implements Counter.
func (c *MemCounter) Take(ctx context.Context, key CounterKey, limit int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[CounterKey]int64)
	}
	if c.m[key] >= limit {
		return false, nil
	}
	c.m[key]++
	return true, nil
}

// Count implements Counter.
func (c *MemCounter) Count(ctx context.Context, key CounterKey) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key], nil
}

// FileCounter is a Counter persisted to an append-only file: each Take that
// succeeds appends one line and syncs it before returning, so caps and grids
// survive restarts. A torn last line (a crash mid-write) is ignored on open:
// that increment was never acknowledged.
type FileCounter struct {
	mu  sync.Mutex
	mem MemCounter
	f   *os.File
}

var _ Counter = (*FileCounter)(nil)

// ErrCounterCorrupt reports a counter file line that is not a valid record
// (other than a torn last line).
var ErrCounterCorrupt = errors.New("counter file corrupt")

// OpenFileCounter opens (creating if needed) the counter file at path.
func OpenFileCounter(path string) (*FileCounter, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open counter: %w", err)
	}
	c := &FileCounter{f: f}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<20)
	var good int64
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		k, ok := parseCounterLine(text)
		if !ok {
			break
		}
		c.mem.m = initMap(c.mem.m)
		c.mem.m[k]++
		good += int64(len(text)) + 1
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("open counter: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open counter: %w", err)
	}
	if good < st.Size() {
		// Only a torn tail without its newline may be dropped.
		rest := make([]byte, st.Size()-good)
		if _, err := f.ReadAt(rest, good); err != nil {
			f.Close()
			return nil, fmt.Errorf("open counter: %w", err)
		}
		if strings.IndexByte(string(rest), '\n') >= 0 {
			f.Close()
			return nil, fmt.Errorf("open counter: line %d: %w", line, ErrCounterCorrupt)
		}
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("open counter: trim torn tail: %w", err)
		}
	}
	if _, err := f.Seek(0, 2); err != nil {
		f.Close()
		return nil, fmt.Errorf("open counter: %w", err)
	}
	return c, nil
}

func initMap(m map[CounterKey]int64) map[CounterKey]int64 {
	if m == nil {
		return make(map[CounterKey]int64)
	}
	return m
}

func parseCounterLine(s string) (CounterKey, bool) {
	parts := strings.Split(s, "\t")
	if len(parts) != 4 {
		return CounterKey{}, false
	}
	rule, err1 := strconv.Atoi(parts[1])
	agent, err2 := strconv.Unquote(parts[2])
	period, err3 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return CounterKey{}, false
	}
	return CounterKey{Policy: parts[0], Rule: rule, Agent: agent, Period: period}, true
}

// Take implements Counter. It returns once the increment is synced to disk.
func (c *FileCounter) Take(ctx context.Context, key CounterKey, limit int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if strings.ContainsAny(key.Policy, "\t\n") {
		return false, fmt.Errorf("counter take: policy %q: %w", key.Policy, ErrCounterCorrupt)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return false, errors.New("counter take: closed")
	}
	if n, _ := c.mem.Count(ctx, key); n >= limit {
		return false, nil
	}
	line := key.Policy + "\t" + strconv.Itoa(key.Rule) + "\t" + strconv.Quote(key.Agent) + "\t" + strconv.FormatInt(key.Period, 10) + "\n"
	if _, err := c.f.WriteString(line); err != nil {
		return false, fmt.Errorf("counter take: %w", err)
	}
	if err := c.f.Sync(); err != nil {
		return false, fmt.Errorf("counter take: sync: %w", err)
	}
	_, err := c.mem.Take(ctx, key, limit)
	return true, err
}

// Count implements Counter.
func (c *FileCounter) Count(ctx context.Context, key CounterKey) (int64, error) {
	return c.mem.Count(ctx, key)
}

// Close closes the file.
func (c *FileCounter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

// Prune forgets the counts of periods that started before cutoff (their
// caps and grids can no longer apply) and compacts the file: it is
// rewritten atomically (temporary file, sync, rename, directory sync), so a
// crash leaves either the old file or the new one. It returns how many
// counts it dropped.
func (c *FileCounter) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return 0, errors.New("counter prune: closed")
	}
	c.mem.mu.Lock()
	defer c.mem.mu.Unlock()
	var b strings.Builder
	dropped := 0
	for k, n := range c.mem.m {
		if k.Period < cutoff.Unix() {
			dropped++
			continue
		}
		line := k.Policy + "\t" + strconv.Itoa(k.Rule) + "\t" + strconv.Quote(k.Agent) + "\t" + strconv.FormatInt(k.Period, 10) + "\n"
		for range n {
			b.WriteString(line)
		}
	}
	if dropped == 0 {
		return 0, nil
	}
	path := c.f.Name()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("counter prune: %w", err)
	}
	_, err = f.WriteString(b.String())
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("counter prune: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("counter prune: %w", err)
	}
	// The new file is in place: use it from now on, whatever follows.
	c.f.Close()
	c.f = f
	for k := range c.mem.m {
		if k.Period < cutoff.Unix() {
			delete(c.mem.m, k)
		}
	}
	if _, err := f.Seek(0, 2); err != nil {
		return dropped, fmt.Errorf("counter prune: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return dropped, fmt.Errorf("counter prune: the compacted file may not survive a crash: %w", err)
	}
	return dropped, nil
}
