package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/events"
)

// fluxEvent is an event as Flux's kustomize-controller posts it.
const fluxEvent = `{
  "involvedObject": {
    "kind": "Kustomization",
    "namespace": "flux-system",
    "name": "apps",
    "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632",
    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
    "resourceVersion": "56921"
  },
  "severity": "info",
  "timestamp": "2024-05-01T12:00:00Z",
  "message": "Deployment/default/podinfo configured",
  "reason": "ReconciliationSucceeded",
  "metadata": {
    "kustomize.toolkit.fluxcd.io/revision": "main@sha1:0123456789abcdef0123456789abcdef01234567",
    "kustomize.toolkit.fluxcd.io/token": "1f0c",
    "event.toolkit.fluxcd.io/env": "prod"
  },
  "reportingController": "kustomize-controller",
  "reportingInstance": "kustomize-controller-7f5d6c8b9-x2x5q"
}`

func validEvent() events.Event {
	return events.Event{
		InvolvedObject:      corev1.ObjectReference{Kind: "GitRepository", Namespace: "apps", Name: "podinfo", APIVersion: "source.gitopskit.dev/v1"},
		Severity:            events.SeverityError,
		Timestamp:           metav1.NewTime(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)),
		Message:             "fetch failed",
		Reason:              "GitOperationFailed",
		Metadata:            map[string]string{"source.gitopskit.dev/revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"},
		ReportingController: "gitopsd",
	}
}

func TestDecodeFluxEvent(t *testing.T) {
	e, err := events.Decode(strings.NewReader(fluxEvent), events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if e.ObjectGroup() != "kustomize.toolkit.fluxcd.io" || e.ObjectKey() != "Kustomization/flux-system/apps" {
		t.Errorf("group %q key %q", e.ObjectGroup(), e.ObjectKey())
	}
	if rev, ok := e.Revision(); !ok || rev != "main@sha1:0123456789abcdef0123456789abcdef01234567" {
		t.Errorf("Revision = %q, %v", rev, ok)
	}
	if v, ok := e.MetadataValue("env"); !ok || v != "prod" {
		t.Errorf("env = %q, %v (Flux's event group prefix)", v, ok)
	}
	// Round trip: what we encode is what Flux sent, field for field.
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal([]byte(fluxEvent), &a)
	_ = json.Unmarshal(out, &b)
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("round trip (-flux +ours):\n%s", d)
	}
}

func TestDecodeRefuses(t *testing.T) {
	long := strings.Repeat("x", 300)
	mutate := func(f func(m map[string]any)) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(fluxEvent), &m)
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	obj := func(m map[string]any) map[string]any { return m["involvedObject"].(map[string]any) }
	cases := map[string]struct {
		in    string
		field string
	}{
		"not JSON":             {`{"involvedObject":`, ""},
		"array":                {`[]`, ""},
		"trailing data":        {fluxEvent + `{}`, ""},
		"wrong type":           {mutate(func(m map[string]any) { m["severity"] = 3 }), ""},
		"no kind":              {mutate(func(m map[string]any) { delete(obj(m), "kind") }), "involvedObject.kind"},
		"no name":              {mutate(func(m map[string]any) { obj(m)["name"] = "" }), "involvedObject.name"},
		"long name":            {mutate(func(m map[string]any) { obj(m)["name"] = long }), "involvedObject.name"},
		"newline in name":      {mutate(func(m map[string]any) { obj(m)["name"] = "a\nb" }), "involvedObject.name"},
		"escape in namespace":  {mutate(func(m map[string]any) { obj(m)["namespace"] = "a\x1b[31m" }), "involvedObject.namespace"},
		"bidi-free C1 in kind": {mutate(func(m map[string]any) { obj(m)["kind"] = "K\u0085" }), "involvedObject.kind"},
		"bad severity":         {mutate(func(m map[string]any) { m["severity"] = "warning" }), "severity"},
		"no severity":          {mutate(func(m map[string]any) { delete(m, "severity") }), "severity"},
		"no timestamp":         {mutate(func(m map[string]any) { delete(m, "timestamp") }), "timestamp"},
		"no reason":            {mutate(func(m map[string]any) { m["reason"] = "" }), "reason"},
		"no controller":        {mutate(func(m map[string]any) { delete(m, "reportingController") }), "reportingController"},
		"empty metadata key":   {mutate(func(m map[string]any) { m["metadata"] = map[string]any{"": "x"} }), "metadata key"},
		"long metadata value":  {mutate(func(m map[string]any) { m["metadata"] = map[string]any{"k": strings.Repeat("v", 16<<10+1)} }), `metadata."k"`},
		"too many metadata": {mutate(func(m map[string]any) {
			md := map[string]any{}
			for i := range 101 {
				md[strings.Repeat("k", i+1)] = "v"
			}
			m["metadata"] = md
		}), "metadata"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := events.Decode(strings.NewReader(tc.in), events.Limits{})
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var ve *events.ValidationError
			if tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field) {
				t.Errorf("err = %v, want field %s", err, tc.field)
			}
		})
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	big := strings.Replace(fluxEvent, `"Deployment/default/podinfo configured"`, `"`+strings.Repeat("a", 2000)+`"`, 1)
	if _, err := events.Decode(strings.NewReader(big), events.Limits{MaxBytes: 1000}); !errors.Is(err, events.ErrTooLarge) {
		t.Errorf("over MaxBytes: %v", err)
	}
	if _, err := events.Decode(strings.NewReader(big), events.Limits{MaxBytes: int64(len(big))}); err != nil {
		t.Errorf("at MaxBytes: %v", err)
	}
	if _, err := events.Decode(strings.NewReader(big), events.Limits{MaxBytes: -1}); err != nil {
		t.Errorf("no limit: %v", err)
	}
	// The default limit is 3 MiB.
	huge := strings.Replace(fluxEvent, `"Deployment/default/podinfo configured"`, `"`+strings.Repeat("a", 3<<20)+`"`, 1)
	if _, err := events.Decode(strings.NewReader(huge), events.Limits{}); !errors.Is(err, events.ErrTooLarge) {
		t.Errorf("over the default: %v", err)
	}
}

func TestLongMessageIsCapped(t *testing.T) {
	msg := strings.Repeat("é", events.MaxMessageLength+10)
	in := strings.Replace(fluxEvent, `"Deployment/default/podinfo configured"`, `"`+msg+`"`, 1)
	e, err := events.Decode(strings.NewReader(in), events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(e.Message); n != events.MaxMessageLength || !strings.HasSuffix(e.Message, "…") {
		t.Errorf("message has %d characters", n)
	}
	ev := validEvent()
	ev.Message = msg
	if err := ev.Validate(events.Limits{}); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("Validate of an over-long message: %v", err)
	}
	exact := strings.Repeat("é", events.MaxMessageLength)
	if got := events.TruncateMessage(exact); got != exact {
		t.Error("a message of exactly the maximum was cut")
	}
	if got := events.TruncateMessage("a\xffb"); got != "a\uFFFDb" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}

func TestDecodeErrorsDoNotQuoteInput(t *testing.T) {
	const marker = "SECRET-VALUE-42"
	for _, in := range []string{
		`{"severity": "` + marker + `"}`,
		`{"involvedObject": "` + marker + `"}`,
		`{"message": ` + marker + `}`,
		`{"metadata": {"k": 1, "` + marker + `": 2}}`,
	} {
		_, err := events.Decode(strings.NewReader(in), events.Limits{})
		if err == nil || strings.Contains(err.Error(), marker) {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestMetadataLookup(t *testing.T) {
	e := validEvent()
	e.Metadata = map[string]string{
		"source.gitopskit.dev/originRevision": "main@sha1:1111111111111111111111111111111111111111",
		"event.gitopskit.dev/team":            "platform",
		"commit":                              "2222222222222222222222222222222222222222",
	}
	if v, _ := e.Revision(); v != "2222222222222222222222222222222222222222" {
		t.Errorf("commit first: %q", v)
	}
	delete(e.Metadata, "commit")
	if v, _ := e.Revision(); v != "main@sha1:1111111111111111111111111111111111111111" {
		t.Errorf("then originRevision: %q", v)
	}
	if v, _ := e.MetadataValue("team"); v != "platform" {
		t.Errorf("team %q", v)
	}
	e.Metadata = nil
	if _, ok := e.Revision(); ok {
		t.Error("revision without metadata")
	}
}

func TestCommitStatusFromEvent(t *testing.T) {
	e := validEvent()
	cs, err := events.NewCommitStatus(&e, "7d0cdc51-ddcf-4743")
	if err != nil {
		t.Fatal(err)
	}
	want := &events.CommitStatus{Commit: "0123456789abcdef0123456789abcdef01234567", State: events.CommitFailure,
		Context: "gitrepository/podinfo/7d0cdc51", Description: "git operation failed"}
	if d := cmp.Diff(want, cs); d != "" {
		t.Error(d)
	}
	e.Severity, e.Reason = events.SeverityInfo, "Progressing"
	if cs, _ := events.NewCommitStatus(&e, ""); cs.State != events.CommitPending || cs.Context != "gitrepository/podinfo" {
		t.Errorf("%+v", cs)
	}
	e.Reason = "ReconciliationSucceeded"
	if cs, _ := events.NewCommitStatus(&e, ""); cs.State != events.CommitSuccess {
		t.Errorf("%+v", cs)
	}
	for _, rev := range []string{"v1.0.0@sha256:" + strings.Repeat("a", 64), "main/" + strings.Repeat("b", 40), strings.Repeat("c", 40)} {
		e.Metadata = map[string]string{"revision": rev}
		if _, err := events.NewCommitStatus(&e, ""); err != nil {
			t.Errorf("%s: %v", rev, err)
		}
	}
	for _, rev := range []string{"latest", "v1.0.0@blake3:" + strings.Repeat("a", 64)} {
		e.Metadata = map[string]string{"revision": rev}
		if _, err := events.NewCommitStatus(&e, ""); !errors.Is(err, events.ErrNoRevision) || !errors.Is(err, events.ErrPermanent) {
			t.Errorf("%s: %v", rev, err)
		}
	}
}

func TestSplitCamelCase(t *testing.T) {
	for in, want := range map[string][]string{
		"ReconciliationFailed": {"Reconciliation", "Failed"},
		"HTTPError":            {"HTTP", "Error"},
		"ArtifactUpToDate":     {"Artifact", "Up", "To", "Date"},
		"Progressing":          {"Progressing"},
		"":                     nil,
		"v2Ready":              {"v", "2", "Ready"},
	} {
		if d := cmp.Diff(want, events.SplitCamelCase(in)); d != "" {
			t.Errorf("%q: %s", in, d)
		}
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("HTTP 400")
	err := events.Permanent(base)
	if !errors.Is(err, events.ErrPermanent) || !errors.Is(err, base) || err.Error() != "HTTP 400" {
		t.Errorf("%v", err)
	}
	if events.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
}

func TestDeepCopy(t *testing.T) {
	e := validEvent()
	c := e.DeepCopy()
	c.Metadata["x"] = "y"
	if _, ok := e.Metadata["x"]; ok {
		t.Error("copy shares metadata")
	}
}

// FuzzDecode: whatever the input, Decode either fails with ErrInvalid or
// ErrTooLarge and quotes none of it, or returns an event that validates,
// re-encodes and decodes to the same event.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(fluxEvent))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"involvedObject":{"kind":"K","name":"n"},"severity":"trace","timestamp":"2024-01-01T00:00:00Z","message":"","reason":"R","reportingController":"c"}`))
	f.Add([]byte(`{"metadata":{"a":"b"},"timestamp":null}`))
	f.Add([]byte(`{"involvedObject":{"kind":"K","name":"n"},"severity":"info","timestamp":"2024-01-01T00:00:00.999+02:00","message":"m","reason":"R","reportingController":"c"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := events.Decode(bytes.NewReader(data), events.Limits{MaxBytes: 1 << 16})
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) && !errors.Is(err, events.ErrTooLarge) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if err := e.Validate(events.Limits{}); err != nil {
			t.Fatalf("decoded event does not validate: %v", err)
		}
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := events.Decode(bytes.NewReader(out), events.Limits{MaxBytes: -1})
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v", err)
		}
		if !e.Timestamp.Equal(&e2.Timestamp) {
			t.Fatalf("timestamp changed: %v → %v", e.Timestamp, e2.Timestamp)
		}
		e2.Timestamp = e.Timestamp
		if d := cmp.Diff(e, e2); d != "" {
			t.Fatalf("round trip changed the event:\n%s", d)
		}
	})
}
