package audittest

import (
	"slices"

	"github.com/consentrec/consentrec/audit"
)

// Events returns a copy of the events appended so far, in index order. It
// is safe to call while others append.
func (m *MemLog) Events() []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.Appended)
}

// Kinds returns the kinds of the events appended so far, in index order.
func (m *MemLog) Kinds() []audit.Kind {
	m.mu.Lock()
	defer m.mu.Unlock()
	ks := make([]audit.Kind, len(m.Appended))
	for i, e := range m.Appended {
		ks[i] = e.Kind
	}
	return ks
}

// OfKind returns the events of kind k appended so far, in index order.
func (m *MemLog) OfKind(k audit.Kind) []audit.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Event
	for _, e := range m.Appended {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}
