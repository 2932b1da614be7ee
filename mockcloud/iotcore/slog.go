package iotcore

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zapHandler carries mochi's slog records into the region's zap logger, one level
// down: what mochi calls Info (hooks added, listeners attached) is debug noise here.
//
// mochi's event loop logs on its way out and Server.Close does not wait for it, so
// the region mutes the handler before closing the broker: nothing logs into a
// logger (a test's, say) that is gone.
type zapHandler struct {
	log   *zap.Logger
	attrs []zap.Field
	muted *atomic.Bool
}

func newSlog(log *zap.Logger, muted *atomic.Bool) *slog.Logger {
	return slog.New(&zapHandler{log: log.Named("mochi"), muted: muted})
}

func (h *zapHandler) level(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.WarnLevel
	case l >= slog.LevelWarn:
		return zapcore.InfoLevel
	}
	return zapcore.DebugLevel
}

func (h *zapHandler) Enabled(_ context.Context, l slog.Level) bool {
	return !h.muted.Load() && h.log.Core().Enabled(h.level(l))
}

func (h *zapHandler) Handle(_ context.Context, rec slog.Record) error {
	if h.muted.Load() {
		return nil
	}
	fields := append([]zap.Field(nil), h.attrs...)
	rec.Attrs(func(a slog.Attr) bool {
		fields = append(fields, zap.Any(a.Key, a.Value.Any()))
		return true
	})
	if ce := h.log.Check(h.level(rec.Level), rec.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

func (h *zapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &zapHandler{log: h.log, attrs: append([]zap.Field(nil), h.attrs...), muted: h.muted}
	for _, a := range attrs {
		n.attrs = append(n.attrs, zap.Any(a.Key, a.Value.Any()))
	}
	return n
}

func (h *zapHandler) WithGroup(name string) slog.Handler {
	return &zapHandler{log: h.log.Named(name), attrs: h.attrs, muted: h.muted}
}
