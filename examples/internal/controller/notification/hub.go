package notification

import (
	"bytes"
	"io"
	"net/http"

	"github.com/gitopskit/kit/events/hub"
)

// InProcessHubURL is the hub address a recorder posts to through
// InProcessClient: the host is never resolved, no socket is opened.
const InProcessHubURL = "http://gitopsd-hub.in-process/"

// NewHub returns gitopsd's event hub: its alerts are alerts' (the Alert and
// Provider objects), and event sources with matchLabels read the object's
// labels through alerts.Labels. opts come after those and may replace them
// (tests inject a clock).
func NewHub(alerts *Alerts, opts ...hub.Option) *hub.Hub {
	return hub.New(alerts, append([]hub.Option{hub.WithLabels(alerts.Labels)}, opts...)...)
}

// InProcessClient returns an HTTP client whose requests h serves in the
// calling goroutine, without a socket: an events/recorder given it and
// InProcessHubURL delivers to h with every guarantee it has over HTTP (a
// bounded queue that never blocks a reconcile, retries, masking) and h
// checks each event as it would one from the network (events.Decode's
// limits). Nothing listens, so nothing outside the process can post
// forged events to the hub (an event that resolves an alert, or floods
// one).
func InProcessClient(h http.Handler) *http.Client {
	return &http.Client{
		Transport:     inProcess{h},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// inProcess is an http.RoundTripper calling a handler.
type inProcess struct{ h http.Handler }

// RoundTrip serves req with the handler and returns what it wrote.
func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	defer req.Body.Close()
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	w := &responseWriter{header: http.Header{}}
	t.h.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}, nil
}

// responseWriter records a handler's answer.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
