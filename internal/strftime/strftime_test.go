package strftime

import (
	"bytes"
	"errors"
	"go/build"
	"strings"
	"testing"
	"time"
)

// TestFormat compares Format with glibc's strftime in the C locale; the
// expected strings were produced by C's strftime.
func TestFormat(t *testing.T) {
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
		if got := Format(f, time.Unix(tt.unix, 0).In(gmt)); got != tt.want {
			t.Errorf("Format(%d):\ngot  %q\nwant %q", tt.unix, got, tt.want)
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
		if got := Format(tt.format, time.Unix(1580702706, 0).In(gmt)); got != tt.want {
			t.Errorf("Format(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

// TestAppendFormat checks that AppendFormat keeps what dst holds and bounds
// only what it appends, and prints a time in its own location.
func TestAppendFormat(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+30*60)
	tm := time.Date(2026, time.November, 22, 4, 7, 56, 92667000, ist)
	prefix := strings.Repeat("p", 100)
	tests := []struct{ layout, want string }{
		{"%d/%b/%Y:%H:%M:%S %z", "22/Nov/2026:04:07:56 +0530"},
		{"%Z %s %c", "IST 1795300676 Sun Nov 22 04:07:56 2026"},
		{"%Ey %Od %5d %_H %^a %#Z", "26 22 00022  4 SUN ist"},
		{"[%12T] [%-12T] [%^12c] [%012D]", "[    04:07:56] [    04:07:56] [SUN NOV 22 04:07:56 2026] [000011/22/26]"},
		{"ab%8189Y", "ab" + strings.Repeat("0", 8185) + "2026"},
		{"ab%8190Y", "ab" + strings.Repeat("0", 8186)}, // the padding fits, the number does not
		{"ab%8194Y", "ab"},
		{strings.Repeat("x", MaxLen), strings.Repeat("x", MaxLen-1)},
		{"ab%8190c", "ab"},
		{"%4100z|", strings.Repeat(" ", 4099) + "+"},
	}
	for _, tt := range tests {
		got := string(AppendFormat([]byte(prefix), tt.layout, tm))
		if got != prefix+tt.want {
			t.Errorf("AppendFormat(%.20q) = %.40q..., want %.40q...", tt.layout, got[len(prefix):], tt.want)
		}
	}
}

// TestAppendFormatAllocs checks that AppendFormat allocates nothing when
// dst has room, for every conversion and flag.
func TestAppendFormatAllocs(t *testing.T) {
	const layout = "%A %a %B %b|%c|%d %e %H %I %j %k %l %M %m %p %S|%U %W %w|%x %X %y %Y %Z %z %% %D %F %T %R %r %h %C %G %g %V %u %s|%^30c|%-10Y %_10s %010z %#Z %P %Q"
	tm := time.Date(2026, time.November, 22, 4, 7, 56, 0, time.FixedZone("IST", 5*3600+30*60))
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = AppendFormat(buf[:0], layout, tm) }); n != 0 {
		t.Errorf("got %v allocations per call, want 0", n)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		layout string
		want   string // in the error message; "" for none
	}{
		{"", ""},
		{"%d/%b/%Y:%H:%M:%S %z", ""},
		{"%Y-%m-%dT%H:%M:%S", ""},
		{"100%% %n%t", ""},
		{"%_d %-d %^a %#b %10Y %Ey %Od %EC %c %+", `"%+" at byte 36 of the format: unknown conversion`},
		{"%_d %-d %^a %#b %10Y %Ey %Od %EC %c", ""},
		{"%Q", `"%Q" at byte 0 of the format: unknown conversion`},
		{"%H:%M:%q", `"%q" at byte 6 of the format: unknown conversion`},
		{"%5Q", `"%5Q" at byte 0 of the format: unknown`},
		{"%Ea", `"%Ea" at byte 0 of the format: the E modifier does not apply to %a`},
		{"%OY", "the O modifier does not apply to %Y"},
		{"100%", `"%" at byte 3 of the format: a % at the end`},
		{"%H%_5", `"%_5" at byte 2 of the format: a % at the end`},
		{"%E", "a % at the end"},
		{"%8191Y", ""},
		{"%8192Y", `"%8192Y" at byte 0 of the format: the text may be longer than 8191 bytes`},
		{"ab%8190Y", `"%8190Y" at byte 2 of the format: the text may be longer than 8191 bytes`},
		{"%8191c", ""},
		{"%8192c", "longer than 8191 bytes"},
		{"%%%8190c", ""},
		{"%8190cx", ""},
		{"%8190cxy", `"y" at byte 7 of the format: the text may be longer`},
		{"%%%8191c", "longer than"},
		{"%4000z", ""},
		{"%4096z", "longer than"},
		{strings.Repeat("%Z", 127), ""},
		{strings.Repeat("%Z", 128), "longer than"},
		{"%1000000000000d", "longer than"},
	}
	for _, tt := range tests {
		err := Check(tt.layout)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%.30q): got %q, want no error", tt.layout, err)
		case tt.want != "" && err == nil:
			t.Errorf("Check(%.30q): got no error, want one containing %q", tt.layout, tt.want)
		case err != nil && !strings.Contains(err.Error(), tt.want):
			t.Errorf("Check(%.30q): got %q, want it to contain %q", tt.layout, err, tt.want)
		case err != nil && !errors.Is(err, ErrLayout):
			t.Errorf("Check(%.30q): got %q, want it to wrap ErrLayout", tt.layout, err)
		}
	}
}

// FuzzAppendFormat formats any layout: it must not panic, must keep dst,
// must append at most MaxLen-1 bytes, and must print a layout Check accepts
// whole (the writer never ran out of room).
func FuzzAppendFormat(f *testing.F) {
	for _, s := range []string{"%d/%b/%Y:%H:%M:%S %z", "%A %a %B %b|%c|%d %e %H %I %j %k %l %M %m %p %S|%U %W %w",
		"%x %X %y %Y %Z %z %% %D %F %T %R %r %h %C %G %g %V %u %s", "%-5d|%_5d|%05a|%10Q|%5%|%E%|%_%|%5",
		"%10z|%-10z|%010z|%#Z|%^10c|%#c", "%012s|%-12s|%Ea|%#Eb|%OB|%OC|%OY", "ab%8189Y", "%^#_10P"} {
		f.Add(s, int64(1580702706), 0)
	}
	f.Add("%G %V %g %U %W", int64(-62135596800), -36000)
	f.Add("%Y %C %y", int64(-1<<40), 50400)
	f.Fuzz(func(t *testing.T, layout string, unix int64, offset int) {
		tm := time.Unix(unix, 0).In(time.FixedZone("ZONE", offset%(100*3600)))
		got := AppendFormat([]byte("dst"), layout, tm)
		if !bytes.HasPrefix(got, []byte("dst")) {
			t.Fatalf("%q: got %q, want it to start with dst's bytes", layout, got)
		}
		if n := len(got) - 3; n >= MaxLen {
			t.Fatalf("%q: appended %d bytes, want fewer than %d", layout, n, MaxLen)
		}
		if s := Format(layout, tm); s != string(got[3:]) {
			t.Errorf("%q: Format gives %q, AppendFormat %q", layout, s, got[3:])
		}
		if Check(layout) == nil {
			w := writer{tm: breakDown(tm)}
			w.format(nil, layout)
			if w.full {
				t.Errorf("%q: Check accepts it, but its text did not fit", layout)
			}
		}
	})
}

// TestImports enforces the package's rule: the standard library only, so
// that any leaf may import it.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(strings.Split(imp, "/")[0], ".") {
			t.Errorf("package strftime imports %q; only the standard library is allowed", imp)
		}
	}
}

func BenchmarkAppendFormat(b *testing.B) {
	tm := time.Date(2026, time.November, 22, 4, 7, 56, 0, time.FixedZone("IST", 5*3600+30*60))
	for _, layout := range []string{"%d/%b/%Y:%H:%M:%S %z", "%c", "%Y-%m-%dT%H:%M:%S"} {
		b.Run(layout, func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendFormat(buf[:0], layout, tm)
			}
		})
	}
}
