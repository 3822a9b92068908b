package ssi

import (
	"strconv"
	"strings"
	"time"
)

// maxTimeLen is the size of the buffer Apache formats a date into
// (MAX_STRING_LEN). strftime stops at a piece that would not fit with its
// terminating NUL; formatTime keeps what came before it.
const maxTimeLen = 8192

// formatTime formats t with a C strftime format as glibc's strftime does in
// the C locale, which is what apr_strftime gives Apache: the GNU flags _ - 0
// ^ #, field widths, %P, %k, %l, %s and the E and O modifiers where glibc
// accepts them. A conversion glibc does not know is copied as written, %
// and all, as glibc copies it. %Z is t's zone name and %s its Unix time.
func formatTime(t time.Time, format string) string {
	var buf [64]byte
	w := timeWriter{tm: newCTime(t)}
	return string(w.format(buf[:0], format))
}

// cTime is a time broken down as C's struct tm.
type cTime struct {
	t                               time.Time
	year, mon, mday, hour, min, sec int // mon 0-11
	wday, yday                      int // wday 0-6 from Sunday, yday 0-365
	zone                            string
	offset                          int // seconds east of UTC
}

func newCTime(t time.Time) cTime {
	year, mon, mday := t.Date()
	hour, min, sec := t.Clock()
	zone, offset := t.Zone()
	return cTime{t: t, year: year, mon: int(mon) - 1, mday: mday, hour: hour, min: min, sec: sec,
		wday: int(t.Weekday()), yday: t.YearDay() - 1, zone: zone, offset: offset}
}

// Names of the C locale.
var (
	cDays   = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	cMonths = [12]string{"January", "February", "March", "April", "May", "June", "July", "August",
		"September", "October", "November", "December"}
)

// Case changes of a conversion's text.
const (
	keepCase = iota
	upperCase
	lowerCase
)

// timeWriter is one strftime call, whose output its methods append to b,
// bounded by maxTimeLen: full once a piece did not fit.
type timeWriter struct {
	tm   cTime
	full bool
}

// room reports whether n more bytes fit after b, and marks the writer full
// when they do not.
func (w *timeWriter) room(b []byte, n int) bool {
	if w.full || len(b)+n >= maxTimeLen {
		w.full = true
		return false
	}
	return true
}

// put appends s as glibc's cpy does: right-aligned in width, after zeros
// for the 0 flag and spaces otherwise, with its case changed.
func (w *timeWriter) put(b []byte, s string, width int, pad byte, cs int) []byte {
	if !w.room(b, max(len(s), width)) {
		return b
	}
	for i := len(s); i < width; i++ {
		if pad == '0' {
			b = append(b, '0')
		} else {
			b = append(b, ' ')
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case cs == upperCase && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case cs == lowerCase && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// number appends v in at least digits digits (or width, when larger) as
// glibc's do_number does: zeros by default, spaces for the _ flag, none for
// the - flag (the field width still pads it with spaces).
func (w *timeWriter) number(b []byte, v int64, digits, width int, pad byte) []byte {
	digits = max(digits, width)
	return w.numberText(b, strconv.FormatInt(v, 10), digits, width, pad)
}

// numberText appends the decimal text s (with its sign) padded to digits.
func (w *timeWriter) numberText(b []byte, s string, digits, width int, pad byte) []byte {
	if pad != '-' {
		if padding := digits - len(s); padding > 0 {
			if !w.room(b, padding) {
				return b
			}
			if pad == '_' {
				for range padding {
					b = append(b, ' ')
				}
				width = max(width-padding, 0)
			} else {
				if s[0] == '-' {
					b = append(b, '-')
					s = s[1:]
				}
				for range padding {
					b = append(b, '0')
				}
				width = 0
			}
		}
	}
	return w.put(b, s, width, pad, keepCase)
}

// format appends the expansion of f, as __strftime_internal does.
func (w *timeWriter) format(b []byte, f string) []byte {
	tm := &w.tm
	for i := 0; i < len(f) && !w.full; i++ {
		if f[i] != '%' {
			b = w.put(b, f[i:i+1], -1, 0, keepCase)
			continue
		}
		start := i
		var pad byte
		cs, changeCase := keepCase, false
	flags:
		for i++; i < len(f); i++ {
			switch f[i] {
			case '_', '-', '0':
				pad = f[i]
			case '^':
				cs = upperCase
			case '#':
				changeCase = true
			default:
				break flags
			}
		}
		width := -1
		if i < len(f) && isDigit(f[i]) {
			width = 0
			for ; i < len(f) && isDigit(f[i]); i++ {
				width = min(width*10+int(f[i]-'0'), 1<<30)
			}
		}
		var mod byte
		if i < len(f) && (f[i] == 'E' || f[i] == 'O') {
			mod = f[i]
			i++
		}
		if i >= len(f) {
			// A % at the end of the format: glibc copies what follows
			// the last % of it.
			return w.badFormat(b, f[start:], width, pad, cs)
		}
		hour12 := tm.hour % 12
		if hour12 == 0 {
			hour12 = 12
		}
		c := f[i]
		if changeCase && (c == 'b' || c == 'h' || c == 'B') {
			cs = upperCase // before the modifier is checked, in glibc
		}
		if badModifier(c, mod) {
			b = w.badFormat(b, f[start:i+1], width, pad, cs)
			continue
		}
		switch c {
		case '%':
			b = w.put(b, "%", width, pad, keepCase)
		case 'a', 'A', 'b', 'h', 'B':
			if changeCase {
				cs = upperCase
			}
			var s string
			switch c {
			case 'a':
				s = cDays[tm.wday][:3]
			case 'A':
				s = cDays[tm.wday]
			case 'B':
				s = cMonths[tm.mon]
			default:
				s = cMonths[tm.mon][:3]
			}
			b = w.put(b, s, width, pad, cs)
		case 'c', 'x', 'X', 'D', 'F', 'R', 'r', 'T':
			b = w.subformat(b, subFormat(c), width, pad, cs)
		case 'C':
			y := tm.year
			b = w.number(b, int64(y/100-b2i(y%100 < 0)), 1, width, pad)
		case 'd', 'e', 'H', 'I', 'k', 'l', 'M', 'm', 'S', 'U', 'W', 'w', 'j', 'y':
			var v, digits int
			switch c {
			case 'd', 'e':
				v, digits = tm.mday, 2
			case 'H', 'k':
				v, digits = tm.hour, 2
			case 'I', 'l':
				v, digits = hour12, 2
			case 'M':
				v, digits = tm.min, 2
			case 'm':
				v, digits = tm.mon+1, 2
			case 'S':
				v, digits = tm.sec, 2
			case 'U':
				v, digits = (tm.yday-tm.wday+7)/7, 2
			case 'W':
				v, digits = (tm.yday-(tm.wday-1+7)%7+7)/7, 2
			case 'w':
				v, digits = tm.wday, 1
			case 'j':
				v, digits = tm.yday+1, 3
			case 'y':
				v, digits = (tm.year%100+100)%100, 2
			}
			if (c == 'e' || c == 'k' || c == 'l') && pad != '0' && pad != '-' {
				pad = '_'
			}
			b = w.number(b, int64(v), digits, width, pad)
		case 'u':
			b = w.number(b, int64((tm.wday-1+7)%7+1), 1, width, pad)
		case 'V', 'g', 'G':
			year, week := isoWeek(tm)
			switch c {
			case 'g':
				b = w.number(b, int64((year%100+100)%100), 2, width, pad)
			case 'G':
				b = w.number(b, int64(year), 1, width, pad)
			default:
				b = w.number(b, int64(week), 2, width, pad)
			}
		case 'Y':
			b = w.number(b, int64(tm.year), 1, width, pad)
		case 'n':
			b = w.put(b, "\n", width, pad, keepCase)
		case 't':
			b = w.put(b, "\t", width, pad, keepCase)
		case 'P', 'p':
			if c == 'P' || changeCase {
				cs = lowerCase
			}
			s := "AM"
			if tm.hour > 11 {
				s = "PM"
			}
			b = w.put(b, s, width, pad, cs)
		case 's':
			b = w.numberText(b, strconv.FormatInt(tm.t.Unix(), 10), 1, width, pad)
		case 'Z':
			if changeCase {
				cs = lowerCase
			}
			b = w.put(b, tm.zone, width, pad, cs)
		case 'z':
			diff := tm.offset
			if diff < 0 {
				b = w.put(b, "-", width, pad, keepCase)
				diff = -diff
			} else {
				b = w.put(b, "+", width, pad, keepCase)
			}
			diff /= 60
			b = w.number(b, int64(diff/60*100+diff%60), 4, width, pad)
		default:
			b = w.badFormat(b, f[start:i+1], width, pad, cs)
		}
	}
	return b
}

// badModifier reports whether glibc refuses the modifier mod (E, O or 0
// for none) on conversion c, and copies the conversion as written.
func badModifier(c, mod byte) bool {
	switch mod {
	case 'E':
		// E is for the locale's era: only c C x X y Y, and the
		// conversions glibc does not check, take it.
		return !strings.ContainsRune("cCxXyYnPpRrsTtuZz", rune(c))
	case 'O':
		// O is for the locale's digits: every number but C and Y, the
		// month names, and the conversions glibc does not check.
		return strings.ContainsRune("%aAcDFxXY", rune(c))
	}
	return false
}

// subFormat is the format glibc expands conversion c to, in the C locale.
func subFormat(c byte) string {
	switch c {
	case 'c':
		return "%a %b %e %H:%M:%S %Y"
	case 'x', 'D':
		return "%m/%d/%y"
	case 'X', 'T':
		return "%H:%M:%S"
	case 'F':
		return "%Y-%m-%d"
	case 'R':
		return "%H:%M"
	}
	return "%I:%M:%S %p" // r
}

// subformat appends the expansion of sub as one piece: right-aligned in
// width, and upper-cased for the ^ flag.
func (w *timeWriter) subformat(b []byte, sub string, width int, pad byte, cs int) []byte {
	var buf [64]byte
	inner := timeWriter{tm: w.tm}
	s := inner.format(buf[:0], sub)
	if inner.full {
		w.full = true
		return b
	}
	return w.put(b, string(s), width, pad, cs)
}

// badFormat copies a conversion glibc does not know: from its last % on,
// as a piece of text.
func (w *timeWriter) badFormat(b []byte, conv string, width int, pad byte, cs int) []byte {
	for i := len(conv) - 1; i >= 0; i-- {
		if conv[i] == '%' {
			conv = conv[i:]
			break
		}
	}
	return w.put(b, conv, width, pad, cs)
}

// isoWeek returns the ISO 8601 week-based year and week of tm, computed as
// glibc does from the year day and week day.
func isoWeek(tm *cTime) (year, week int) {
	year = tm.year
	days := isoWeekDays(tm.yday, tm.wday)
	if days < 0 {
		year--
		days = isoWeekDays(tm.yday+365+b2i(isLeap(year)), tm.wday)
	} else if d := isoWeekDays(tm.yday-(365+b2i(isLeap(year))), tm.wday); d >= 0 {
		year++
		days = d
	}
	return year, days/7 + 1
}

// isoWeekDays is the number of days from the first day of the first ISO
// week of the year to the year day yday, which falls on week day wday.
func isoWeekDays(yday, wday int) int {
	const bigEnoughMultipleOf7 = (366/7 + 2) * 7
	return yday - (yday-wday+4+bigEnoughMultipleOf7)%7 + 4 - 1
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
