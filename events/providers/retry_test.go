package providers_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/hub"
	"github.com/gitopskit/kit/events/providers"
)

// TestEveryProviderIsRetriedByTheHub: through a hub, each provider's
// request is retried after two 503 answers and then delivered; the three
// requests are the same, so a service that saw a failed attempt
// deduplicates the retry (Matrix's transaction ID, Sentry's event ID).
func TestEveryProviderIsRetriedByTheHub(t *testing.T) {
	t.Parallel()
	for _, typ := range providers.Default().Types() {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			sink := eventstest.NewProviderSink(t)
			sink.ReplyNext(eventstest.Reply{Status: http.StatusServiceUnavailable, Body: "busy"}, eventstest.Reply{Status: http.StatusBadGateway})
			p, err := providers.Default().New(typ, configFor(typ, sink.URL()))
			if err != nil {
				t.Fatal(err)
			}
			h := hub.New(hub.StaticAlerts{{
				ID: "apps/alert", Namespace: "apps", Sources: []hub.Source{{Kind: "Kustomization", Name: "*"}},
				Provider: p, ProviderID: "0b5e7c1a-uid",
			}}, hub.WithRetries(3, time.Millisecond, 5*time.Millisecond))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = h.Start(ctx) }()
			defer func() { cancel(); <-done }()

			e := failure().Event
			e.Metadata = map[string]string{"kustomize.gitopskit.dev/revision": revision, "kustomize.gitopskit.dev/token": "t"}
			if err := h.Submit(t.Context(), &e); err != nil {
				t.Fatal(err)
			}
			reqs, err := sink.Wait(ctxTimeout(t, 30*time.Second), 3)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range reqs[1:] {
				if r.Method != reqs[0].Method || r.Path != reqs[0].Path || !bytes.Equal(r.Body, reqs[0].Body) {
					t.Errorf("attempt %d differs from the first:\n%s %s %s\n%s %s %s", i+2, reqs[0].Method, reqs[0].Path, reqs[0].Body, r.Method, r.Path, r.Body)
				}
			}
			if _, ok := p.(events.CommitStatusProvider); ok && !bytes.Contains(reqs[0].Body, []byte("0b5e7c1a")) && typ != providers.TypeBitbucket && typ != providers.TypeBitbucketServer {
				t.Errorf("commit status context lacks the provider ID: %s", reqs[0].Body)
			}
		})
	}
}
