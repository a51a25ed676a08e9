package receivers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// DefaultMaxBodyBytes bounds a webhook body: 3 MiB, as Flux's receiver.
const DefaultMaxBodyBytes = 3 << 20

// Server timeouts and header bound of Handler.Server.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 256 << 10
)

// ErrUnavailable is returned by a Lookup for a receiver that exists but
// may not act now (suspended, not ready): the Handler answers 503.
var ErrUnavailable = errors.New("receiver unavailable")

// Lookup finds the receiver listening on a webhook path. It returns nil
// and no error for a path no receiver has (404). The reference operator
// answers from an index of its Receiver objects' status.webhookPath.
type Lookup interface {
	Lookup(ctx context.Context, path string) (*Receiver, error)
}

// LookupFunc adapts a function to Lookup.
type LookupFunc func(ctx context.Context, path string) (*Receiver, error)

// Lookup calls f.
func (f LookupFunc) Lookup(ctx context.Context, path string) (*Receiver, error) { return f(ctx, path) }

// Trigger acts on a verified webhook, typically by asking its resources
// to reconcile (RequestReconcile). An error answers 500, so the sender
// retries.
type Trigger func(ctx context.Context, req *Request) error

// Handler serves webhooks: POST <PathPrefix><digest>, verified with
// Verify, then handed to a Trigger.
type Handler struct {
	lookup  Lookup
	trigger Trigger
	maxBody int64
}

// Option configures NewHandler.
type Option func(*Handler)

// WithMaxBodyBytes bounds the body (default DefaultMaxBodyBytes); a
// larger one is answered 413.
func WithMaxBodyBytes(n int64) Option { return func(h *Handler) { h.maxBody = n } }

// NewHandler returns a handler that finds receivers with lookup and hands
// verified webhooks to trigger.
func NewHandler(lookup Lookup, trigger Trigger, opts ...Option) *Handler {
	h := &Handler{lookup: lookup, trigger: trigger, maxBody: DefaultMaxBodyBytes}
	for _, opt := range opts {
		opt(h)
	}
	return h
}

// ServeHTTP answers 200 when the webhook was verified and triggered (or
// was a ping), 202 when verified but outside the receiver's events, 401
// for a bad signature or token (with no detail), 400 for a payload the
// type cannot read, 404 for an unknown path, 405 for a method other than
// POST, 413 over the body limit, 503 for an unavailable receiver and 500
// when the lookup or the trigger failed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := logr.FromContextOrDiscard(r.Context())
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	if !strings.HasPrefix(path, PathPrefix) || len(path) > 256 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	rcv, err := h.lookup.Lookup(r.Context(), path)
	switch {
	case errors.Is(err, ErrUnavailable):
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case err != nil:
		log.Error(err, "looking up the receiver")
		w.WriteHeader(http.StatusInternalServerError)
		return
	case rcv == nil:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	log = log.WithValues("receiver", rcv.Namespace+"/"+rcv.Name, "type", rcv.Type)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	req, err := Verify(rcv, r.Header, body)
	switch {
	case errors.Is(err, ErrUnauthorized):
		log.Info("webhook refused: bad signature or token")
		w.WriteHeader(http.StatusUnauthorized)
		return
	case errors.Is(err, ErrIgnored):
		log.V(1).Info("webhook ignored", "event", truncate(req.Event))
		w.WriteHeader(http.StatusAccepted)
		return
	case errors.Is(err, ErrInvalidPayload):
		log.Info("webhook refused", "error", err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		log.Error(err, "webhook not verified")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if req.Ping {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := h.trigger(r.Context(), req); err != nil {
		log.Error(err, "webhook verified, trigger failed")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	log.Info("webhook handled", "event", truncate(req.Event), "repository", truncate(req.Payload.Repository))
	w.WriteHeader(http.StatusOK)
}

// Server returns an *http.Server serving the handler on addr with bounded
// header and body reads, write and idle timeouts and a header size limit.
func (h *Handler) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
