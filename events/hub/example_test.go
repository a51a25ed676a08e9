package hub_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"time"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/hub"
)

// printer is a provider that prints what it is sent.
type printer struct{ done chan struct{} }

func (p printer) Post(_ context.Context, n *events.Notification) error {
	fmt.Printf("%s: %s %s\n", n.Kind, n.Event.InvolvedObject.Name, n.Event.Message)
	p.done <- struct{}{}
	return nil
}

// A hub serving events over HTTP, with one alert: errors of the apps
// namespace's Kustomizations, DNS noise excluded, reminded hourly.
func Example() {
	p := printer{done: make(chan struct{}, 10)}
	h := hub.New(hub.StaticAlerts{{
		ID:        "apps/on-call",
		Namespace: "apps",
		Sources:   []hub.Source{{Kind: "Kustomization", Name: "*"}},
		Severity:  events.SeverityError,
		Exclusion: []*regexp.Regexp{regexp.MustCompile(`(?i)dns`)},
		Reminder:  time.Hour,
		Provider:  p, // from providers.Default().New(...)
	}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = h.Start(ctx) }() // or mgr.Add(h)
	srv := httptest.NewServer(h)     // or h.Server(":9090").ListenAndServe()
	defer srv.Close()

	post := func(severity, reason, msg string) {
		body := `{"involvedObject":{"kind":"Kustomization","namespace":"apps","name":"podinfo","apiVersion":"kustomize.gitopskit.dev/v1"},` +
			`"severity":"` + severity + `","timestamp":"2024-05-01T12:00:00Z","message":"` + msg + `","reason":"` + reason + `","reportingController":"gitopsd"}`
		resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}
	post("error", "HealthCheckFailed", "deployment/podinfo not ready")
	<-p.done
	post("error", "HealthCheckFailed", "deployment/podinfo not ready") // the same failure: suppressed
	post("info", "ReconciliationSucceeded", "applied revision main@sha1:0123")
	<-p.done
	// Output:
	// failure: podinfo deployment/podinfo not ready
	// resolved: podinfo resolved after 2 failures in 0s: applied revision main@sha1:0123
}
