// Package mask replaces secret values in text: error messages, log lines,
// diffs. It is what lets helmutil/release repeat an error from Helm or from
// the API server, which may quote values taken from Secrets, without
// repeating those values.
package mask

import (
	"context"
	"encoding/base64"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// Replacement is what a masked value becomes.
const Replacement = "***"

// shortSecret is the length under which a value is only masked where it
// stands quoted: masking every "1" or "on" in a message would garble it
// while protecting nothing a guess would not find.
const shortSecret = 4

// Masker replaces a fixed set of values. The zero value masks nothing. It
// is safe for concurrent use once built.
type Masker struct {
	values []string // longest first
}

// New returns a Masker for values; empty strings are ignored.
func New(values ...string) *Masker {
	m := &Masker{}
	seen := map[string]bool{}
	for _, v := range values {
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		m.values = append(m.values, v)
		// the forms a quoted message (%q, JSON) and a Secret's data show
		forms := []string{}
		if q := strconv.Quote(v); q[1:len(q)-1] != v {
			forms = append(forms, q[1:len(q)-1])
		}
		if len(v) >= shortSecret {
			forms = append(forms, base64.StdEncoding.EncodeToString([]byte(v)))
		}
		for _, f := range forms {
			if !seen[f] {
				seen[f] = true
				m.values = append(m.values, f)
			}
		}
	}
	slices.SortStableFunc(m.values, func(a, b string) int { return len(b) - len(a) })
	return m
}

// Empty reports whether the Masker masks nothing.
func (m *Masker) Empty() bool { return m == nil || len(m.values) == 0 }

// String returns s with every value replaced.
func (m *Masker) String(s string) string {
	if m.Empty() || s == "" {
		return s
	}
	for _, v := range m.values {
		if len(v) >= shortSecret {
			s = strings.ReplaceAll(s, v, Replacement)
			continue
		}
		for _, q := range []string{`"`, `'`, "`"} {
			s = strings.ReplaceAll(s, q+v+q, q+Replacement+q)
		}
		s = replaceField(s, v)
	}
	return s
}

// replaceField masks a short value where it stands alone after ": " or
// "=" at the end of a message or before a separator, the way API server
// messages quote an invalid value ("Invalid value: 123: must be ...").
func replaceField(s, v string) string {
	for _, pre := range []string{": ", "="} {
		for _, post := range []string{":", ",", " ", ")", "\n", ""} {
			needle := pre + v + post
			if post == "" {
				if strings.HasSuffix(s, needle) {
					s = s[:len(s)-len(needle)] + pre + Replacement
				}
				continue
			}
			s = strings.ReplaceAll(s, needle, pre+Replacement+post)
		}
	}
	return s
}

// Error is an error whose message is masked; it unwraps to the original, so
// errors.Is and errors.As still see the sentinels and types inside.
type Error struct {
	msg string
	err error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// Err returns err with a masked message, or err itself when nothing in it
// is masked. It returns nil for nil.
func (m *Masker) Err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if masked := m.String(msg); masked != msg {
		return &Error{msg: masked, err: err}
	}
	return err
}

// Handler wraps a slog.Handler, masking the message and every string or
// error attribute of each record.
func (m *Masker) Handler(h slog.Handler) slog.Handler {
	if m.Empty() {
		return h
	}
	return &handler{h: h, m: m}
}

type handler struct {
	h slog.Handler
	m *Masker
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.m.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.m.String(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, c := range attrs {
			out[i] = h.attr(c)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, h.m.String(err.Error()))
		}
		return slog.String(a.Key, h.m.String(v.String()))
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.attr(a)
	}
	return &handler{h: h.h.WithAttrs(out), m: h.m}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), m: h.m}
}
