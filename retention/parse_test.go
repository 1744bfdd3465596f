package retention_test

import (
	"errors"
	"testing"
	"time"

	"github.com/consentrec/consentrec/retention"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                          now,
		"now":                       now,
		"2026-07-01":                time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
		"2026-07-01T10:00:00":       time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC),
		"2026-07-01T10:00:00+02:00": time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC),
		"2026-07-01T10:00:00.5Z":    time.Date(2026, 7, 1, 10, 0, 0, 5e8, time.UTC),
		"+P30D":                     time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC),
		"+P1M":                      time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC), // time.AddDate normalises Feb 31
		"+72h":                      now.Add(72 * time.Hour),
	} {
		got, err := retention.ParseTime(in, now)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"tomorrow", "+P", "+-3h", "2026-13-01", "+PXD", "1e9"} {
		if _, err := retention.ParseTime(in, now); !errors.Is(err, retention.ErrInvalid) {
			t.Errorf("ParseTime(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "now", "2026-07-01", "2026-07-01T10:00:00+02:00", "+P6M", "+P1Y2M3D", "+72h", "+P99999999Y"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := retention.ParseTime(s, now)
		if err != nil {
			if !errors.Is(err, retention.ErrInvalid) {
				t.Fatalf("ParseTime(%q): error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, got)
		}
	})
}
