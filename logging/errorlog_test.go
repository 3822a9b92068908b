package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in   string
		want slog.Level
		ok   bool
	}{
		{"debug", slog.LevelDebug, true},
		{"info", slog.LevelInfo, true},
		{"notice", LevelNotice, true},
		{"NOTICE", LevelNotice, true},
		{"warn", slog.LevelWarn, true},
		{"error", slog.LevelError, true},
		{"warning", 0, false},
		{"crit", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseLevel(%q): got error %v, want ok=%v", tt.in, err, tt.ok)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// handle runs one record through a handler and returns the line written.
func handle(t *testing.T, level slog.Leveler, with []slog.Attr, group string, r slog.Record) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = NewHandler(&buf, level)
	if with != nil {
		h = h.WithAttrs(with)
	}
	if group != "" {
		h = h.WithGroup(group)
	}
	if !h.Enabled(context.Background(), r.Level) {
		return ""
	}
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestHandlerLines(t *testing.T) {
	at := time.Date(2026, time.November, 21, 10, 4, 5, 123456789, time.UTC)
	pid := fmt.Sprintf("[pid %d]", os.Getpid())
	record := func(level slog.Level, msg string, args ...any) slog.Record {
		r := slog.NewRecord(at, level, msg, 0)
		r.Add(args...)
		return r
	}
	tests := []struct {
		name  string
		level slog.Leveler
		with  []slog.Attr
		group string
		r     slog.Record
		want  string
	}{
		{"apache layout", nil, nil, "",
			record(slog.LevelError, "File does not exist: /srv/www/favicon.ico", "client", "127.0.0.1:50312"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + " [client 127.0.0.1:50312] File does not exist: /srv/www/favicon.ico\n"},
		{"no client", nil, nil, "",
			record(LevelNotice, "pwebs started", "listen", "127.0.0.1:8080", "clients", 256),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:notice] " + pid + " pwebs started listen=127.0.0.1:8080 clients=256\n"},
		{"client from With", nil, []slog.Attr{slog.String("client", "[::1]:4000"), slog.String("vhost", "a")}, "",
			record(slog.LevelWarn, "slow client"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:warn] " + pid + " [client ::1:4000] slow client vhost=a\n"},
		{"an IPv6 client as apache writes it", nil, nil, "",
			record(slog.LevelError, "m", "client", "[2001:db8::7]:50312"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + " [client 2001:db8::7:50312] m\n"},
		{"client in a group is an attribute", nil, nil, "cgi",
			record(slog.LevelError, "m", "client", "1.2.3.4:5"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + " m cgi.client=1.2.3.4:5\n"},
		{"referer ends the line, as in apache", slog.LevelDebug, nil, "",
			record(slog.LevelInfo, "File does not exist: /srv/www/missing", "client", "127.0.0.1:50312", "vhost", "a", "referer", "http://ref/"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:info] " + pid + " [client 127.0.0.1:50312] File does not exist: /srv/www/missing vhost=a, referer: http://ref/\n"},
		{"referer escaped", nil, nil, "",
			record(slog.LevelError, "m", "referer", "http://r/\\b\xc3\xa9 \"z\"\tq\n[forged]"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + ` m, referer: http://r/\\b\xc3\xa9 \"z\"\tq\n[forged]` + "\n"},
		{"empty referer", nil, nil, "",
			record(slog.LevelError, "m", "referer", ""),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + " m\n"},
		{"referer from With", nil, []slog.Attr{slog.String("referer", "http://w/"), slog.String("client", "1.2.3.4:5")}, "",
			record(slog.LevelError, "m", "k", "v"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + " [client 1.2.3.4:5] m k=v, referer: http://w/\n"},
		{"the record's referer wins", nil, []slog.Attr{slog.String("referer", "http://w/")}, "",
			record(slog.LevelError, "m", "referer", "http://r/"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + " m, referer: http://r/\n"},
		{"referer in a group is an attribute", nil, nil, "cgi",
			record(slog.LevelError, "m", "referer", "http://r/"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + " m cgi.referer=http://r/\n"},
		{"values", slog.LevelDebug, nil, "",
			record(slog.LevelDebug, "v", "s", "two words", "e", "", "q", `a"b`, "eq", "a=b", "d", 1500*time.Millisecond,
				"f", 0.5, "b", true, "u", uint64(7), "err", errors.New("boom"), "bytes", []byte("x y"),
				slog.Group("g", "a", 1, slog.Group("h", "b", 2)), slog.Group("", "inline", 3), slog.Group("empty")),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:debug] " + pid + ` v s="two words" e="" q="a\"b" eq="a=b" d=1.5s f=0.5 b=true u=7 err=boom bytes="x y" g.a=1 g.h.b=2 inline=3` + "\n"},
		{"one line always", nil, nil, "",
			record(slog.LevelError, "panic: boom\ngoroutine 1 [running]:\n\tmain.go:1", "stack", "a\nb", "client", "1.2.3.4:5\n[forged]"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + ` [client 1.2.3.4:5\n[forged]] panic: boom\ngoroutine 1 [running]:\n\tmain.go:1 stack="a\nb"` + "\n"},
		{"quotes in a message stay, as in apache", nil, nil, "",
			record(slog.LevelError, `user alice: authentication failure for "/private/": Password Mismatch`, "client", "127.0.0.1:1", "q", `a"b`),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + ` [client 127.0.0.1:1] user alice: authentication failure for "/private/": Password Mismatch q="a\"b"` + "\n"},
		{"utf-8 escaped as apache does", nil, nil, "",
			record(slog.LevelError, "café"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + ` caf\xc3\xa9` + "\n"},
		{"between levels", slog.LevelDebug, nil, "",
			record(slog.LevelInfo+1, "x"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:info] " + pid + " x\n"},
		{"above error", nil, nil, "",
			record(slog.LevelError+4, "x"),
			"[Sat Nov 21 10:04:05.123456 2026] [pwebs:error] " + pid + " x\n"},
		{"filtered by default level notice", nil, nil, "", record(slog.LevelInfo, "x"), ""},
		{"filtered by level", slog.LevelError, nil, "", record(slog.LevelWarn, "x"), ""},
		{"zero time", nil, nil, "", slog.NewRecord(time.Time{}, slog.LevelError, "x", 0), "[pwebs:error] " + pid + " x\n"},
		{"day padded", nil, nil, "", slog.NewRecord(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), slog.LevelError, "x", 0),
			"[Sun Mar 01 00:00:00.000000 2026] [pwebs:error] " + pid + " x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := handle(t, tt.level, tt.with, tt.group, tt.r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// errorLine splits an error log line for slogtest.
var errorLine = regexp.MustCompile(`^(?:\[([^\]]+)\] )?\[pwebs:(\w+)\] \[pid \d+\] (?:\[client ([^\]]*)\] )?(\S*)(.*)\n$`)

// attrPair is one key=value, the value quoted or not.
var attrPair = regexp.MustCompile(` ([^ =]+)=("(?:[^"\\]|\\.)*"|\S*)`)

func TestSlogtest(t *testing.T) {
	var buf bytes.Buffer
	results := func() []map[string]any {
		var out []map[string]any
		for _, line := range strings.SplitAfter(buf.String(), "\n") {
			if line == "" {
				continue
			}
			m := errorLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("got %q, want an error log line", line)
			}
			rec := map[string]any{slog.LevelKey: m[2], slog.MessageKey: m[4]}
			if m[1] != "" {
				rec[slog.TimeKey] = m[1]
			}
			for _, kv := range attrPair.FindAllStringSubmatch(m[5], -1) {
				v := kv[2]
				if strings.HasPrefix(v, `"`) {
					v = unescape(v[1 : len(v)-1])
				}
				keys := strings.Split(kv[1], ".")
				g := rec
				for _, k := range keys[:len(keys)-1] {
					sub, ok := g[k].(map[string]any)
					if !ok {
						sub = map[string]any{}
						g[k] = sub
					}
					g = sub
				}
				g[keys[len(keys)-1]] = v
			}
			out = append(out, rec)
		}
		return out
	}
	if err := slogtest.TestHandler(NewHandler(&buf, slog.LevelDebug), results); err != nil {
		t.Error(err)
	}
}

func BenchmarkHandler(b *testing.B) {
	l := slog.New(NewHandler(discard{}, slog.LevelDebug))
	b.ReportAllocs()
	for b.Loop() {
		l.Error("File does not exist: /srv/www/favicon.ico", "client", "127.0.0.1:50312", "vhost", "www.example.com")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
