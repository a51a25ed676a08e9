package eventstest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/kit/events"
)

// Sink is an HTTP endpoint that accepts events as a hub does: POSTed JSON,
// decoded and validated with events.Decode (a malformed event gets 400),
// recorded, answered 202. It can fail or be slow on demand, to test what a
// sender does when the hub misbehaves.
type Sink struct {
	srv    *httptest.Server
	events log[events.Event]
	closed chan struct{}

	mu         sync.Mutex
	requests   int
	failNext   int
	failStatus int
	delay      time.Duration
}

// NewSink starts a Sink on loopback. It is closed when the test ends.
func NewSink(t testing.TB) *Sink {
	s := &Sink{closed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL is the address to post events to.
func (s *Sink) URL() string { return s.srv.URL }

// Close stops the server; requests still waiting out a delay end at once.
func (s *Sink) Close() {
	select {
	case <-s.closed:
		return
	default:
		close(s.closed)
	}
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Events returns the events accepted so far, in arrival order.
func (s *Sink) Events() []events.Event { return s.events.snapshot() }

// Wait blocks until at least n events were accepted or ctx is done, and
// returns those accepted.
func (s *Sink) Wait(ctx context.Context, n int) ([]events.Event, error) {
	return s.events.wait(ctx, n)
}

// Requests counts every request received, failed ones included.
func (s *Sink) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailNext makes the next n requests fail with status, without recording.
func (s *Sink) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failStatus = n, status
}

// SetDelay makes every request wait d before it is answered (or until the
// client gives up, or the sink closes).
func (s *Sink) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	delay := s.delay
	fail := 0
	if s.failNext > 0 {
		s.failNext--
		fail = s.failStatus
	}
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		}
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if fail != 0 {
		w.WriteHeader(fail)
		return
	}
	e, err := events.Decode(r.Body, events.Limits{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.events.add(*e)
	w.WriteHeader(http.StatusAccepted)
}
