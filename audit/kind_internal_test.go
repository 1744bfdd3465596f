package audit

import (
	"strings"
	"testing"
)

// Every kind has a name: a kind added to event.go without one would print
// as "kind-N" in audit show and receipts.
func TestEveryKindNamed(t *testing.T) {
	seen := map[string]Kind{}
	for k := KindUnknown + 1; k < kindEnd; k++ {
		name := k.String()
		if name == "" || strings.HasPrefix(name, "kind-") {
			t.Errorf("kind %d has no name", k)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("kinds %d and %d share the name %q", other, k, name)
		}
		seen[name] = k
	}
}
