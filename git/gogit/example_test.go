package gogit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/git/verify"
)

// ExampleClient_Export is the README's usage, run against a gittest server
// (git http-backend over HTTPS with basic auth): export the highest v1
// release through a cache, find it unchanged on the next call with one
// ls-remote, and verify the tag's and the commit's SSH signatures.
func ExampleClient_Export() {
	ctx := context.Background()

	// The remote: a signed commit and a signed annotated tag v1.2.0.
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	sshSigner, err := ssh.NewSignerFromKey(key)
	if err != nil {
		panic(err)
	}
	signer := verify.NewSSHSigner(sshSigner)
	srv, err := gittest.Start(gittest.WithTLS(), gittest.WithBasicAuth("u", "p"))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	repo := srv.InitRepository("app.git")
	h := repo.Commit("main", "release", map[string]string{"app.yaml": "x: 1\n"}, gittest.Signed(signer))
	repo.AnnotatedTag("v1.2.0", h, "release 1.2.0", signer)
	repo.Tag("v2.0.0", repo.Commit("main", "next major", map[string]string{"app.yaml": "x: 2\n"}))

	// What a controller holds: a Secret's data, a cache folder, a
	// destination, the revision it saw last and the trusted keys.
	secretData := map[string][]byte{
		git.SecretUsername: []byte("u"), git.SecretPassword: []byte("p"), git.SecretCA: srv.CA(),
	}
	tmp, err := os.MkdirTemp("", "gogit-example-*")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	cache, err := gogit.NewCache(filepath.Join(tmp, "cache"))
	if err != nil {
		panic(err)
	}
	dir := filepath.Join(tmp, "app")
	var pgpKeys [][]byte
	sshAllowedKeys := [][]byte{ssh.MarshalAuthorizedKey(sshSigner.PublicKey())}

	reconcile := func(lastRevision string) string {
		c, err := gogit.New(srv.HTTPURL("app.git"),
			gogit.WithAuth(git.AuthFromSecret(secretData)),
			gogit.WithCache(cache))
		if err != nil {
			panic(err)
		}
		res, err := c.Export(ctx, dir, gogit.CloneOptions{
			Reference:    git.Reference{SemVer: ">=1.0.0 <2.0.0"},
			LastRevision: lastRevision, // "v1.2.0@sha1:…": unchanged → one ls-remote, no fetch
		})
		if err != nil {
			panic(err)
		}
		if res.Unchanged {
			fmt.Println("unchanged")
			return res.Revision
		}
		kr, err := verify.NewKeyRing(pgpKeys, sshAllowedKeys)
		if err != nil {
			panic(err)
		}
		v, err := verify.Verify(res.Commit, kr, verify.ModeTagAndHead) // v.Commit, v.Tag: fingerprints
		if err != nil {
			panic(err)
		}
		name, _, _ := git.ParseRevision(res.Revision)
		fp := ssh.FingerprintSHA256(sshSigner.PublicKey())
		fmt.Println("exported", name, "signed by the trusted key:", v.Commit == fp && v.Tag == fp)
		return res.Revision
	}

	rev := reconcile("")
	b, err := os.ReadFile(filepath.Join(dir, "app.yaml"))
	if err != nil {
		panic(err)
	}
	fmt.Print("app.yaml: ", string(b))
	reconcile(rev)
	// Output:
	// exported v1.2.0 signed by the trusted key: true
	// app.yaml: x: 1
	// unchanged
}
