package oci_test

import (
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

// pushApp pushes the app to repo:v1 and returns its digest reference.
func pushApp(t *testing.T, c *oci.Client, reg *ocitest.Registry, repo string) string {
	t.Helper()
	d, err := c.Push(ctx(t), reg.Repo(repo)+":v1", writeTree(t, appFiles), oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return reg.Repo(repo) + "@" + d
}

func TestVerifyCosignKey(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	signer := ocitest.NewSigner(t)
	keys, err := oci.ParsePublicKeys(signer.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	signed := pushApp(t, c, reg, "signed")
	reg.Sign(t, signer, signed)
	unsigned := pushApp(t, c, reg, "unsigned")
	other := ocitest.NewSigner(t)
	wrongKey := pushApp(t, c, reg, "wrongkey")
	reg.Sign(t, other, wrongKey)

	res, err := c.Verify(ctx(t), reg.Repo("signed")+":v1", oci.VerifyOptions{PublicKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "cosign-key", res.Method)
	diff(t, signed[strings.LastIndex(signed, "@")+1:], res.Digest)

	// Either of several keys will do.
	if _, err := c.Verify(ctx(t), signed, oci.VerifyOptions{PublicKeys: []crypto.PublicKey{other.PublicKey(), signer.PublicKey()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx(t), unsigned, oci.VerifyOptions{PublicKeys: keys}); !errors.Is(err, oci.ErrNoSignature) {
		t.Fatalf("unsigned: want ErrNoSignature, got %v", err)
	}
	_, err = c.Verify(ctx(t), wrongKey, oci.VerifyOptions{PublicKeys: keys})
	var ve *oci.VerificationError
	if !errors.Is(err, oci.ErrUntrusted) || !errors.As(err, &ve) || len(ve.Reasons) != 1 {
		t.Fatalf("wrong key: want *VerificationError, got %v", err)
	}

	// Pull with Verify: nothing is written for an untrusted artifact.
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := c.Pull(ctx(t), wrongKey, dst, oci.PullOptions{Verify: &oci.VerifyOptions{PublicKeys: keys}}); !errors.Is(err, oci.ErrUntrusted) {
		t.Fatalf("pull untrusted: got %v", err)
	}
	assertNothingAt(t, dst)
	if _, err := c.Pull(ctx(t), reg.Repo("signed")+":v1", dst, oci.PullOptions{Verify: &oci.VerifyOptions{PublicKeys: keys}}); err != nil {
		t.Fatal(err)
	}
	diff(t, appFiles, readTree(t, dst))
}

// A signature over another artifact's digest, re-tagged onto this one, is
// not trusted even though the key matches.
func TestVerifyCosignKeyReplayedSignature(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	signer := ocitest.NewSigner(t)
	a := pushApp(t, c, reg, "a")
	reg.Sign(t, signer, a)
	bRef := reg.Repo("a") + ":v2"
	bDigest, err := c.Push(ctx(t), bRef, writeTree(t, map[string]string{"evil": "x"}), oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := reg.Repo("a") + "@" + bDigest
	sigTag := func(d string) string { return "sha256-" + d[strings.LastIndex(d, ":")+1:] + ".sig" }
	if err := c.Tag(ctx(t), reg.Repo("a")+":"+sigTag(a), sigTag(b)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(ctx(t), b, oci.VerifyOptions{PublicKeys: []crypto.PublicKey{signer.PublicKey()}})
	if !errors.Is(err, oci.ErrUntrusted) || !strings.Contains(err.Error(), "not this manifest") {
		t.Fatalf("replayed signature: got %v", err)
	}
}

const (
	signerIdentity = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
	signerIssuer   = "https://token.actions.githubusercontent.com"
)

// keylessBundle signs digest ("sha256:<hex>") with the virtual Sigstore's
// Fulcio-style certificate for identity, as cosign's new bundle format does:
// a DSSE envelope over an in-toto statement whose subject is the manifest,
// with a transparency log entry (inclusion proof) and an RFC 3161 timestamp.
func keylessBundle(t *testing.T, vs *ca.VirtualSigstore, digest, identity, issuer string) []byte {
	t.Helper()
	stmt, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "artifact", "digest": map[string]string{"sha256": strings.TrimPrefix(digest, "sha256:")}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	ent, err := vs.AttestAtTime(identity, issuer, stmt, fixedNow(), true)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	env := sc.(*bundle.Envelope).RawEnvelope()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	tlogs, _ := ent.TlogEntries()
	tle := tlogs[0].TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	tss, _ := ent.Timestamps()
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{
				Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tss[0]}},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: sig, Keyid: env.Signatures[0].KeyID}},
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestVerifyKeyless(t *testing.T) {
	t.Parallel()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	reg := ocitest.New(t)
	c := newClient(t, reg)
	d := pushApp(t, c, reg, "keyless")
	digest := d[strings.LastIndex(d, "@")+1:]
	reg.AttachBundle(t, d, keylessBundle(t, vs, digest, signerIdentity, signerIssuer))

	// A bundle for another digest attached to a second artifact.
	d2 := pushApp(t, c, reg, "keyless-other")
	otherDigest := "sha256:" + hex.EncodeToString(make([]byte, 32))
	reg.AttachBundle(t, d2, keylessBundle(t, vs, otherDigest, signerIdentity, signerIssuer))

	// An untrusted root: another virtual Sigstore.
	stranger, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	good := oci.Identity{Issuer: signerIssuer, SubjectRegexp: `^https://github\.com/org/app/`}
	tests := []struct {
		name string
		ref  string
		o    oci.KeylessOptions
		want error
	}{
		{"trusted", d, oci.KeylessOptions{TrustedMaterial: vs, Identities: []oci.Identity{good}, SkipSCT: true}, nil},
		{"second identity matches", d, oci.KeylessOptions{TrustedMaterial: vs, Identities: []oci.Identity{{Issuer: "https://accounts.google.com", Subject: "a@b.c"}, good}, SkipSCT: true}, nil},
		{"wrong subject", d, oci.KeylessOptions{TrustedMaterial: vs, Identities: []oci.Identity{{Issuer: signerIssuer, SubjectRegexp: `^https://github\.com/evil/`}}, SkipSCT: true}, oci.ErrUntrusted},
		{"wrong issuer", d, oci.KeylessOptions{TrustedMaterial: vs, Identities: []oci.Identity{{Issuer: "https://accounts.google.com", SubjectRegexp: ".*"}}, SkipSCT: true}, oci.ErrUntrusted},
		{"untrusted root", d, oci.KeylessOptions{TrustedMaterial: stranger, Identities: []oci.Identity{good}, SkipSCT: true}, oci.ErrUntrusted},
		{"SCT required by default", d, oci.KeylessOptions{TrustedMaterial: vs, Identities: []oci.Identity{good}}, oci.ErrUntrusted},
		{"bundle for another digest", d2, oci.KeylessOptions{TrustedMaterial: vs, Identities: []oci.Identity{good}, SkipSCT: true}, oci.ErrUntrusted},
		{"unsigned", pushApp(t, c, reg, "keyless-unsigned"), oci.KeylessOptions{TrustedMaterial: vs, Identities: []oci.Identity{good}, SkipSCT: true}, oci.ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Verify(ctx(t), tt.ref, oci.VerifyOptions{Keyless: &tt.o})
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("want %v, got %v", tt.want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			diff(t, &oci.VerifyResult{Digest: digest, Method: "sigstore-bundle", Subject: signerIdentity, Issuer: signerIssuer}, res)
		})
	}
}

// fixedNow is the integrated time of the virtual log entries: within the
// leaf certificate's validity, which starts now.
func fixedNow() time.Time { return time.Now().Add(time.Minute) }
