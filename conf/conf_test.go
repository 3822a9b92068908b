package conf

import (
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
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d.Duration != 90*time.Second {
		t.Errorf("got %v, %v; want 1m30s", d, err)
	}
	if err := d.UnmarshalText([]byte("5")); err == nil {
		t.Errorf("bare number accepted as a duration")
	}
}
