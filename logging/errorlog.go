package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LevelNotice is Apache's notice level, between slog.LevelInfo and
// slog.LevelWarn: start, stop and reload messages use it.
const LevelNotice = slog.Level(2)

// ClientKey is the attribute key whose value, a client "ip:port", the error
// log writes as Apache's [client ip:port] field instead of as key=value.
const ClientKey = "client"

// RefererKey is the attribute key whose value, the Referer of the request a
// record is about, the error log writes at the end of the line as Apache
// does, ", referer: URL", instead of as key=value. An empty value writes
// nothing.
const RefererKey = "referer"

// ParseLevel reads an error log level name: "debug", "info", "notice",
// "warn" or "error", in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "notice":
		return LevelNotice, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q (want debug, info, notice, warn or error)", s)
}

// levelName returns the Apache name of the nearest level at or below l.
func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warn"
	case l >= LevelNotice:
		return "notice"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}

// NewHandler returns a slog.Handler that writes Apache 2.4 error_log lines
// to w, one Write call per record:
//
//	[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] [pid 1234] [client 127.0.0.1:50312] message key=value ...
//
// The time is the record's, in its own location (slog gives local time); a
// record without a time has no time field. The attribute ClientKey ("client",
// outside any group) becomes the [client ...] field; other attributes follow
// the message as key=value, with group names joined by dots, and values
// quoted when they hold a space, an '=' or a quote. The attribute RefererKey
// ("referer", outside any group) ends the line as Apache's ", referer: URL".
// Every record is one line:
// the message, keys and values are escaped as the access log escapes them,
// so a newline in a stack trace is written as \n, except that a message
// keeps its quotes, as Apache's error log does. Records below level are
// dropped; a nil level means LevelNotice. Writes to w are serialised, so w
// needs no lock of its own.
func NewHandler(w io.Writer, level slog.Leveler) slog.Handler {
	if level == nil {
		level = LevelNotice
	}
	return &handler{out: &handlerOut{w: w, pid: strconv.Itoa(os.Getpid())}, level: level}
}

// handlerOut is what a handler and those derived from it share.
type handlerOut struct {
	mu  sync.Mutex
	w   io.Writer
	pid string
}

type handler struct {
	out     *handlerOut
	level   slog.Leveler
	client  string // escaped, from WithAttrs
	referer string // escaped, from WithAttrs
	attrs   []byte // " key=value" pairs from WithAttrs, already written
	prefix  string // open groups, each followed by a dot
}

var _ slog.Handler = (*handler)(nil)

var handlerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Enabled reports whether records at l are written.
func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle writes one record as one line.
func (h *handler) Handle(_ context.Context, r slog.Record) error {
	bp := handlerBufs.Get().(*[]byte)
	b := (*bp)[:0]
	if !r.Time.IsZero() {
		b = append(b, '[')
		b = appendCtime(b, r.Time)
		b = append(b, "] "...)
	}
	b = append(b, "[pwebs:"...)
	b = append(b, levelName(r.Level)...)
	b = append(b, "] [pid "...)
	b = append(b, h.out.pid...)
	b = append(b, "] "...)
	client := h.client
	var referer slog.Value // the record's own, when it has one
	hasReferer := false
	if h.prefix == "" {
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case ClientKey:
				client = string(appendEscaped(nil, apacheClient(a.Value.Resolve().String())))
			case RefererKey:
				referer, hasReferer = a.Value.Resolve(), true
			}
			return true
		})
	}
	if client != "" {
		b = append(b, "[client "...)
		b = append(b, client...)
		b = append(b, "] "...)
	}
	b = appendMessage(b, r.Message)
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if h.prefix == "" && (a.Key == ClientKey || a.Key == RefererKey) {
			return true
		}
		b = appendAttr(b, h.prefix, a)
		return true
	})
	if hasReferer {
		if v := referer.String(); v != "" {
			b = append(b, ", referer: "...)
			b = appendEscaped(b, v)
		}
	} else if h.referer != "" {
		b = append(b, ", referer: "...)
		b = append(b, h.referer...)
	}
	b = append(b, '\n')
	h.out.mu.Lock()
	_, err := h.out.w.Write(b)
	h.out.mu.Unlock()
	if cap(b) <= 64<<10 {
		*bp = b
		handlerBufs.Put(bp)
	}
	return err
}

// WithAttrs returns a handler that writes attrs on every record.
func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		if h.prefix == "" && a.Key == ClientKey {
			h2.client = string(appendEscaped(nil, apacheClient(a.Value.Resolve().String())))
			continue
		}
		if h.prefix == "" && a.Key == RefererKey {
			h2.referer = string(appendEscaped(nil, a.Value.Resolve().String()))
			continue
		}
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a handler that writes later attributes as name.key.
func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// appendAttr appends " key=value", or one such pair per member of a group.
func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if v.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, m := range v.Group() {
			b = appendAttr(b, prefix, m)
		}
		return b
	}
	b = append(b, ' ')
	b = appendToken(b, prefix+a.Key)
	b = append(b, '=')
	switch v.Kind() {
	case slog.KindString:
		return appendToken(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return appendToken(b, v.Duration().String())
	case slog.KindTime:
		return v.Time().AppendFormat(b, time.RFC3339Nano)
	}
	switch x := v.Any().(type) {
	case error:
		return appendToken(b, x.Error())
	case []byte:
		return appendToken(b, x)
	}
	return appendToken(b, fmt.Sprint(v.Any()))
}

// appendToken appends s escaped, in double quotes when it is empty or holds a
// space, an '=' or a byte that needs escaping.
func appendToken[T string | []byte](b []byte, s T) []byte {
	quote := len(s) == 0
	for i := 0; i < len(s) && !quote; i++ {
		quote = s[i] == ' ' || s[i] == '=' || logEscape[s[i]]
	}
	if !quote {
		return append(b, s...)
	}
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendMessage escapes a record's message as Apache escapes one in the
// error log (ap_escape_errorlog_item): as the access log does, but quotes
// stay as they are, so "for \"/x\"" reads as Apache writes it.
func appendMessage(dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			return appendEscaped(dst, s)
		}
		dst = appendEscaped(dst, s[:i])
		dst = append(dst, '"')
		s = s[i+1:]
	}
}

// apacheClient writes a client address as Apache's error log does: an
// IPv6 address without brackets before its port ("::1:41004", not
// "[::1]:41004").
func apacheClient(addr string) string {
	if i := strings.Index(addr, "]:"); i > 0 && addr[0] == '[' {
		return addr[1:i] + addr[i+1:]
	}
	return addr
}
