package receivers_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gitopskit/kit/events/receivers"
)

// FuzzParsers feeds every payload parser the same bytes: none may panic,
// and each either reads a payload or fails with ErrInvalidPayload.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{githubPush, gitlabPush, bbServerPush, bbCloudPush, harborPush, dockerhubPush, quayPush, nexusPush, cdevent, "{}", "null", "[", `{"push":{"changes":[{"new":null}]}}`} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte("payload=%7B%7D"), "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		check := func(name string, err error) {
			if err != nil && !errors.Is(err, receivers.ErrInvalidPayload) {
				t.Fatalf("%s: untyped error %v", name, err)
			}
		}
		_, err := receivers.ParseGitHub(contentType, body)
		check("github", err)
		_, err = receivers.ParseGitLab(body)
		check("gitlab", err)
		_, err = receivers.ParseBitbucket(body)
		check("bitbucket", err)
		p, ev, err := receivers.ParseHarbor(body)
		check("harbor", err)
		if err == nil && (ev == "" || len(p.Tags) > 100) {
			t.Fatalf("harbor: event %q, %d tags", ev, len(p.Tags))
		}
		p, err = receivers.ParseDockerHub(body)
		check("dockerhub", err)
		if err == nil && p.Repository == "" {
			t.Fatal("dockerhub: accepted without a repository")
		}
		p, err = receivers.ParseQuay(body)
		check("quay", err)
		if err == nil && len(p.Tags) > 100 {
			t.Fatalf("quay: %d tags", len(p.Tags))
		}
		_, err = receivers.ParseNexus(body)
		check("nexus", err)
		typ, _, err := receivers.ParseCDEvent("", body)
		check("cdevents", err)
		if err == nil && typ == "" {
			t.Fatal("cdevents: accepted without a type")
		}
	})
}

// FuzzVerify: with a fixed token, a request with a fuzzed body and
// signature headers is accepted by a signed type only when the signature
// is the body's real one — a fuzzer that finds another way in found a
// forgery.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(githubPush), sign256(token, githubPush), "push", token)
	f.Add([]byte(nexusPush), sign1(token, nexusPush), "x", "")
	f.Add([]byte("{}"), "sha256=", "", "x")
	f.Fuzz(func(t *testing.T, body []byte, sig, event, tok string) {
		for _, tc := range []struct {
			typ    string
			header string
			valid  string
		}{
			{receivers.TypeGitHub, "X-Hub-Signature-256", sign256(token, string(body))},
			{receivers.TypeGenericHMAC, "X-Signature", sign256(token, string(body))},
			{receivers.TypeBitbucket, "X-Hub-Signature", sign256(token, string(body))},
			{receivers.TypeNexus, "X-Nexus-Webhook-Signature", sign1(token, string(body))},
			{receivers.TypeGitLab, "X-Gitlab-Token", token},
			{receivers.TypeHarbor, "Authorization", token},
		} {
			h := http.Header{}
			h.Set(tc.header, sig)
			h.Set("X-GitHub-Event", event)
			h.Set("X-Gitlab-Token", tok)
			if tc.typ != receivers.TypeGitLab {
				h.Set(tc.header, sig)
			}
			_, err := receivers.Verify(&receivers.Receiver{Type: tc.typ, Token: token}, h, body)
			authed := err == nil || errors.Is(err, receivers.ErrInvalidPayload) || errors.Is(err, receivers.ErrIgnored)
			if authed && h.Get(tc.header) != tc.valid && !(tc.typ == receivers.TypeGenericHMAC && sha512Valid(sig, body)) {
				t.Fatalf("%s accepted %s=%q for a body whose signature is %q", tc.typ, tc.header, h.Get(tc.header), tc.valid)
			}
		}
	})
}

func sha512Valid(sig string, body []byte) bool {
	_, err := receivers.Verify(&receivers.Receiver{Type: receivers.TypeGenericHMAC, Token: token}, http.Header{"X-Signature": {sig}}, body)
	return err == nil && len(sig) == len("sha512=")+128
}
