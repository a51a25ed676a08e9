package providers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/providers"
)

// A provider built from a Provider object's spec through the registry, and
// the request it sends.
func ExampleRegistry_New() {
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.Method, r.URL.Path)
		fmt.Println(string(body))
	}))
	defer slack.Close()

	p, err := providers.Default().New("slack", providers.Config{
		Address: slack.URL + "/services/T000/B000/XXXX", // from the Provider's secret
		Channel: "#gitops",
		Timeout: 10 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	err = p.Post(context.Background(), &events.Notification{
		Kind: events.KindFailure,
		Event: events.Event{
			InvolvedObject:      corev1.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "podinfo"},
			Severity:            events.SeverityError,
			Timestamp:           metav1.NewTime(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)),
			Message:             "health check failed",
			Reason:              "HealthCheckFailed",
			Metadata:            map[string]string{"revision": "main@sha1:0123"},
			ReportingController: "gitopsd",
		},
	})
	fmt.Println(err)
	// Output:
	// POST /services/T000/B000/XXXX
	// {"channel":"#gitops","username":"gitopsd","attachments":[{"fallback":"kustomization/podinfo.apps: health check failed","color":"danger","author_name":"kustomization/podinfo.apps","text":"health check failed","mrkdwn_in":["text"],"fields":[{"title":"revision","value":"main@sha1:0123","short":false}]}]}
	// <nil>
}
