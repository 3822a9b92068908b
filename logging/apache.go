package logging

import (
	"strconv"
	"time"
)

// logEscape marks the bytes Apache's ap_escape_logitem escapes: control
// bytes, DEL and every byte with the high bit set, the double quote that
// delimits fields and the backslash that starts an escape.
var logEscape = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendEscaped appends s to dst escaped as Apache's ap_escape_logitem does:
// \b \n \r \t \v for those control characters, \" and \\ for the quote and
// the backslash, and \xhh (lower-case hex) for any other control byte, DEL or
// byte above 0x7f, so UTF-8 text is written byte by byte as \xhh. Runs of
// bytes that need nothing are found eight at a time and copied whole.
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && plain8(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
			uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56) {
			i += 8
		}
		for end := min(i+8, len(s)); i < end; i++ {
			c := s[i]
			if !logEscape[c] {
				continue
			}
			dst = append(dst, s[start:i]...)
			start = i + 1
			switch c {
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\v':
				dst = append(dst, '\\', 'v')
			case '"', '\\':
				dst = append(dst, '\\', c)
			default:
				dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			}
		}
	}
	return append(dst, s[start:]...)
}

// plain8 reports whether none of the eight bytes in x is one logEscape
// marks: no byte below 0x20, with the high bit set, equal to DEL, '"' or
// '\\'. The tests are the usual ones on words: a byte below n leaves its high
// bit set in x-n (and clear in x), and a byte equal to c is a zero byte in
// x^c. A borrow can only spread from a byte that matched, so the answer is
// exact.
func plain8(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - lo) &^ v }
	return (x-0x20*lo|x|zero(x^'"'*lo)|zero(x^'\\'*lo)|zero(x^0x7f*lo))&hi == 0
}

const (
	monthNames = "JanFebMarAprMayJunJulAugSepOctNovDec"
	dayNames   = "SunMonTueWedThuFriSat"
)

// appendDigits appends n in decimal, zero-padded to width digits.
func appendDigits(dst []byte, n, width int) []byte {
	var b [20]byte
	i := len(b)
	for n >= 10 || width > 1 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	b[i] = byte('0' + n)
	return append(dst, b[i:]...)
}

// appendYear appends a year as four digits, or as many as it needs.
func appendYear(dst []byte, y int) []byte {
	if y < 0 || y > 9999 {
		return strconv.AppendInt(dst, int64(y), 10)
	}
	return appendDigits(dst, y, 4)
}

// appendCLFTime appends t as the Common Log Format writes it, in t's own
// location: [21/Nov/2026:10:04:05 +0100]. Seconds in the zone offset are
// dropped, as Apache drops them.
func appendCLFTime(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	_, off := t.Zone()
	dst = append(dst, '[')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, '/')
	dst = append(dst, monthNames[(mo-1)*3:mo*3]...)
	dst = append(dst, '/')
	dst = appendYear(dst, y)
	dst = append(dst, ':')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s, 2)
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, ' ', sign)
	dst = appendDigits(dst, off/3600, 2)
	dst = appendDigits(dst, off%3600/60, 2)
	return append(dst, ']')
}

// appendCtime appends t as Apache 2.4's error log writes it, in t's own
// location: Sat Nov 21 10:04:05.123456 2026.
func appendCtime(dst []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	wd := int(t.Weekday())
	dst = append(dst, dayNames[wd*3:wd*3+3]...)
	dst = append(dst, ' ')
	dst = append(dst, monthNames[(mo-1)*3:mo*3]...)
	dst = append(dst, ' ')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, ' ')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond()/1000, 6)
	dst = append(dst, ' ')
	return appendYear(dst, y)
}
