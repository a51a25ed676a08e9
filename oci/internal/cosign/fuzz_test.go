package cosign

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func FuzzParsePayload(f *testing.F) {
	good, _ := NewPayload("example.com/app", "sha256:"+string(bytes.Repeat([]byte("a"), 64)))
	f.Add(good)
	f.Add([]byte(`{"critical":{"type":"x"}}`))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":1}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			return
		}
		if p.Critical.Type != SignatureType || p.Critical.Image.DockerManifestDigest == "" {
			t.Fatalf("accepted payload without type or digest: %+v", p)
		}
	})
}

func TestPayloadRoundTrip(t *testing.T) {
	d := "sha256:" + string(bytes.Repeat([]byte("b"), 64))
	b, err := NewPayload("example.com/app", d)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePayload(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Critical.Image.DockerManifestDigest != d || p.Critical.Identity.DockerReference != "example.com/app" {
		t.Fatalf("round trip: %+v", p)
	}
	if got, want := SignatureTag(d), "sha256-"+d[7:]+".sig"; got != want {
		t.Fatalf("SignatureTag = %q, want %q", got, want)
	}
}

func FuzzParseRekorBundle(f *testing.F) {
	body, _ := HashedRekordBody(bytes.Repeat([]byte{1}, 32), []byte("sig"), []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	good, _ := json.Marshal(RekorBundle{SignedEntryTimestamp: []byte("set"), Payload: RekorPayload{
		Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: 1700000000, LogIndex: 7, LogID: strings.Repeat("ab", 32),
	}})
	f.Add(good)
	f.Add([]byte(`{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":""}}`))
	f.Add([]byte(`{"Payload":{"body":1}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseRekorBundle(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidRekorBundle) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(e.LogID) != 32 || len(e.Body) == 0 || e.Kind == "" || e.APIVersion == "" || len(e.SignedEntryTimestamp) == 0 ||
			e.IntegratedTime <= 0 || e.LogIndex < 0 {
			t.Fatalf("accepted an incomplete bundle: %+v", e)
		}
	})
}

func TestParseRekorBundle(t *testing.T) {
	body, err := HashedRekordBody(bytes.Repeat([]byte{1}, 32), []byte("sig"), []byte("pem"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(RekorBundle{SignedEntryTimestamp: []byte("set"), Payload: RekorPayload{
		Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: 1700000000, LogIndex: 7, LogID: strings.Repeat("ab", 32),
	}})
	e, err := ParseRekorBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != "hashedrekord" || e.APIVersion != "0.0.1" || !bytes.Equal(e.Body, body) || e.LogIndex != 7 || string(e.SignedEntryTimestamp) != "set" {
		t.Fatalf("parsed %+v", e)
	}
	for name, b := range map[string]string{
		"no SET":          `{"Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":"` + strings.Repeat("ab", 32) + `"}}`,
		"short log ID":    `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":"abab"}}`,
		"no kind":         `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","integratedTime":1,"logIndex":0,"logID":"` + strings.Repeat("ab", 32) + `"}}`,
		"negative index":  `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","integratedTime":1,"logIndex":-1,"logID":"` + strings.Repeat("ab", 32) + `"}}`,
		"body not base64": `{"SignedEntryTimestamp":"c2V0","Payload":{"body":"%%","integratedTime":1,"logIndex":0,"logID":"` + strings.Repeat("ab", 32) + `"}}`,
	} {
		if _, err := ParseRekorBundle([]byte(b)); !errors.Is(err, ErrInvalidRekorBundle) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
