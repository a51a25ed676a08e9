package oci_test

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

// Annotation keys of cosign's classic keyless format, spelled out here so
// that the test checks the wire format rather than our own constants.
const (
	annSignature   = "dev.cosignproject.cosign/signature"
	annCertificate = "dev.sigstore.cosign/certificate"
	annChain       = "dev.sigstore.cosign/chain"
	annBundle      = "dev.sigstore.cosign/bundle"
)

// The classic keyless format — a sha256-<hex>.sig tag whose signature
// carries a Fulcio certificate and a Rekor bundle — verifies with the same
// checks as sigstore bundles: the certificate chains to the trusted root
// and has an SCT, the log's signed entry timestamp holds, the identity
// matches, and the payload names this manifest.
func TestVerifyKeylessClassic(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	signer := ocitest.NewKeylessSigner(t, signerIdentity, signerIssuer)
	stranger := ocitest.NewKeylessSigner(t, signerIdentity, signerIssuer)
	good := oci.Identity{Issuer: signerIssuer, SubjectRegexp: `^https://github\.com/org/app/`}
	trusted := func(ids ...oci.Identity) oci.VerifyOptions {
		if len(ids) == 0 {
			ids = []oci.Identity{good}
		}
		return oci.VerifyOptions{Keyless: &oci.KeylessOptions{TrustedMaterial: signer.TrustedRoot(), Identities: ids}}
	}

	signed := pushApp(t, c, reg, "classic")
	digest := reg.SignKeylessClassic(t, signer, signed)
	if want := signed[strings.LastIndex(signed, "@")+1:]; digest != want {
		t.Fatalf("signed %s, want %s", digest, want)
	}
	res, err := c.Verify(ctx(t), reg.Repo("classic")+":v1", trusted())
	if err != nil {
		t.Fatal(err)
	}
	diff(t, &oci.VerifyResult{Digest: digest, Method: "cosign-keyless", Subject: signerIdentity, Issuer: signerIssuer}, res)

	// Pull with Verify writes only what verified.
	dst := filepath.Join(t.TempDir(), "out")
	if _, err := c.Pull(ctx(t), signed, dst, oci.PullOptions{Verify: ptr(trusted())}); err != nil {
		t.Fatal(err)
	}
	diff(t, appFiles, readTree(t, dst))

	byStranger := pushApp(t, c, reg, "classic-stranger")
	reg.SignKeylessClassic(t, stranger, byStranger)

	for _, tc := range []struct {
		name string
		ref  string
		opts oci.VerifyOptions
		want string // in the error
	}{
		{"wrong subject", signed, trusted(oci.Identity{Issuer: signerIssuer, SubjectRegexp: `^https://github\.com/evil/`}), "keyless"},
		{"wrong issuer", signed, trusted(oci.Identity{Issuer: "https://accounts.google.com", SubjectRegexp: ".*"}), "keyless"},
		{"another instance's certificate", byStranger, trusted(), "keyless"},
		{"public keys only", signed, oci.VerifyOptions{PublicKeys: []crypto.PublicKey{ocitest.NewSigner(t).PublicKey()}}, "signature does not verify with the public keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Verify(ctx(t), tc.ref, tc.opts)
			var ve *oci.VerificationError
			if !errors.Is(err, oci.ErrUntrusted) || !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want *VerificationError saying %q, got %v", tc.want, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Every part of a classic keyless signature is checked: a signature that
// was tampered with, moved onto another manifest, lacks its log entry, or
// whose log entry was altered, is refused; the chain annotation is the
// signer's claim and is ignored (trust comes from the trusted root).
func TestVerifyKeylessClassicTampered(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	signer := ocitest.NewKeylessSigner(t, signerIdentity, signerIssuer)
	other := ocitest.NewKeylessSigner(t, "https://github.com/evil/x/.github/workflows/r.yaml@refs/heads/main", signerIssuer)
	opts := oci.VerifyOptions{Keyless: &oci.KeylessOptions{
		TrustedMaterial: signer.TrustedRoot(),
		Identities:      []oci.Identity{{Issuer: signerIssuer, Subject: signerIdentity}},
	}}

	type part struct {
		payload []byte
		ann     map[string]string
	}
	// sign returns a fresh artifact and a valid classic signature of it.
	n := 0
	sign := func(t *testing.T) (ref string, p part) {
		t.Helper()
		n++
		ref = pushApp(t, c, reg, "tampered-"+string(rune('a'+n)))
		at := strings.LastIndex(ref, "@")
		payload, ann := signer.ClassicSignature(t, ref[:at], ref[at+1:])
		return ref, part{payload, maps.Clone(ann)}
	}
	rekorBundle := func(t *testing.T, ann map[string]string, change func(map[string]any)) {
		t.Helper()
		var b map[string]any
		if err := json.Unmarshal([]byte(ann[annBundle]), &b); err != nil {
			t.Fatal(err)
		}
		change(b)
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		ann[annBundle] = string(raw)
	}

	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, ref string, p *part)
		want   string // in the error; "" means it verifies
	}{
		{"untouched", func(*testing.T, string, *part) {}, ""},
		{"chain replaced", func(t *testing.T, _ string, p *part) {
			_, o := other.ClassicSignature(t, "x/y", "sha256:"+strings.Repeat("0", 64))
			p.ann[annChain] = o[annCertificate]
		}, ""},
		{"payload replaced", func(t *testing.T, ref string, p *part) {
			p.payload = []byte(strings.Replace(string(p.payload), "cosign container image signature", "cosign container image signature ", 1))
		}, "keyless"},
		{"signature of another manifest", func(t *testing.T, _ string, p *part) {
			d, err := c.Push(ctx(t), reg.Repo("tampered-source")+":v1", writeTree(t, map[string]string{"evil": "x"}), oci.PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.payload, p.ann = signer.ClassicSignature(t, reg.Repo("tampered-source"), d)
		}, "not this manifest"},
		{"certificate of another signer", func(t *testing.T, _ string, p *part) {
			_, o := other.ClassicSignature(t, "x/y", "sha256:"+strings.Repeat("0", 64))
			p.ann[annCertificate] = o[annCertificate]
		}, "keyless"},
		{"certificate not PEM", func(t *testing.T, _ string, p *part) { p.ann[annCertificate] = "MIIB" }, "not one PEM certificate"},
		{"no Rekor bundle", func(t *testing.T, _ string, p *part) { delete(p.ann, annBundle) }, "no transparency log entry"},
		{"Rekor bundle not JSON", func(t *testing.T, _ string, p *part) { p.ann[annBundle] = "{" }, "invalid rekor bundle"},
		{"signed entry timestamp altered", func(t *testing.T, _ string, p *part) {
			rekorBundle(t, p.ann, func(b map[string]any) {
				set, _ := base64.StdEncoding.DecodeString(b["SignedEntryTimestamp"].(string))
				set[len(set)/2] ^= 1
				b["SignedEntryTimestamp"] = base64.StdEncoding.EncodeToString(set)
			})
		}, "keyless"},
		{"integrated time moved", func(t *testing.T, _ string, p *part) {
			rekorBundle(t, p.ann, func(b map[string]any) {
				pl := b["Payload"].(map[string]any)
				pl["integratedTime"] = pl["integratedTime"].(float64) - 3600
			})
		}, "keyless"},
		{"log entry of another signature", func(t *testing.T, _ string, p *part) {
			_, o := signer.ClassicSignature(t, "x/y", "sha256:"+strings.Repeat("1", 64))
			p.ann[annBundle] = o[annBundle]
		}, "keyless"},
		{"signature not base64", func(t *testing.T, _ string, p *part) { p.ann[annSignature] = "%%" }, "no base64 signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, p := sign(t)
			tc.tamper(t, ref, &p)
			reg.PushSignature(t, ref, p.payload, p.ann)
			res, err := c.Verify(ctx(t), ref, opts)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Method != "cosign-keyless" || res.Subject != signerIdentity {
					t.Errorf("result = %+v", res)
				}
				return
			}
			if !errors.Is(err, oci.ErrUntrusted) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want ErrUntrusted saying %q, got %v", tc.want, err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// A key-signed artifact verified with keyless options alone is refused,
// saying that the signature needs a key; both kinds of options together
// accept either kind of signature.
func TestVerifyKeyAndKeylessTogether(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c := newClient(t, reg)
	keySigner := ocitest.NewSigner(t)
	keyless := ocitest.NewKeylessSigner(t, signerIdentity, signerIssuer)
	byKey := pushApp(t, c, reg, "by-key")
	reg.Sign(t, keySigner, byKey)
	byCert := pushApp(t, c, reg, "by-cert")
	reg.SignKeylessClassic(t, keyless, byCert)
	ko := &oci.KeylessOptions{TrustedMaterial: keyless.TrustedRoot(), Identities: []oci.Identity{{Issuer: signerIssuer, Subject: signerIdentity}}}

	_, err := c.Verify(ctx(t), byKey, oci.VerifyOptions{Keyless: ko})
	if !errors.Is(err, oci.ErrUntrusted) || !strings.Contains(err.Error(), "made with a key") {
		t.Fatalf("key signature, keyless options: got %v", err)
	}
	both := oci.VerifyOptions{PublicKeys: []crypto.PublicKey{keySigner.PublicKey()}, Keyless: ko}
	for ref, method := range map[string]string{byKey: "cosign-key", byCert: "cosign-keyless"} {
		res, err := c.Verify(ctx(t), ref, both)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if res.Method != method {
			t.Errorf("%s: method %q, want %q", ref, res.Method, method)
		}
	}
}
