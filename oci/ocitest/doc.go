// Package ocitest runs an in-process OCI registry for tests: the
// distribution API of go-containerregistry's registry package served by an
// httptest server on loopback, over HTTP or HTTPS (with a generated CA the
// test trusts), with optional basic or token authentication, a flaky mode
// that fails every other request with 503, and helpers that sign pushed
// artifacts the way cosign does: with a key (Signer, Registry.Sign), or
// keyless (KeylessSigner, Registry.SignKeyless for bundles,
// Registry.SignKeylessClassic for the classic .sig format) through a
// private Sigstore instance whose trusted_root.json the test hands to the
// verifier.
//
//	reg := ocitest.New(t, ocitest.WithTLS(), ocitest.WithBasicAuth("user", "pass"))
//	c, _ := oci.NewClient(reg.ClientOptions()...)
//	digest, _ := c.Push(ctx, reg.Repo("app")+":v1", dir, oci.PushOptions{})
//	digestRef := reg.Repo("app") + "@" + digest
//	signer := ocitest.NewSigner(t)
//	reg.Sign(t, signer, digestRef)
//	_, err := c.Verify(ctx, digestRef, oci.VerifyOptions{PublicKeys: []crypto.PublicKey{signer.PublicKey()}})
//
//	keyless := ocitest.NewKeylessSigner(t, "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main",
//		"https://token.actions.githubusercontent.com")
//	reg.SignKeyless(t, keyless, digestRef)
//	tr, _ := root.NewTrustedRootFromJSON(keyless.TrustedRootJSON()) // what a trusted_root.json Secret would hold
//	_, err = c.Verify(ctx, digestRef, oci.VerifyOptions{Keyless: &oci.KeylessOptions{
//		TrustedMaterial: tr,
//		Identities:      []oci.Identity{{Issuer: keyless.Issuer(), Subject: keyless.Identity()}},
//	}})
//
// New ties the registry to a test (closed when it ends); Start runs one
// outside a test, for a demo or a local tool, and Close stops it.
// PushImage pushes a small container image under a tag and returns its
// digest, with an error rather than a testing.TB, for tag scanners and
// image automation:
//
//	reg, err := ocitest.Start()
//	defer reg.Close()
//	digest, err := reg.PushImage(ctx, "demo/app", "1.1.0") // reg.Repo("demo/app")+":1.1.0"
package ocitest
