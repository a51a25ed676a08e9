package gittest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/git/internal/exampletb"
	"github.com/gitopskit/kit/git/verify"
)

// ExampleNewServer is the README's gittest usage, run: a server over HTTPS
// with basic auth and over SSH, a repository with a signed commit, a
// signed annotated tag and a pull-request reference, which a client then
// resolves through git http-backend.
func ExampleNewServer() {
	t := exampletb.New() // in a test: the test's *testing.T
	defer t.Close()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	sshSigner, err := ssh.NewSignerFromKey(key)
	if err != nil {
		panic(err)
	}
	signer := verify.NewSSHSigner(sshSigner)

	srv := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth("u", "p"), gittest.WithSSH())
	repo := srv.InitRepository("app.git")
	h := repo.Commit("main", "init", map[string]string{"app.yaml": "x: 1\n"}, gittest.Signed(signer))
	repo.AnnotatedTag("v1.0.0", h, "release", signer)
	repo.SetReference("refs/pull/1/head", h)
	url, ca, knownHosts := srv.HTTPURL("app.git"), srv.CA(), srv.KnownHosts()

	c, err := gogit.New(url, gogit.WithAuth(git.AuthOptions{Username: "u", Password: "p", CA: ca}))
	if err != nil {
		panic(err)
	}
	for _, ref := range []git.Reference{{Name: "refs/pull/1/head"}, {Tag: "v1.0.0"}} {
		rev, err := c.Resolve(context.Background(), ref)
		if err != nil {
			panic(err)
		}
		fmt.Println(strings.Replace(rev, h, "<h>", 1))
	}
	fmt.Println("ssh:", strings.HasPrefix(srv.SSHURL("app.git"), "ssh://git@"), len(knownHosts) > 0)
	// Output:
	// refs/pull/1/head@sha1:<h>
	// v1.0.0@sha1:<h>
	// ssh: true true
}
