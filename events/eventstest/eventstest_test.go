package eventstest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
)

const event = `{"involvedObject":{"kind":"K","namespace":"ns","name":"n"},"severity":"info","timestamp":"2024-05-01T12:00:00Z","message":"m","reason":"R","reportingController":"c"}`

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSink(t *testing.T) {
	s := eventstest.NewSink(t)
	s.FailNext(1, http.StatusServiceUnavailable)
	if code := post(t, s.URL(), event); code != http.StatusServiceUnavailable {
		t.Errorf("failed post: %d", code)
	}
	if code := post(t, s.URL(), `{"severity":"info"}`); code != http.StatusBadRequest {
		t.Errorf("invalid event: %d", code)
	}
	if code := post(t, s.URL(), event); code != http.StatusAccepted {
		t.Errorf("post: %d", code)
	}
	evs, err := s.Wait(t.Context(), 1)
	if err != nil || len(evs) != 1 || evs[0].Reason != "R" || s.Requests() != 3 {
		t.Errorf("%v %v %d", evs, err, s.Requests())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Wait(ctx, 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait for more than arrived: %v", err)
	}
	s.SetDelay(time.Hour)
	c := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := c.Post(s.URL(), "application/json", strings.NewReader(event)); err == nil {
		t.Error("a delayed sink answered at once")
	}
}

func TestProviderSink(t *testing.T) {
	s := eventstest.NewProviderSink(t)
	s.ReplyNext(eventstest.Reply{Status: 500, Body: "down"})
	if code := post(t, s.URL()+"/a%2Fb?x=1", "one"); code != 500 {
		t.Errorf("first: %d", code)
	}
	if code := post(t, s.URL()+"/hook", "two"); code != 200 {
		t.Errorf("second: %d", code)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].Path != "/a/b" || reqs[0].RawPath != "/a%2Fb" || reqs[0].RawQuery != "x=1" || string(reqs[1].Body) != "two" {
		t.Errorf("%+v", reqs)
	}
}

func TestProvider(t *testing.T) {
	p := eventstest.NewProvider()
	p.FailNext(1, errors.New("boom"))
	n := &events.Notification{Kind: events.KindInfo, Event: events.Event{Metadata: map[string]string{"k": "v"}}}
	if err := p.Post(t.Context(), n); err == nil {
		t.Error("FailNext ignored")
	}
	if err := p.Post(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	n.Event.Metadata["k"] = "changed"
	if got := p.Notifications(); len(got) != 1 || got[0].Event.Metadata["k"] != "v" || p.Attempts() != 2 {
		t.Errorf("%+v, %d attempts", got, p.Attempts())
	}
	p.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := p.Post(ctx, n); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delay ignores the context: %v", err)
	}
	var _ events.CommitStatusProvider = eventstest.NewCommitStatusProvider()
}
