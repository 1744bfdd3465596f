package rtpudp

import (
	"math/rand/v2"
	"testing"
)

// The table agrees with a Go map over random sequences of puts, gets and
// deletes, with few distinct SSRCs (long probe runs, deletions inside
// them) and many; it grows and empties.
func TestSSRCTable(t *testing.T) {
	for _, keys := range []uint32{8, 40, 5000} {
		rng := rand.New(rand.NewPCG(uint64(keys), 1))
		var tab ssrcTable
		ref := map[uint32]*stream{}
		streams := make([]stream, 64)
		for op := range 200000 {
			k := rng.Uint32N(keys) * 0x10001 // clustered keys too
			switch rng.IntN(3) {
			case 0:
				st := &streams[rng.IntN(len(streams))]
				tab.put(k, st)
				ref[k] = st
			case 1:
				tab.del(k)
				delete(ref, k)
			}
			if got := tab.get(k); got != ref[k] {
				t.Fatalf("keys %d op %d: get(%d) = %p, want %p", keys, op, k, got, ref[k])
			}
			if tab.n != len(ref) {
				t.Fatalf("keys %d op %d: %d entries, want %d", keys, op, tab.n, len(ref))
			}
		}
		for k, st := range ref {
			if tab.get(k) != st {
				t.Fatalf("keys %d: get(%d) wrong at the end", keys, k)
			}
			tab.del(k)
		}
		if tab.n != 0 || tab.get(1) != nil || tab.addr(1) != 0 {
			t.Fatalf("keys %d: table not empty after deleting all: %d", keys, tab.n)
		}
	}
}

func BenchmarkSSRCTable(b *testing.B) {
	var tab ssrcTable
	m := map[uint32]*stream{}
	st := &stream{}
	keys := make([]uint32, 10000)
	for i := range keys {
		keys[i] = rand.Uint32()
		tab.put(keys[i], st)
		m[keys[i]] = st
	}
	b.Run("table", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if tab.get(keys[i%len(keys)]) == nil {
				b.Fatal("missing")
			}
			i += 7919
		}
	})
	b.Run("map", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if m[keys[i%len(keys)]] == nil {
				b.Fatal("missing")
			}
			i += 7919
		}
	})
}
