package conf

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		ok   bool
	}{
		{"0", 0, true},
		{"512", 512, true},
		{"16KiB", 16 << 10, true},
		{"64MiB", 64 << 20, true},
		{"64mib", 64 << 20, true},
		{" 1 GiB ", 1 << 30, true},
		{"1MB", 1000000, true},
		{"10M", 10 << 20, true},
		{"1.5KiB", 1536, true},
		{"100B", 100, true},
		{"-1", 0, false},
		{"-1MiB", 0, false},
		{"", 0, false},
		{"MiB", 0, false},
		{"ten", 0, false},
		{"1XB", 0, false},
		{"99999999999TiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseSize(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if got != tt.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	for _, tt := range []struct {
		in   Size
		want string
	}{{0, "0"}, {1000, "1000"}, {1024, "1KiB"}, {64 << 20, "64MiB"}, {1536, "1536"}} {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1m30s", 90 * time.Second, true},
		{" 250ms ", 250 * time.Millisecond, true},
		{"30d", 30 * day, true},
		{"1w", 7 * day, true},
		{"1w2d3h", 9*day + 3*time.Hour, true},
		{"1d12h30m", day + 12*time.Hour + 30*time.Minute, true},
		{"0d", 0, true},
		{"5", 0, false},
		{"d", 0, false},
		{"3dd", 0, false},
		{"1.5d", 0, false},
		{"-1d", 0, false},
		{"99999999999d", 0, false},
		{"106751d", 106751 * day, true},
		{"106752d", 0, false},
		{"2000000000d", 0, false},
		{"106751d24h", 0, false},
		{"1d-1h", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && d.Duration != tt.want) {
			t.Errorf("%q: %v, %v; want %v (ok %v)", tt.in, d.Duration, err, tt.want, tt.ok)
		}
	}
}

// FuzzDuration checks the duration parser against time.ParseDuration: a
// string without days or weeks reads the same, and a leading "Nd" adds N
// days to what follows.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"10s", "1m30s", "30d", "1w2d3h", "3dd", "-1d", "1d-1h", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseDuration(s)
		if !strings.ContainsAny(s, "dw") {
			want, werr := time.ParseDuration(s)
			if (err == nil) != (werr == nil) || got != want {
				t.Fatalf("%q: %v, %v; time.ParseDuration gives %v, %v", s, got, err, want, werr)
			}
			return
		}
		if err != nil {
			return
		}
		if i := strings.IndexByte(s, 'd'); i > 0 && strings.Trim(s[:i], "0123456789") == "" && i+1 < len(s) && !strings.ContainsAny(s[i+1:], "dw") {
			n, _ := strconv.Atoi(s[:i])
			rest, rerr := time.ParseDuration(s[i+1:])
			if rerr != nil || got != time.Duration(n)*24*time.Hour+rest {
				t.Fatalf("%q: %v, want %d days and %v", s, got, n, rest)
			}
		}
	})
}
