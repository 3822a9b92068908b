// Package strftime formats times with C strftime(3) formats, as glibc's
// strftime does in the C locale, which is what Apache hands such formats to:
// SSI's timefmt and the access log's %{format}t use it. It knows the
// conversions of C99, POSIX and glibc, the GNU flags _ - 0 ^ #, field widths,
// %P, %k, %l, %s and the E and O modifiers where glibc accepts them.
//
// AppendFormat prints any format as glibc would, odd ones included; Check
// says, once, whether a format is one a person meant. AppendFormat does not
// allocate.
//
// The package imports only the standard library, and no other pwebs package,
// so that any leaf may use it; a test enforces this. It has no locale but C's.
package strftime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxLen bounds what one call of AppendFormat appends: 8192 bytes, the size
// of the buffer Apache formats a time into, its terminating NUL included, so
// at most 8191. Formatting stops at the first piece that would not fit (a
// byte of text, or a conversion with its padding) and keeps what came
// before it, as glibc's strftime leaves its buffer.
const MaxLen = 8192

// ErrLayout is wrapped by every error Check returns.
var ErrLayout = errors.New("strftime: invalid format")

// AppendFormat appends t formatted by the C strftime format layout to dst and
// returns the extended slice. A conversion glibc does not know (%Q), or with
// a modifier it refuses (%Ea), is copied as written, % and all, as glibc
// copies it; so is a % at the end. %Z is t's zone name, %z its offset and %s
// its Unix time; the other conversions print t in its own location.
func AppendFormat(dst []byte, layout string, t time.Time) []byte {
	w := writer{tm: breakDown(t), start: len(dst)}
	return w.format(dst, layout)
}

// Format returns t formatted by layout, as AppendFormat appends it.
func Format(layout string, t time.Time) string {
	var buf [64]byte
	return string(AppendFormat(buf[:0], layout, t))
}

// Check reports what in layout would not print as its writer meant: a
// conversion glibc does not know (such as %Q, printed as written), a
// modifier glibc refuses on a conversion (%Ea, also printed as written), a %
// at the end of the layout (write %% for a percent sign), and field widths
// that could make the output reach MaxLen. A time zone name counts as 64
// bytes at most there. The error says where, and wraps ErrLayout.
func Check(layout string) error {
	longest := 0
	for i := 0; i < len(layout); {
		var text string
		if layout[i] != '%' {
			text = layout[i : i+1]
			longest++
		} else {
			cv := scan(layout, i)
			text = layout[i : i+cv.n]
			switch {
			case cv.c == 0:
				return fmt.Errorf("%w: %q at byte %d of the format: a %% at the end (write %%%% for a percent sign)", ErrLayout, text, i)
			case longestText(cv.c) < 0:
				return fmt.Errorf("%w: %q at byte %d of the format: unknown conversion (write %%%% for a percent sign)", ErrLayout, text, i)
			case badModifier(cv.c, cv.mod):
				return fmt.Errorf("%w: %q at byte %d of the format: the %c modifier does not apply to %%%c", ErrLayout, text, i, cv.mod, cv.c)
			}
			longest += max(longestText(cv.c), cv.width)
			if cv.c == 'z' {
				longest += max(1, cv.width) // the width pads the sign too
			}
		}
		if longest >= MaxLen {
			return fmt.Errorf("%w: %q at byte %d of the format: the text may be longer than %d bytes", ErrLayout, text, i, MaxLen-1)
		}
		i += len(text)
	}
	return nil
}

// longestText is the most bytes conversion c prints without a width, or -1
// when glibc does not know c.
func longestText(c byte) int {
	switch c {
	case '%', 'n', 't', 'u', 'w':
		return 1
	case 'p', 'P', 'd', 'e', 'H', 'I', 'k', 'l', 'M', 'm', 'S', 'U', 'W', 'V', 'g', 'y':
		return 2
	case 'a', 'b', 'h', 'j':
		return 3
	case 'R':
		return 5
	case 'z':
		return 20 // hhmm, of any offset Go allows
	case 'x', 'D', 'X', 'T':
		return 8
	case 'A', 'B':
		return len("September")
	case 'r':
		return len("12:00:00 AM")
	case 'C', 'G', 'Y', 's':
		return 20 // an int64
	case 'F':
		return 20 + len("-01-01")
	case 'c':
		return len("Wed Sep 30 00:00:00 ") + 20
	case 'Z':
		return 64
	}
	return -1
}

// conversion is one conversion of a layout, as scan reads it.
type conversion struct {
	pad        byte // '_', '-', '0', or 0 for none
	upper      bool // the ^ flag
	changeCase bool // the # flag
	width      int  // -1 for none
	mod        byte // 'E', 'O', or 0 for none
	c          byte // the conversion's letter; 0 when the layout ends first
	n          int  // bytes spanned from the %, letter included
}

// scan reads the conversion that starts at layout[at] ('%'): flags, width,
// modifier and letter, as glibc reads them.
func scan(layout string, at int) conversion {
	cv := conversion{width: -1}
	i := at + 1
flags:
	for ; i < len(layout); i++ {
		switch layout[i] {
		case '_', '-', '0':
			cv.pad = layout[i]
		case '^':
			cv.upper = true
		case '#':
			cv.changeCase = true
		default:
			break flags
		}
	}
	if i < len(layout) && isDigit(layout[i]) {
		cv.width = 0
		for ; i < len(layout) && isDigit(layout[i]); i++ {
			cv.width = min(cv.width*10+int(layout[i]-'0'), 1<<30)
		}
	}
	if i < len(layout) && (layout[i] == 'E' || layout[i] == 'O') {
		cv.mod = layout[i]
		i++
	}
	if i < len(layout) {
		cv.c = layout[i]
		i++
	}
	cv.n = i - at
	return cv
}

// cTime is a time broken down as C's struct tm.
type cTime struct {
	unix                            int64
	year, mon, mday, hour, min, sec int // mon 0-11
	wday, yday                      int // wday 0-6 from Sunday, yday 0-365
	zone                            string
	offset                          int // seconds east of UTC
}

func breakDown(t time.Time) cTime {
	year, mon, mday := t.Date()
	hour, min, sec := t.Clock()
	zone, offset := t.Zone()
	return cTime{unix: t.Unix(), year: year, mon: int(mon) - 1, mday: mday, hour: hour, min: min, sec: sec,
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

// writer is one strftime call, whose output its methods append to b after
// b[:start], bounded by MaxLen: full once a piece did not fit.
type writer struct {
	tm    cTime
	start int
	full  bool
}

// room reports whether n more bytes fit after b, and marks the writer full
// when they do not.
func (w *writer) room(b []byte, n int) bool {
	if w.full || len(b)-w.start+n >= MaxLen {
		w.full = true
		return false
	}
	return true
}

// put appends s as glibc's cpy does: right-aligned in width, after zeros
// for the 0 flag and spaces otherwise, with its case changed.
func put[T string | []byte](w *writer, b []byte, s T, width int, pad byte, cs int) []byte {
	if !w.room(b, max(len(s), width)) {
		return b
	}
	b = appendPadding(b, width-len(s), pad)
	at := len(b)
	b = append(b, s...)
	changeCase(b[at:], cs)
	return b
}

// appendPadding appends n bytes of padding (none when n < 1).
func appendPadding(b []byte, n int, pad byte) []byte {
	c := padByte(pad)
	for range n {
		b = append(b, c)
	}
	return b
}

// padByte is what a field pads with: zeros for the 0 flag, spaces
// otherwise.
func padByte(pad byte) byte {
	if pad == '0' {
		return '0'
	}
	return ' '
}

// changeCase changes the case of the ASCII letters of b in place.
func changeCase(b []byte, cs int) {
	if cs == keepCase {
		return
	}
	for i, c := range b {
		switch {
		case cs == upperCase && 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		case cs == lowerCase && 'A' <= c && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
	}
}

// number appends v in at least digits digits (or width, when larger) as
// glibc's do_number does: zeros by default, spaces for the _ flag, none for
// the - flag (the field width still pads it with spaces).
func (w *writer) number(b []byte, v int64, digits, width int, pad byte) []byte {
	if digits == 2 && width < 0 && pad == 0 && 0 <= v && v < 100 && len(b)-w.start+2 < MaxLen {
		// The common case, such as %d or %H, without the general path.
		return append(b, byte('0'+v/10), byte('0'+v%10))
	}
	var buf [24]byte
	return w.numberText(b, strconv.AppendInt(buf[:0], v, 10), max(digits, width), width, pad)
}

// numberText appends the decimal text s (with its sign) padded to digits.
func (w *writer) numberText(b, s []byte, digits, width int, pad byte) []byte {
	if pad != '-' {
		if padding := digits - len(s); padding > 0 {
			if !w.room(b, padding) {
				return b
			}
			if pad == '_' {
				b = appendPadding(b, padding, ' ')
				width = max(width-padding, 0)
			} else {
				if s[0] == '-' {
					b = append(b, '-')
					s = s[1:]
				}
				b = appendPadding(b, padding, '0')
				width = 0
			}
		}
	}
	return put(w, b, s, width, pad, keepCase)
}

// format appends the expansion of f, as glibc's __strftime_internal does.
func (w *writer) format(b []byte, f string) []byte {
	tm := &w.tm
	for i := 0; i < len(f) && !w.full; {
		if f[i] != '%' {
			// Text up to the next %, byte by byte as far as it fits.
			j := strings.IndexByte(f[i:], '%')
			if j < 0 {
				j = len(f) - i
			}
			if fit := MaxLen - 1 - (len(b) - w.start); j > fit {
				b = append(b, f[i:i+max(fit, 0)]...)
				w.full = true
				return b
			}
			b = append(b, f[i:i+j]...)
			i += j
			continue
		}
		var cv conversion
		if i+1 < len(f) && isPlain(f[i+1]) {
			// The common case, such as %d: no flag, width or modifier.
			cv = conversion{width: -1, c: f[i+1], n: 2}
		} else {
			cv = scan(f, i)
		}
		conv := f[i : i+cv.n]
		i += cv.n
		width, pad, c := cv.width, cv.pad, cv.c
		cs := keepCase
		if cv.upper {
			cs = upperCase
		}
		if c == 0 {
			// A % at the end of the format: glibc copies what follows
			// the last % of it.
			return w.badFormat(b, conv, width, pad, cs)
		}
		hour12 := tm.hour % 12
		if hour12 == 0 {
			hour12 = 12
		}
		if cv.changeCase && (c == 'b' || c == 'h' || c == 'B') {
			cs = upperCase // before the modifier is checked, in glibc
		}
		if badModifier(c, cv.mod) {
			b = w.badFormat(b, conv, width, pad, cs)
			continue
		}
		switch c {
		case '%':
			b = put(w, b, "%", width, pad, keepCase)
		case 'a', 'A', 'b', 'h', 'B':
			if cv.changeCase {
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
			b = put(w, b, s, width, pad, cs)
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
			b = put(w, b, "\n", width, pad, keepCase)
		case 't':
			b = put(w, b, "\t", width, pad, keepCase)
		case 'P', 'p':
			if c == 'P' || cv.changeCase {
				cs = lowerCase
			}
			s := "AM"
			if tm.hour > 11 {
				s = "PM"
			}
			b = put(w, b, s, width, pad, cs)
		case 's':
			var buf [24]byte
			b = w.numberText(b, strconv.AppendInt(buf[:0], tm.unix, 10), 1, width, pad)
		case 'Z':
			if cv.changeCase {
				cs = lowerCase
			}
			b = put(w, b, tm.zone, width, pad, cs)
		case 'z':
			diff := tm.offset
			if diff < 0 {
				b = put(w, b, "-", width, pad, keepCase)
				diff = -diff
			} else {
				b = put(w, b, "+", width, pad, keepCase)
			}
			diff /= 60
			b = w.number(b, int64(diff/60*100+diff%60), 4, width, pad)
		default:
			b = w.badFormat(b, conv, width, pad, cs)
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
// width, and upper-cased for the ^ flag. It expands sub in place, then
// moves it right to make room for the padding.
func (w *writer) subformat(b []byte, sub string, width int, pad byte, cs int) []byte {
	at := len(b)
	inner := writer{tm: w.tm, start: at}
	b = inner.format(b, sub)
	n := len(b) - at
	if inner.full {
		w.full = true
		return b[:at]
	}
	if !w.room(b[:at], max(n, width)) {
		return b[:at]
	}
	if padding := width - n; padding > 0 {
		b = appendPadding(b, padding, pad)
		copy(b[at+padding:], b[at:at+n])
		fill := padByte(pad)
		for k := at; k < at+padding; k++ {
			b[k] = fill
		}
	}
	changeCase(b[len(b)-n:], cs)
	return b
}

// badFormat copies a conversion glibc does not know: from its last % on,
// as a piece of text.
func (w *writer) badFormat(b []byte, conv string, width int, pad byte, cs int) []byte {
	if i := strings.LastIndexByte(conv, '%'); i >= 0 {
		conv = conv[i:]
	}
	return put(w, b, conv, width, pad, cs)
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

// isPlain reports whether c, after a %, is a conversion's letter: not a
// flag, a width or a modifier.
func isPlain(c byte) bool {
	return c != 'E' && c != 'O' && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
}
