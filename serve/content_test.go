package serve

import "testing"

// TestAcceptsGzip: "*" stands only for the codings the field does not
// name (RFC 9110 12.5.3), so an explicit gzip entry decides wherever it
// stands.
func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"", false},
		{"gzip", true},
		{"GZip", true},
		{"x-gzip", true},
		{"deflate, br", false},
		{"*", true},
		{"*;q=0", false},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0.5", true},
		{"gzip;q=0, *", false},
		{"*, gzip;q=0", false},
		{"gzip, *;q=0", true},
		{"*;q=0, gzip", true},
		{"x-gzip;q=0, *;q=1", false},
		{"br, *;q=0.1", true},
		{"identity;q=0, *;q=0", false},
		{"gzip;q=0, x-gzip", true},
	}
	for _, tt := range tests {
		if got := acceptsGzip([]byte(tt.v)); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
	v := []byte("br;q=1.0, gzip;q=0.8, *;q=0.1")
	if n := testing.AllocsPerRun(100, func() { acceptsGzip(v) }); n != 0 {
		t.Errorf("acceptsGzip allocates %v times, want 0", n)
	}
}
