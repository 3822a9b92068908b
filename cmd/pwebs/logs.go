package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pwebs/pwebs/logging"
)

// logSwitch is the server's view of the logs: it forwards to the current
// *logging.Logger, which a reload that changes [log] replaces.
type logSwitch struct {
	cur atomic.Pointer[logging.Logger]
}

// Access forwards one access record.
func (s *logSwitch) Access(r *logging.Record) {
	if l := s.cur.Load(); l != nil {
		l.Access(r)
	}
}

// UsesResponseHeader forwards to the current logger.
func (s *logSwitch) UsesResponseHeader() bool {
	l := s.cur.Load()
	return l != nil && l.UsesResponseHeader()
}

// LogsAccess forwards to the current logger.
func (s *logSwitch) LogsAccess() bool {
	l := s.cur.Load()
	return l != nil && l.LogsAccess()
}

// logger returns an *slog.Logger that writes to whatever error log is
// current when each record is written.
func (s *logSwitch) logger() *slog.Logger {
	return slog.New(&switchHandler{s: s})
}

// switchHandler is a slog.Handler that resolves the current error log's
// handler at each record, re-applying the attributes and groups added to it.
type switchHandler struct {
	s   *logSwitch
	ops []func(slog.Handler) slog.Handler

	mu     sync.Mutex
	cached slog.Handler
	base   slog.Handler
}

func (h *switchHandler) current() slog.Handler {
	l := h.s.cur.Load()
	if l == nil {
		return slog.DiscardHandler
	}
	base := l.Error().Handler()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.base != base {
		cur := base
		for _, op := range h.ops {
			cur = op(cur)
		}
		h.base, h.cached = base, cur
	}
	return h.cached
}

func (h *switchHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.current().Enabled(ctx, level)
}

func (h *switchHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.current().Handle(ctx, r)
}

func (h *switchHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithAttrs(attrs) })
}

func (h *switchHandler) WithGroup(name string) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
}

func (h *switchHandler) with(op func(slog.Handler) slog.Handler) slog.Handler {
	ops := append(append([]func(slog.Handler) slog.Handler(nil), h.ops...), op)
	return &switchHandler{s: h.s, ops: ops}
}
