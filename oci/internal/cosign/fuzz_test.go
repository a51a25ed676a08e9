package cosign

import (
	"bytes"
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
