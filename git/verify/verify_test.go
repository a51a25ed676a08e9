package verify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/git/verify"
)

type key struct {
	signer      git.Signer
	pgpPublic   []byte
	sshPublic   []byte
	fingerprint string
}

func pgpKey(t *testing.T, algo packet.PublicKeyAlgorithm) key {
	t.Helper()
	e, err := openpgp.NewEntity("Signer", "", "signer@gitopskit.dev", &packet.Config{Algorithm: algo, RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return key{signer: verify.NewOpenPGPSigner(e), pgpPublic: b.Bytes(), fingerprint: strings.ToUpper(strings.TrimSpace(
		strings.ReplaceAll(string(bytesHex(e.PrimaryKey.Fingerprint)), " ", "")))}
}

func bytesHex(b []byte) []byte {
	const h = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, h[c>>4], h[c&15])
	}
	return out
}

func sshKey(t *testing.T, raw any) key {
	t.Helper()
	s, err := ssh.NewSignerFromKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return key{signer: verify.NewSSHSigner(s), sshPublic: ssh.MarshalAuthorizedKey(s.PublicKey()), fingerprint: ssh.FingerprintSHA256(s.PublicKey())}
}

func keys(t *testing.T) map[string]key {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	return map[string]key{
		"openpgp-rsa":     pgpKey(t, packet.PubKeyAlgoRSA),
		"openpgp-ed25519": pgpKey(t, packet.PubKeyAlgoEdDSA),
		"ssh-ed25519":     sshKey(t, ed),
		"ssh-ecdsa":       sshKey(t, ec),
		"ssh-rsa":         sshKey(t, rk),
	}
}

func ring(t *testing.T, ks ...key) *verify.KeyRing {
	t.Helper()
	var pgp, sshk [][]byte
	for _, k := range ks {
		if k.pgpPublic != nil {
			pgp = append(pgp, k.pgpPublic)
		}
		if k.sshPublic != nil {
			sshk = append(sshk, k.sshPublic)
		}
	}
	kr, err := verify.NewKeyRing(pgp, sshk)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func clone(t *testing.T, srv *gittest.Server, ref git.Reference) *git.Commit {
	t.Helper()
	c, err := gogit.New(srv.HTTPURL("app.git"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Clone(context.Background(), filepath.Join(t.TempDir(), "src"), gogit.CloneOptions{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	return res.Commit
}

func TestVerifyEveryKeyType(t *testing.T) {
	t.Parallel()
	ks := keys(t)
	other := sshKey(t, func() ed25519.PrivateKey { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }())
	otherPGP := pgpKey(t, packet.PubKeyAlgoEdDSA)
	for name, k := range ks {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := gittest.NewServer(t)
			repo := srv.InitRepository("app.git")
			head := repo.Commit("main", "signed", map[string]string{"a": "1"}, gittest.Signed(k.signer))
			repo.AnnotatedTag("v1.0.0", head, "signed tag", k.signer)
			unsignedHead := repo.Commit("unsigned", "plain", map[string]string{"a": "2"})
			repo.AnnotatedTag("v0.9.0", unsignedHead, "unsigned tag", nil)

			c := clone(t, srv, git.Reference{Tag: "v1.0.0"})
			for _, mode := range []verify.Mode{verify.ModeHead, verify.ModeTag, verify.ModeTagAndHead} {
				res, err := verify.Verify(c, ring(t, k, other, otherPGP), mode)
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				if mode != verify.ModeTag && res.Commit != k.fingerprint {
					t.Errorf("%s: commit fingerprint %q, want %q", mode, res.Commit, k.fingerprint)
				}
				if mode != verify.ModeHead && res.Tag != k.fingerprint {
					t.Errorf("%s: tag fingerprint %q, want %q", mode, res.Tag, k.fingerprint)
				}
			}
			// Unknown key.
			if _, err := verify.Verify(c, ring(t, other, otherPGP), verify.ModeHead); !errors.Is(err, verify.ErrUnknownKey) {
				t.Errorf("unknown key: err = %v", err)
			}
			// Tampered payload.
			bad := *c
			bad.Encoded = append(bytes.Clone(c.Encoded), "tampered"...)
			if _, err := verify.Verify(&bad, ring(t, k), verify.ModeHead); !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("tampered: err = %v", err)
			}
			// Unsigned commit and tag.
			u := clone(t, srv, git.Reference{Tag: "v0.9.0"})
			for _, mode := range []verify.Mode{verify.ModeHead, verify.ModeTag} {
				if _, err := verify.Verify(u, ring(t, k), mode); !errors.Is(err, verify.ErrUnsigned) {
					t.Errorf("unsigned %s: err = %v", mode, err)
				}
			}
			// Tag mode without a tag.
			b := clone(t, srv, git.Reference{Branch: "main"})
			if _, err := verify.Verify(b, ring(t, k), verify.ModeTag); !errors.Is(err, verify.ErrUnsigned) {
				t.Errorf("no tag: err = %v", err)
			}
		})
	}
}

func TestNewKeyRingRejectsGarbage(t *testing.T) {
	t.Parallel()
	if _, err := verify.NewKeyRing([][]byte{[]byte("not a key")}, nil); err == nil {
		t.Fatal("want error for garbage openpgp key")
	}
	if _, err := verify.NewKeyRing(nil, [][]byte{[]byte("ssh-ed25519 AAAA")}); err == nil {
		t.Fatal("want error for garbage ssh key")
	}
	if _, err := verify.NewKeyRing(nil, nil); err == nil {
		t.Fatal("want error for an empty key ring")
	}
}

func FuzzVerifySignature(f *testing.F) {
	f.Add("-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQBQJ\n-----END PGP SIGNATURE-----\n")
	f.Add("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n")
	f.Add("")
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := ssh.NewSignerFromKey(ed)
	kr, err := verify.NewKeyRing(nil, [][]byte{ssh.MarshalAuthorizedKey(s.PublicKey())})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig string) {
		if _, err := kr.VerifySignature([]byte("payload"), sig); err == nil {
			t.Fatal("a fuzzed signature verified")
		}
	})
}
