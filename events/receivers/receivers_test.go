package receivers_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/kit/events/receivers"
)

const token = "6d1d1b1f32a04c9a"

func sign256(key, body string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func sign1(key, body string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func TestWebhookPathIsFlux(t *testing.T) {
	// sha256("6d1d1b1f32a04c9a" + "github-receiver" + "flux-system"), as
	// Flux's Receiver.GetWebhookPath computes it.
	want := "/hook/2cb2aaafc92d6f2ec5f79138480d86b9523ad2ae43e9d1965e7666f4d9c9a67f"
	if got := receivers.WebhookPath(token, "github-receiver", "flux-system"); got != want {
		t.Errorf("%s, want %s", got, want)
	}
	r := receivers.Receiver{Token: token, Name: "github-receiver", Namespace: "flux-system"}
	if r.Path() != want {
		t.Error("Receiver.Path differs")
	}
	if receivers.WebhookPath(token+"x", "github-receiver", "flux-system") == want {
		t.Error("the path does not depend on the token")
	}
}

// Payloads as the services document them (trimmed).
const (
	githubPush    = `{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"0123456789abcdef0123456789abcdef01234567","repository":{"id":1,"full_name":"org/app","private":true},"pusher":{"name":"bob"}}`
	gitlabPush    = `{"object_kind":"push","ref":"refs/heads/main","before":"95790bf8","after":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","project":{"id":15,"path_with_namespace":"group/app"}}`
	bbServerPush  = `{"eventKey":"repo:refs_changed","date":"2017-09-19T09:58:11+1000","repository":{"slug":"app","project":{"key":"PROJ"}},"changes":[{"ref":{"id":"refs/heads/main","displayId":"main","type":"BRANCH"},"refId":"refs/heads/main","fromHash":"ecddabb624f6f5ba43816f5926e580a5f680a932","toHash":"178864a7d521b6f5e720b386b2c2b0ef8563e0dc","type":"UPDATE"}]}`
	bbCloudPush   = `{"push":{"changes":[{"new":{"type":"branch","name":"main","target":{"type":"commit","hash":"709d658dc5b6d6afcd46049c2f332ee3f515a67d"}}}]},"repository":{"full_name":"ws/app"}}`
	harborPush    = `{"type":"PUSH_ARTIFACT","occur_at":1680501893,"operator":"admin","event_data":{"resources":[{"digest":"sha256:954b378c","tag":"v1.2.3","resource_url":"harbor.example.com/library/app:v1.2.3"}],"repository":{"name":"app","namespace":"library","repo_full_name":"library/app","repo_type":"private"}}}`
	dockerhubPush = `{"callback_url":"https://registry.hub.docker.com/u/org/app/hook/abc/","push_data":{"pushed_at":1417566161,"pusher":"bob","tag":"latest"},"repository":{"name":"app","namespace":"org","repo_name":"org/app","repo_url":"https://registry.hub.docker.com/u/org/app/"}}`
	quayPush      = `{"repository":"org/app","namespace":"org","name":"app","docker_url":"quay.io/org/app","homepage":"https://quay.io/repository/org/app","updated_tags":["v1.2.3","latest"]}`
	nexusPush     = `{"timestamp":"2016-11-10T23:57:49.664+0000","nodeId":"52905B51","initiator":"admin/127.0.0.1","repositoryName":"docker-hosted","action":"CREATED","component":{"id":"08909bf0c86cf6c9","format":"docker","name":"app","version":"1.2.3"}}`
	cdevent       = `{"context":{"version":"0.4.1","id":"271069a8-fc18-44f1-b38f-9d70a1695819","source":"/event/source/123","type":"dev.cdevents.artifact.published.0.2.0","timestamp":"2023-03-20T14:27:05.315384Z"},"subject":{"id":"pkg:oci/app@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427","source":"/event/source/123","type":"artifact","content":{}}}`
)

type reqSpec struct {
	header http.Header
	body   string
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// TestVerify checks each type with a real signature, and every way of
// getting the authentication wrong.
func TestVerify(t *testing.T) {
	resources := []receivers.Resource{{APIVersion: "source.gitopskit.dev/v1", Kind: "GitRepository", Name: "app"}}
	cases := []struct {
		typ     string
		events  []string
		good    reqSpec
		want    receivers.Request
		bad     []reqSpec // each must be ErrUnauthorized
		ignored *reqSpec  // verified, outside Events
	}{
		{
			typ:  receivers.TypeGeneric,
			good: reqSpec{hdr(), ""},
			want: receivers.Request{},
		},
		{
			typ:  receivers.TypeGenericHMAC,
			good: reqSpec{hdr("X-Signature", sign256(token, `{"a":1}`)), `{"a":1}`},
			bad: []reqSpec{
				{hdr(), `{"a":1}`},
				{hdr("X-Signature", sign256(token, `{"a":2}`)), `{"a":1}`},
				{hdr("X-Signature", sign256("wrong", `{"a":1}`)), `{"a":1}`},
				{hdr("X-Signature", strings.Replace(sign256(token, `{"a":1}`), "sha256", "sha1", 1)), `{"a":1}`},
				{hdr("X-Signature", "sha256=zz"), `{"a":1}`},
				{hdr("X-Signature", strings.TrimPrefix(sign256(token, `{"a":1}`), "sha256=")), `{"a":1}`},
			},
		},
		{
			typ:    receivers.TypeGitHub,
			events: []string{"push"},
			good:   reqSpec{hdr("X-Hub-Signature-256", sign256(token, githubPush), "X-GitHub-Event", "push", "Content-Type", "application/json"), githubPush},
			want:   receivers.Request{Event: "push", Payload: receivers.Payload{Repository: "org/app", Ref: "refs/heads/main", Commit: "0123456789abcdef0123456789abcdef01234567"}},
			bad: []reqSpec{
				{hdr("X-GitHub-Event", "push"), githubPush},
				// SHA-1 signatures (X-Hub-Signature) are not enough.
				{hdr("X-Hub-Signature", "sha1="+sign1(token, githubPush), "X-GitHub-Event", "push"), githubPush},
				{hdr("X-Hub-Signature-256", sign256(token, githubPush+" "), "X-GitHub-Event", "push"), githubPush},
			},
			ignored: &reqSpec{hdr("X-Hub-Signature-256", sign256(token, githubPush), "X-GitHub-Event", "release"), githubPush},
		},
		{
			typ:    receivers.TypeGitLab,
			events: []string{"Push Hook", "Tag Push Hook"},
			good:   reqSpec{hdr("X-Gitlab-Token", token, "X-Gitlab-Event", "push hook"), gitlabPush},
			want:   receivers.Request{Event: "push hook", Payload: receivers.Payload{Repository: "group/app", Ref: "refs/heads/main", Commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}},
			bad: []reqSpec{
				{hdr("X-Gitlab-Event", "Push Hook"), gitlabPush},
				{hdr("X-Gitlab-Token", token+"x", "X-Gitlab-Event", "Push Hook"), gitlabPush},
				{hdr("X-Gitlab-Token", token[:4], "X-Gitlab-Event", "Push Hook"), gitlabPush},
			},
			ignored: &reqSpec{hdr("X-Gitlab-Token", token, "X-Gitlab-Event", "Issue Hook"), gitlabPush},
		},
		{
			typ:    receivers.TypeBitbucket,
			events: []string{"repo:refs_changed"},
			good:   reqSpec{hdr("X-Hub-Signature", sign256(token, bbServerPush), "X-Event-Key", "repo:refs_changed"), bbServerPush},
			want:   receivers.Request{Event: "repo:refs_changed", Payload: receivers.Payload{Repository: "PROJ/app", Ref: "refs/heads/main", Commit: "178864a7d521b6f5e720b386b2c2b0ef8563e0dc"}},
			bad: []reqSpec{
				{hdr("X-Event-Key", "repo:refs_changed"), bbServerPush},
				{hdr("X-Hub-Signature", sign256("other", bbServerPush), "X-Event-Key", "repo:refs_changed"), bbServerPush},
			},
			ignored: &reqSpec{hdr("X-Hub-Signature", sign256(token, bbServerPush), "X-Event-Key", "pr:opened"), bbServerPush},
		},
		{
			typ:  receivers.TypeBitbucket,
			good: reqSpec{hdr("X-Hub-Signature", sign256(token, bbCloudPush), "X-Event-Key", "repo:push"), bbCloudPush},
			want: receivers.Request{Event: "repo:push", Payload: receivers.Payload{Repository: "ws/app", Ref: "main", Commit: "709d658dc5b6d6afcd46049c2f332ee3f515a67d"}},
		},
		{
			typ:    receivers.TypeHarbor,
			events: []string{"PUSH_ARTIFACT"},
			good:   reqSpec{hdr("Authorization", token), harborPush},
			want:   receivers.Request{Event: "PUSH_ARTIFACT", Payload: receivers.Payload{Repository: "library/app", Tags: []string{"v1.2.3"}}},
			bad:    []reqSpec{{hdr(), harborPush}, {hdr("Authorization", "Bearer "+token), harborPush}},
		},
		{
			typ:  receivers.TypeDockerHub,
			good: reqSpec{hdr(), dockerhubPush},
			want: receivers.Request{Payload: receivers.Payload{Repository: "org/app", Tags: []string{"latest"}}},
		},
		{
			typ:  receivers.TypeQuay,
			good: reqSpec{hdr(), quayPush},
			want: receivers.Request{Payload: receivers.Payload{Repository: "quay.io/org/app", Tags: []string{"v1.2.3", "latest"}}},
		},
		{
			typ:  receivers.TypeNexus,
			good: reqSpec{hdr("X-Nexus-Webhook-Signature", sign1(token, nexusPush), "X-Nexus-Webhook-Id", "rm:repository:component"), nexusPush},
			want: receivers.Request{Event: "rm:repository:component", Payload: receivers.Payload{Repository: "docker-hosted", Tags: []string{"1.2.3"}}},
			bad: []reqSpec{
				{hdr(), nexusPush},
				{hdr("X-Nexus-Webhook-Signature", sign1("x", nexusPush)), nexusPush},
				{hdr("X-Nexus-Webhook-Signature", "sha1="+sign1(token, nexusPush)), nexusPush},
			},
		},
		{
			typ:     receivers.TypeCDEvents,
			events:  []string{"dev.cdevents.artifact.published.0.2.0"},
			good:    reqSpec{hdr("Ce-Type", "dev.cdevents.artifact.published.0.2.0", "Ce-Specversion", "1.0"), cdevent},
			want:    receivers.Request{Event: "dev.cdevents.artifact.published.0.2.0", Payload: receivers.Payload{Repository: "/event/source/123"}},
			ignored: &reqSpec{hdr(), strings.Replace(cdevent, "artifact.published.0.2.0", "artifact.packaged.0.2.0", 1)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			rcv := &receivers.Receiver{Type: tc.typ, Name: "r", Namespace: "apps", Token: token, Events: tc.events, Resources: resources}
			got, err := receivers.Verify(rcv, tc.good.header, []byte(tc.good.body))
			if err != nil {
				t.Fatalf("a correct request: %v", err)
			}
			want := tc.want
			want.Receiver = rcv
			want.Resources = []receivers.Resource{{APIVersion: "source.gitopskit.dev/v1", Kind: "GitRepository", Name: "app", Namespace: "apps"}}
			if d := cmp.Diff(&want, got); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
			for i, b := range tc.bad {
				if _, err := receivers.Verify(rcv, b.header, []byte(b.body)); !errors.Is(err, receivers.ErrUnauthorized) {
					t.Errorf("bad request %d: err = %v, want ErrUnauthorized", i, err)
				}
			}
			if tc.ignored != nil {
				if _, err := receivers.Verify(rcv, tc.ignored.header, []byte(tc.ignored.body)); !errors.Is(err, receivers.ErrIgnored) {
					t.Errorf("event outside the allow-list: %v", err)
				}
			}
			// No token: the signed and token types accept nothing.
			empty := *rcv
			empty.Token = ""
			if _, err := receivers.Verify(&empty, tc.good.header, []byte(tc.good.body)); len(tc.bad) > 0 && !errors.Is(err, receivers.ErrUnauthorized) {
				t.Errorf("empty token accepted: %v", err)
			}
		})
	}
}

func TestGitHubPingAndForm(t *testing.T) {
	rcv := &receivers.Receiver{Type: receivers.TypeGitHub, Token: token, Events: []string{"push"}}
	ping := `{"zen":"Keep it logically awesome.","hook_id":1}`
	got, err := receivers.Verify(rcv, hdr("X-Hub-Signature-256", sign256(token, ping), "X-GitHub-Event", "ping"), []byte(ping))
	if err != nil || !got.Ping {
		t.Errorf("ping: %+v, %v", got, err)
	}
	form := "payload=" + url.QueryEscape(githubPush)
	got, err = receivers.Verify(rcv, hdr("X-Hub-Signature-256", sign256(token, form), "X-GitHub-Event", "push", "Content-Type", "application/x-www-form-urlencoded"), []byte(form))
	if err != nil || got.Payload.Repository != "org/app" {
		t.Errorf("form-encoded push: %+v, %v", got, err)
	}
}

func TestInvalidPayloads(t *testing.T) {
	for _, tc := range []struct {
		typ, body string
		h         http.Header
	}{
		{receivers.TypeGitHub, `[]`, nil},
		{receivers.TypeGitHub, `{"ref": 5}`, nil},
		{receivers.TypeGitLab, `not json`, hdr("X-Gitlab-Token", token)},
		{receivers.TypeHarbor, `{"event_data":{}}`, hdr("Authorization", token)},
		{receivers.TypeDockerHub, `{"push_data":{"tag":"x"}}`, nil},
		{receivers.TypeQuay, `{"updated_tags":["x"]}`, nil},
		{receivers.TypeQuay, `null`, nil},
		{receivers.TypeCDEvents, `{"context":{"version":"0.4.1","id":"1","source":"/s","type":"dev.cdevents.x","timestamp":"2023-03-20T14:27:05Z"},"subject":{"id":"s"}}`, nil},
		{receivers.TypeCDEvents, strings.Replace(cdevent, `"timestamp":"2023-03-20T14:27:05.315384Z"`, `"timestamp":"yesterday"`, 1), nil},
		{receivers.TypeCDEvents, cdevent, hdr("Ce-Type", "dev.cdevents.other.thing.0.1.0")},
		{receivers.TypeCDEvents, strings.Replace(cdevent, `"id":"pkg`, `"x":"pkg`, 1), nil},
	} {
		h := tc.h
		if h == nil {
			h = http.Header{}
		}
		body := tc.body
		if tc.typ == receivers.TypeGitHub {
			h.Set("X-Hub-Signature-256", sign256(token, body))
		}
		rcv := &receivers.Receiver{Type: tc.typ, Token: token}
		if _, err := receivers.Verify(rcv, h, []byte(body)); !errors.Is(err, receivers.ErrInvalidPayload) {
			t.Errorf("%s %s: %v", tc.typ, body, err)
		}
	}
	if _, err := receivers.Verify(&receivers.Receiver{Type: "svn"}, http.Header{}, nil); !errors.Is(err, receivers.ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
}

// handlerFixture serves one GitHub receiver and records triggers.
type handlerFixture struct {
	srv      *httptest.Server
	rcv      *receivers.Receiver
	mu       sync.Mutex
	triggers []*receivers.Request
	fail     error
}

func newHandlerFixture(t *testing.T, opts ...receivers.Option) *handlerFixture {
	f := &handlerFixture{rcv: &receivers.Receiver{Type: receivers.TypeGitHub, Name: "gh", Namespace: "apps", Token: token, Events: []string{"push"}}}
	lookup := receivers.LookupFunc(func(_ context.Context, path string) (*receivers.Receiver, error) {
		switch path {
		case f.rcv.Path():
			return f.rcv, nil
		case receivers.WebhookPath("suspended", "s", "apps"):
			return nil, receivers.ErrUnavailable
		case receivers.WebhookPath("broken", "b", "apps"):
			return nil, errors.New("cache not synced")
		}
		return nil, nil
	})
	h := receivers.NewHandler(lookup, func(_ context.Context, req *receivers.Request) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.triggers = append(f.triggers, req)
		return f.fail
	}, opts...)
	f.srv = httptestServer(t, h)
	return f
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func (f *handlerFixture) post(t *testing.T, path string, h http.Header, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *handlerFixture) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.triggers)
}

func TestHandler(t *testing.T) {
	f := newHandlerFixture(t, receivers.WithMaxBodyBytes(4096))
	path := f.rcv.Path()
	signed := func(event, body string) http.Header {
		return hdr("X-Hub-Signature-256", sign256(token, body), "X-GitHub-Event", event, "Content-Type", "application/json")
	}
	if code, _ := f.post(t, path, signed("push", githubPush), githubPush); code != http.StatusOK || f.count() != 1 {
		t.Errorf("signed push: %d, %d triggers", code, f.count())
	}
	// Every authentication failure looks the same: 401, an empty body.
	for i, h := range []http.Header{
		{},
		signed("push", githubPush+"x"),
		hdr("X-Hub-Signature-256", "sha256=", "X-GitHub-Event", "push"),
		hdr("X-Hub-Signature-256", sign256("guess", githubPush), "X-GitHub-Event", "push"),
	} {
		if code, body := f.post(t, path, h, githubPush); code != http.StatusUnauthorized || body != "" {
			t.Errorf("bad signature %d: %d %q", i, code, body)
		}
	}
	ping := `{"zen":"x"}`
	for _, tc := range []struct {
		name, path string
		h          http.Header
		body       string
		code       int
	}{
		{"ping", path, signed("ping", ping), ping, http.StatusOK},
		{"other event", path, signed("issues", githubPush), githubPush, http.StatusAccepted},
		{"malformed", path, signed("push", "{"), "{", http.StatusBadRequest},
		{"too large", path, signed("push", strings.Repeat("x", 5000)), strings.Repeat("x", 5000), http.StatusRequestEntityTooLarge},
		{"unknown path", receivers.WebhookPath("other", "gh", "apps"), signed("push", githubPush), githubPush, http.StatusNotFound},
		{"outside the prefix", "/" + strings.TrimPrefix(path, receivers.PathPrefix), signed("push", githubPush), githubPush, http.StatusNotFound},
		{"traversal", receivers.PathPrefix + "../" + strings.TrimPrefix(path, receivers.PathPrefix), signed("push", githubPush), githubPush, http.StatusNotFound},
		{"suspended", receivers.WebhookPath("suspended", "s", "apps"), nil, "", http.StatusServiceUnavailable},
		{"lookup fails", receivers.WebhookPath("broken", "b", "apps"), nil, "", http.StatusInternalServerError},
	} {
		if code, _ := f.post(t, tc.path, tc.h, tc.body); code != tc.code {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.code)
		}
	}
	if f.count() != 1 {
		t.Errorf("%d triggers, want only the first push's", f.count())
	}
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	f.fail = errors.New("api server down")
	if code, _ := f.post(t, path, signed("push", githubPush), githubPush); code != http.StatusInternalServerError {
		t.Errorf("trigger failure: %d, want 500 so the sender retries", code)
	}
}

func TestServerTimeouts(t *testing.T) {
	s := receivers.NewHandler(nil, nil).Server(":9292")
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.MaxHeaderBytes == 0 {
		t.Errorf("%+v", s)
	}
}

func TestTypes(t *testing.T) {
	if n := len(receivers.Types()); n != 10 {
		t.Errorf("%d types", n)
	}
}
