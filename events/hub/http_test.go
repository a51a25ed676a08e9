package hub_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/hub"
)

// fluxEvent is what Flux's kustomize-controller posts.
const fluxEvent = `{"involvedObject":{"kind":"Kustomization","namespace":"apps","name":"podinfo","uid":"7d0c","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},
"severity":"error","timestamp":"2024-05-01T12:00:00Z","message":"Health check failed","reason":"HealthCheckFailed",
"metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:1111111111111111111111111111111111111111"},
"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-0"}`

func TestHTTP(t *testing.T) {
	p := eventstest.NewProvider()
	reg := prometheus.NewRegistry()
	var failAlerts bool
	alerts := hub.AlertsFunc(func(context.Context, *events.Event) ([]*hub.Alert, error) {
		if failAlerts {
			return nil, errors.New("cache not synced")
		}
		return []*hub.Alert{catchAll("a", p)}, nil
	})
	h := hub.New(alerts, hub.WithLimits(events.Limits{MaxBytes: 4096}))
	_ = h.Register(reg)
	startHub(t, h)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+"/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(fluxEvent); code != http.StatusAccepted {
		t.Errorf("Flux's event: %d", code)
	}
	ns, err := p.Wait(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ns[0].Event.Metadata["revision"] != "main@sha1:1111111111111111111111111111111111111111" {
		t.Errorf("Flux's prefixed metadata not read: %v", ns[0].Event.Metadata)
	}
	for name, tc := range map[string]struct {
		body string
		code int
	}{
		"malformed":     {`{"involvedObject":`, http.StatusBadRequest},
		"invalid":       {`{"severity":"info"}`, http.StatusBadRequest},
		"too large":     {strings.Replace(fluxEvent, "Health check failed", strings.Repeat("x", 5000), 1), http.StatusRequestEntityTooLarge},
		"trailing data": {fluxEvent + fluxEvent, http.StatusBadRequest},
	} {
		if code := post(tc.body); code != tc.code {
			t.Errorf("%s: %d, want %d", name, code, tc.code)
		}
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	failAlerts = true
	if code := post(fluxEvent); code != http.StatusInternalServerError {
		t.Errorf("alerts unavailable: %d, want 500 so the sender retries", code)
	}
	for result, want := range map[string]float64{"accepted": 1, "invalid": 3, "too_large": 1, "error": 1} {
		if v := metric(t, reg, "gitopskit_events_hub_received_total", map[string]string{"result": result}); v != want {
			t.Errorf("received %s = %v, want %v", result, v, want)
		}
	}
}

func TestServerTimeouts(t *testing.T) {
	s := hub.New(hub.StaticAlerts{}).Server(":9292")
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.MaxHeaderBytes == 0 || s.Addr != ":9292" {
		t.Errorf("%+v", s)
	}
}
