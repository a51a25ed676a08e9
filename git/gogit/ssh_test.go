package gogit_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
)

func identity(t *testing.T, raw any, passphrase string) ([]byte, ssh.PublicKey) {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase != "" {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(raw, "", []byte(passphrase))
	} else {
		block, err = ssh.MarshalPrivateKey(raw, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), s.PublicKey()
}

func TestSSH(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t, gittest.WithSSH())
	head := srv.InitRepository("app.git").Commit("main", "init", map[string]string{"a": "b"})
	other := gittest.NewServer(t, gittest.WithSSH()) // a different host key

	_, ed := must(ed25519.GenerateKey(rand.Reader))
	ec := mustV(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	rk := mustV(rsa.GenerateKey(rand.Reader, 2048))
	_, stranger := must(ed25519.GenerateKey(rand.Reader))

	cases := []struct {
		name                string
		key                 any
		passphrase          string
		authorize           bool
		knownHosts          []byte
		giveWrongPassphrase bool
		newErr              error
		wantErr             error
	}{
		{name: "ed25519", key: ed, authorize: true, knownHosts: srv.KnownHosts()},
		{name: "ecdsa", key: ec, authorize: true, knownHosts: srv.KnownHosts()},
		{name: "rsa with passphrase", key: rk, passphrase: "open sesame", authorize: true, knownHosts: srv.KnownHosts()},
		{name: "wrong passphrase", key: rk, passphrase: "open sesame", giveWrongPassphrase: true, authorize: true, knownHosts: srv.KnownHosts(), newErr: git.ErrInvalidOptions},
		{name: "wrong host key", key: ed, authorize: true, knownHosts: []byte(strings.Replace(string(other.KnownHosts()), hostPort(other), hostPort(srv), 1)), wantErr: git.ErrHostKey},
		{name: "unknown host", key: ed, authorize: true, knownHosts: other.KnownHosts(), wantErr: git.ErrHostKey},
		{name: "no known_hosts", key: ed, authorize: true, newErr: git.ErrInvalidOptions},
		{name: "unauthorized key", key: stranger, knownHosts: srv.KnownHosts(), wantErr: git.ErrAuthentication},
	}
	for _, tc := range cases {
		id, pub := identity(t, tc.key, tc.passphrase)
		if tc.authorize {
			srv.AuthorizeKey(pub)
		}
		t.Run(tc.name, func(t *testing.T) {
			pass := tc.passphrase
			if tc.giveWrongPassphrase {
				pass = "wrong"
			}
			c, err := gogit.New(srv.SSHURL("app.git"), gogit.WithAuth(git.AuthOptions{Identity: id, Password: pass, KnownHosts: tc.knownHosts}))
			if tc.newErr != nil || err != nil {
				if !errors.Is(err, tc.newErr) {
					t.Fatalf("New err = %v, want %v", err, tc.newErr)
				}
				return
			}
			res, err := c.Clone(context.Background(), filepath.Join(t.TempDir(), "src"), gogit.CloneOptions{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Clone err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Commit.Hash != head {
				t.Fatalf("hash %s, want %s", res.Commit.Hash, head)
			}
		})
	}
}

func hostPort(s *gittest.Server) string {
	return strings.Fields(string(s.KnownHosts()))[0]
}

func must[T, U any](a T, b U, err error) (T, U) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func mustV[T any](a T, err error) T {
	if err != nil {
		panic(err)
	}
	return a
}
