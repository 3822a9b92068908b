package ssi

import (
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/strftime"
)

// formatTime formats t with a C strftime format, in the C locale, as
// apr_strftime does for Apache. Conversions that glibc does not know are
// copied literally, as glibc copies them; the E and O modifiers are ignored,
// as in the C locale; %s is the Unix time.
func formatTime(t time.Time, format string) string {
	f, err := compileTime(format)
	if err != nil {
		return ""
	}
	return f.FormatString(t)
}

// knownConv are the conversions the strftime library and glibc share.
const knownConv = "aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYzZ%v"

var timeFormats sync.Map // format string -> *strftime.Strftime

// maxTimeFormats bounds the cache of compiled formats.
const maxTimeFormats = 256

var timeFormatCount int64
var timeFormatMu sync.Mutex

func compileTime(format string) (*strftime.Strftime, error) {
	if f, ok := timeFormats.Load(format); ok {
		return f.(*strftime.Strftime), nil
	}
	f, err := strftime.New(cFormat(format), strftime.WithUnixSeconds('s'))
	if err != nil {
		return nil, err
	}
	timeFormatMu.Lock()
	if timeFormatCount < maxTimeFormats {
		timeFormatCount++
		timeFormats.Store(format, f)
	}
	timeFormatMu.Unlock()
	return f, nil
}

// cFormat rewrites a C format into one the library reads the same way:
// unknown conversions and a lone trailing % become literal text.
func cFormat(format string) string {
	if !strings.Contains(format, "%") {
		return format
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		flag := byte(0)
		if j < len(format) && (format[j] == '-' || format[j] == '#') {
			flag = format[j]
			j++
		}
		if j < len(format) && (format[j] == 'E' || format[j] == 'O') {
			j++
		}
		if j < len(format) && strings.IndexByte(knownConv, format[j]) >= 0 {
			b.WriteByte('%')
			if flag != 0 && format[j] != '%' {
				b.WriteByte('-')
			}
			b.WriteByte(format[j])
			i = j
			continue
		}
		// Unknown: glibc prints the whole sequence as it stands.
		end := j + 1
		if end > len(format) {
			end = len(format)
		}
		b.WriteString(strings.ReplaceAll(format[i:end], "%", "%%"))
		i = end - 1
	}
	return b.String()
}
