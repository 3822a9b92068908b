package ssi

import (
	"strings"
	"testing"
	"time"
)

// TestFormatTime compares formatTime with glibc's strftime in the C locale;
// the expected strings were produced by C's strftime.
func TestFormatTime(t *testing.T) {
	const f = "%A %a %B %b|%c|%d %e %H %I %j %k %l %M %m %p %S|%U %W %w|%x %X %y %Y %Z %z %% %D %F %T %R %r %h %C %G %g %V %u"
	gmt := time.FixedZone("GMT", 0)
	tests := []struct {
		unix int64
		want string
	}{
		{1580702706, "Monday Mon February Feb|Mon Feb  3 04:05:06 2020|03  3 04 04 034  4  4 05 02 AM 06|05 05 1|02/03/20 04:05:06 20 2020 GMT +0000 % 02/03/20 2020-02-03 04:05:06 04:05 04:05:06 AM Feb 20 2020 20 06 1"},
		{0, "Thursday Thu January Jan|Thu Jan  1 00:00:00 1970|01  1 00 12 001  0 12 00 01 AM 00|00 00 4|01/01/70 00:00:00 70 1970 GMT +0000 % 01/01/70 1970-01-01 00:00:00 00:00 12:00:00 AM Jan 19 1970 70 01 4"},
		{1709993109, "Saturday Sat March Mar|Sat Mar  9 14:05:09 2024|09  9 14 02 069 14  2 05 03 PM 09|09 10 6|03/09/24 14:05:09 24 2024 GMT +0000 % 03/09/24 2024-03-09 14:05:09 14:05 02:05:09 PM Mar 20 2024 24 10 6"},
		{1704067200, "Monday Mon January Jan|Mon Jan  1 00:00:00 2024|01  1 00 12 001  0 12 00 01 AM 00|00 01 1|01/01/24 00:00:00 24 2024 GMT +0000 % 01/01/24 2024-01-01 00:00:00 00:00 12:00:00 AM Jan 20 2024 24 01 1"},
		{1735603200, "Tuesday Tue December Dec|Tue Dec 31 00:00:00 2024|31 31 00 12 366  0 12 00 12 AM 00|52 53 2|12/31/24 00:00:00 24 2024 GMT +0000 % 12/31/24 2024-12-31 00:00:00 00:00 12:00:00 AM Dec 20 2025 25 01 2"},
		{951782400, "Tuesday Tue February Feb|Tue Feb 29 00:00:00 2000|29 29 00 12 060  0 12 00 02 AM 00|09 09 2|02/29/00 00:00:00 00 2000 GMT +0000 % 02/29/00 2000-02-29 00:00:00 00:00 12:00:00 AM Feb 20 2000 00 09 2"},
		{1230681600, "Wednesday Wed December Dec|Wed Dec 31 00:00:00 2008|31 31 00 12 366  0 12 00 12 AM 00|52 52 3|12/31/08 00:00:00 08 2008 GMT +0000 % 12/31/08 2008-12-31 00:00:00 00:00 12:00:00 AM Dec 20 2009 09 01 3"},
	}
	for _, tt := range tests {
		if got := formatTime(time.Unix(tt.unix, 0).In(gmt), f); got != tt.want {
			t.Errorf("formatTime(%d):\ngot  %q\nwant %q", tt.unix, got, tt.want)
		}
	}
	odd := []struct{ format, want string }{
		{"%s", "1580702706"},
		{"100%", "100%"},
		{"%Q|%-d|%Ey|%Od", "%Q|3|20|03"},
		{"", ""},
		{"%%%%", "%%"},
		// GNU flags and widths (glibc 2.36).
		{"%P|%_d|%0e|%^a|%#b|%10Y|%#p|%^P", "am| 3|03|MON|FEB|0000002020|am|am"},
		{"%-5d|%_5d|%05a|%10Q|%5%|%E%|%_%|%5", "    3|    3|00Mon|      %10Q|    %|%|%|   %5"},
		{"%10z|%-10z|%010z|%#Z|%^10c|%#c", "         +0000000000|         +         0|000000000+0000000000|gmt|MON FEB  3 04:05:06 2020|Mon Feb  3 04:05:06 2020"},
		{"%012s|%-12s|%Ea|%#Eb|%OB|%OC|%OY", "001580702706|  1580702706|%Ea|%#EB|February|20|%OY"},
		// Longer than Apache's buffer: what came before the piece that
		// did not fit.
		{"ab%9000Y", "ab"},
		{"ab%8189Y", "ab" + strings.Repeat("0", 8185) + "2020"},
	}
	for _, tt := range odd {
		if got := formatTime(time.Unix(1580702706, 0).In(gmt), tt.format); got != tt.want {
			t.Errorf("formatTime(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

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
