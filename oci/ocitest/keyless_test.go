package ocitest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/gitopskit/kit/oci"
	"github.com/gitopskit/kit/oci/ocitest"
)

const (
	workflow = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
	actions  = "https://token.actions.githubusercontent.com"
)

// A bundle from the keyless signer verifies through oci.Verify against the
// trusted root it exports as JSON, with the default checks (SCT included);
// another identity or another instance's root is refused.
func TestKeylessSigner(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pushed, err := c.Push(context.Background(), reg.Repo("app")+":v1", dir, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	signer := ocitest.NewKeylessSigner(t, workflow, actions)
	mail := ocitest.NewKeylessSigner(t, "dev@example.com", "https://accounts.google.com")
	digest := reg.SignKeyless(t, signer, reg.Repo("app")+":v1")
	if digest != pushed {
		t.Fatalf("signed %s, want %s", digest, pushed)
	}
	ref := reg.Repo("app") + "@" + pushed
	mailDigest, err := c.Push(context.Background(), reg.Repo("mail")+":v1", dir, oci.PushOptions{Annotations: map[string]string{"x": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	mailRef := reg.Repo("mail") + "@" + mailDigest
	reg.SignKeyless(t, mail, mailRef)

	parse := func(s *ocitest.KeylessSigner) *root.TrustedRoot {
		tr, err := root.NewTrustedRootFromJSON(s.TrustedRootJSON())
		if err != nil {
			t.Fatalf("trusted root does not parse: %v", err)
		}
		return tr
	}
	good := oci.Identity{Issuer: actions, SubjectRegexp: `^https://github\.com/org/app/`}
	tests := []struct {
		name string
		ref  string
		o    oci.KeylessOptions
		want error
	}{
		{"trusted", ref, oci.KeylessOptions{TrustedMaterial: parse(signer), Identities: []oci.Identity{good}}, nil},
		{"TrustedRoot", ref, oci.KeylessOptions{TrustedMaterial: signer.TrustedRoot(), Identities: []oci.Identity{good}}, nil},
		{"e-mail identity", mailRef, oci.KeylessOptions{TrustedMaterial: parse(mail), Identities: []oci.Identity{{Issuer: "https://accounts.google.com", Subject: "dev@example.com"}}}, nil},
		{"wrong subject", ref, oci.KeylessOptions{TrustedMaterial: parse(signer), Identities: []oci.Identity{{Issuer: actions, SubjectRegexp: `^https://github\.com/evil/`}}}, oci.ErrUntrusted},
		{"wrong issuer", ref, oci.KeylessOptions{TrustedMaterial: parse(signer), Identities: []oci.Identity{{Issuer: "https://accounts.google.com", SubjectRegexp: ".*"}}}, oci.ErrUntrusted},
		{"other instance", ref, oci.KeylessOptions{TrustedMaterial: parse(mail), Identities: []oci.Identity{good}}, oci.ErrUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Verify(context.Background(), tt.ref, oci.VerifyOptions{Keyless: &tt.o})
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("want %v, got %v", tt.want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != "sigstore-bundle" {
				t.Errorf("method = %q", res.Method)
			}
			if tt.ref == ref && (res.Subject != workflow || res.Issuer != actions) {
				t.Errorf("identity = %q from %q", res.Subject, res.Issuer)
			}
		})
	}
}

// A classic keyless signature from the signer verifies against its trusted
// root with the default checks, and names the signer.
func TestSignKeylessClassic(t *testing.T) {
	t.Parallel()
	reg := ocitest.New(t)
	c, err := oci.NewClient(reg.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pushed, err := c.Push(context.Background(), reg.Repo("app")+":v1", dir, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	signer := ocitest.NewKeylessSigner(t, workflow, actions)
	if d := reg.SignKeylessClassic(t, signer, reg.Repo("app")+":v1"); d != pushed {
		t.Fatalf("signed %s, want %s", d, pushed)
	}
	res, err := c.Verify(context.Background(), reg.Repo("app")+"@"+pushed, oci.VerifyOptions{Keyless: &oci.KeylessOptions{
		TrustedMaterial: signer.TrustedRoot(),
		Identities:      []oci.Identity{{Issuer: actions, Subject: workflow}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != "cosign-keyless" || res.Subject != workflow || res.Issuer != actions {
		t.Errorf("result = %+v", res)
	}
}
