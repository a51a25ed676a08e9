package providers_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/events"
	"github.com/gitopskit/kit/events/eventstest"
	"github.com/gitopskit/kit/events/providers"
)

const (
	commit     = "0123456789abcdef0123456789abcdef01234567"
	revision   = "main@sha1:" + commit
	secret     = "s3cr3t-T0KEN-value"
	password   = "pa55-w0rd-value"
	hookPath   = "/hooks/T000/B000/w3bh00k-s3cret"
	message    = "health check failed: deployment/podinfo not ready"
	stampText  = "2024-05-01T12:00:00Z"
	stampMilli = 1714564800000
)

var stamp = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// failure is a failure notification as the hub hands it to a provider:
// metadata prefixes stripped, the alert's summary merged in.
func failure() *events.Notification {
	return &events.Notification{
		Event: events.Event{
			InvolvedObject: corev1.ObjectReference{
				Kind: "Kustomization", Namespace: "apps", Name: "podinfo",
				UID: "0b5e7c1a-uid", APIVersion: "kustomize.gitopskit.dev/v1",
			},
			Severity:            events.SeverityError,
			Timestamp:           metav1.NewTime(stamp),
			Message:             message,
			Reason:              "HealthCheckFailed",
			Metadata:            map[string]string{"revision": revision, "summary": "prod"},
			ReportingController: "gitopsd",
			ReportingInstance:   "gitopsd-0",
		},
		Kind:  events.KindFailure,
		Alert: "apps/on-call",
		Count: 1,
		Since: stamp,
	}
}

// resolved is the resolution of failure().
func resolved() *events.Notification {
	n := failure()
	prev := n.Event
	n.Kind = events.KindResolved
	n.Event.Severity = events.SeverityInfo
	n.Event.Reason = "ReconciliationSucceeded"
	n.Event.Message = "resolved after 3 failures in 15m: applied revision " + revision
	n.Event.Timestamp = metav1.NewTime(stamp.Add(15 * time.Minute))
	n.Count = 3
	n.Resolves = &prev
	return n
}

// info is an info notification about a new revision.
func info() *events.Notification {
	n := failure()
	n.Kind = events.KindInfo
	n.Event.Severity = events.SeverityInfo
	n.Event.Reason = "ReconciliationSucceeded"
	n.Event.Message = "applied revision " + revision
	return n
}

// want is the request a provider must send.
type want struct {
	method  string
	path    string            // URL.Path
	rawPath string            // escaped path, when it must differ from path
	query   string            // raw query
	header  map[string]string // each must be present with this value
	json    string            // the body, compared as JSON
	form    url.Values        // the body, compared as a form
	raw     func(t *testing.T, body []byte)
}

type providerCase struct {
	name  string
	typ   string
	cfg   func(base string) providers.Config
	n     func() *events.Notification
	reply *eventstest.Reply
	want  want
}

func (c providerCase) notification() *events.Notification {
	if c.n == nil {
		return failure()
	}
	return c.n()
}

// runCases sends each case's notification to a ProviderSink and checks the
// one request it receives.
func runCases(t *testing.T, cases []providerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := eventstest.NewProviderSink(t)
			if tc.reply != nil {
				sink.Reply(tc.reply.Status, tc.reply.Body)
			}
			p, err := providers.Default().New(tc.typ, tc.cfg(sink.URL()))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := p.Post(t.Context(), tc.notification()); err != nil {
				t.Fatalf("Post: %v", err)
			}
			reqs := sink.Requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			checkRequest(t, reqs[0], tc.want)
		})
	}
}

func checkRequest(t *testing.T, r eventstest.Request, w want) {
	t.Helper()
	if r.Method != w.method {
		t.Errorf("method %s, want %s", r.Method, w.method)
	}
	if r.Path != w.path {
		t.Errorf("path %q, want %q", r.Path, w.path)
	}
	if w.rawPath != "" && r.RawPath != w.rawPath {
		t.Errorf("escaped path %q, want %q", r.RawPath, w.rawPath)
	}
	if r.RawQuery != w.query {
		t.Errorf("query %q, want %q", r.RawQuery, w.query)
	}
	for k, v := range w.header {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s: %q, want %q", k, got, v)
		}
	}
	if got := r.Header.Get("User-Agent"); !strings.HasPrefix(got, "gitopskit-events/") {
		t.Errorf("User-Agent %q", got)
	}
	switch {
	case w.json != "":
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		var got, exp any
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
		}
		if err := json.Unmarshal([]byte(w.json), &exp); err != nil {
			t.Fatalf("bad expected JSON: %v", err)
		}
		if d := cmp.Diff(exp, got); d != "" {
			t.Errorf("body (-want +got):\n%s\ngot: %s", d, r.Body)
		}
	case w.form != nil:
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q", ct)
		}
		got, err := url.ParseQuery(string(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(w.form, got); d != "" {
			t.Errorf("form (-want +got):\n%s", d)
		}
	case w.raw != nil:
		w.raw(t, r.Body)
	default:
		t.Fatal("case checks no body")
	}
}

// echoServer answers every request with status and a body that repeats
// the whole request back: URL, headers and body — a hostile or careless
// service. Errors built from its answers must still carry no credential.
func echoServer(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL.RequestURI())
		for k, vs := range r.Header {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(vs, ","))
		}
		buf := make([]byte, 4096)
		n, _ := r.Body.Read(buf)
		b.Write(buf[:n])
		w.WriteHeader(status)
		fmt.Fprint(w, b.String())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// leaks lists the credentials of cfg found in s.
func leaks(s string, cfg providers.Config) []string {
	var out []string
	for _, sec := range []string{secret, password, hookPath, strings.TrimPrefix(hookPath, "/hooks/"), "s3cret"} {
		if strings.Contains(s, sec) {
			out = append(out, sec)
		}
	}
	for _, v := range cfg.Headers {
		if strings.Contains(s, v) {
			out = append(out, v)
		}
	}
	return out
}

func mustPermanent(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, events.ErrPermanent) {
		t.Errorf("error is not permanent: %v", err)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func checkJSON(t *testing.T, body []byte, want string) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad expected JSON: %v", err)
	}
	if d := cmp.Diff(exp, got); d != "" {
		t.Errorf("body (-want +got):\n%s\ngot: %s", d, body)
	}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func tlsConfig(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
