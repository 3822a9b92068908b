package serve

import (
	"testing"
	"time"
)

// TestTrimDue: memory is returned once a burst of at least trimAfter
// connections has been parked and the parker has been quiet for trimQuiet,
// and at most once every trimEvery.
func TestTrimDue(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	quiet := now.Add(-2 * trimQuiet)
	tests := []struct {
		name        string
		parked      int
		trimmedWith int
		lastPark    time.Time
		lastWake    time.Time
		lastTrim    time.Time
		want        bool
	}{
		{"a burst, then quiet", trimAfter, 0, quiet, quiet, time.Time{}, true},
		{"a small burst", trimAfter - 1, 0, quiet, quiet, time.Time{}, false},
		{"still parking", 5 * trimAfter, 0, now.Add(-trimQuiet / 2), quiet, time.Time{}, false},
		{"still waking", 5 * trimAfter, 0, quiet, now.Add(-trimQuiet / 2), time.Time{}, false},
		{"trimmed a moment ago", 5 * trimAfter, 0, quiet, quiet, now.Add(-trimEvery / 2), false},
		{"trimmed long ago", 5 * trimAfter, 0, quiet, quiet, now.Add(-2 * trimEvery), true},
		{"no more than at the last trim", 5 * trimAfter, 5*trimAfter - 1, quiet, quiet, now.Add(-2 * trimEvery), false},
		{"fewer since, then a new burst", 2 * trimAfter, 5 * trimAfter, quiet, quiet, now.Add(-2 * trimEvery), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &parker{trimmedWith: tt.trimmedWith, lastWake: tt.lastWake, lastTrim: tt.lastTrim}
			p.lastPark.Store(tt.lastPark.UnixNano())
			if got := p.trimDue(tt.parked, now); got != tt.want {
				t.Fatalf("trimDue = %v, want %v", got, tt.want)
			}
			if tt.want && (p.trimmedWith != tt.parked || !p.lastTrim.Equal(now)) {
				t.Errorf("after a trim: trimmedWith %d, lastTrim %v", p.trimmedWith, p.lastTrim)
			}
		})
	}
	// After a drop in parked connections, a new burst counts from the low.
	p := &parker{trimmedWith: 5 * trimAfter, lastWake: quiet}
	p.lastPark.Store(quiet.UnixNano())
	p.trimDue(100, now)
	if !p.trimDue(100+trimAfter, now) {
		t.Error("a burst after parked connections went away is not trimmed")
	}
}
