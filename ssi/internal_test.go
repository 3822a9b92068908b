package ssi

import "testing"

// TestFormatAbbrev checks sizes against apr_strfsize.
func TestFormatAbbrev(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{-1, "  - "}, {0, "  0 "}, {1, "  1 "}, {972, "972 "}, {973, "1.0K"}, {999, "1.0K"},
		{1024, "1.0K"}, {1536, "1.5K"}, {9 * 1024, "9.0K"}, {9*1024 + 972, "9.9K"},
		{9*1024 + 973, " 10K"}, {10240, " 10K"}, {102400, "100K"}, {996147, "973K"},
		{1048575, "1.0M"}, {1048576, "1.0M"}, {1153434, "1.1M"}, {10485760, " 10M"},
		{1 << 30, "1.0G"}, {5 << 40, "5.0T"}, {1 << 62, "4.0E"},
	}
	for _, tt := range tests {
		if got := formatAbbrev(tt.n); got != tt.want {
			t.Errorf("formatAbbrev(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	for _, n := range []int64{0, 1, 999, 1000, 1234567, -1234} {
		got := formatBytes(n)
		want := map[int64]string{0: "0", 1: "1", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"}[n]
		if got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestLegacyTokens checks the tokenizer's escapes and quotes.
func TestLegacyTokens(t *testing.T) {
	tests := []struct{ in, want string }{
		{`a\=b`, "a=b"},
		{`'a b'`, "a b"},
		{`'a\'b'`, "a'b"},
		{`a\`, `a\`},
		{`'open`, ""},
		{`/x\/y/`, "x/y"},
		{`a&b`, "a&b"},
	}
	for _, tt := range tests {
		tok, _, ok := lexLegacy(tt.in)
		if !ok || tok.val != tt.want {
			t.Errorf("lexLegacy(%q) = %q, %v; want %q", tt.in, tok.val, ok, tt.want)
		}
	}
}
