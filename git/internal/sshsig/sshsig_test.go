package sshsig

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"golang.org/x/crypto/ssh"
)

func signers(t testing.TB) map[string]ssh.Signer {
	t.Helper()
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	out := map[string]ssh.Signer{}
	for name, k := range map[string]any{"ed25519": edKey, "ecdsa": ecKey, "rsa": rsaKey} {
		s, err := ssh.NewSignerFromKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	return out
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	msg := []byte("tree 123\nauthor x\n\nmessage\n")
	for name, s := range signers(t) {
		t.Run(name, func(t *testing.T) {
			armored, err := Sign(s, msg, "git")
			if err != nil {
				t.Fatal(err)
			}
			sig, err := ParseArmored(armored)
			if err != nil {
				t.Fatal(err)
			}
			if err := sig.Verify(msg, "git"); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := sig.Verify(append(msg, 'x'), "git"); err == nil {
				t.Fatal("tampered message verified")
			}
			if err := sig.Verify(msg, "file"); err == nil {
				t.Fatal("wrong namespace verified")
			}
			if string(sig.PublicKey.Marshal()) != string(s.PublicKey().Marshal()) {
				t.Fatal("public key mismatch")
			}
		})
	}
}

func FuzzParseArmored(f *testing.F) {
	s := signers(f)["ed25519"]
	good, _ := Sign(s, []byte("x"), "git")
	f.Add(good)
	f.Add([]byte("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, err := ParseArmored(data)
		if err == nil {
			_ = sig.Verify([]byte("x"), "git")
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("SSHSIG\x00\x00\x00\x01"))
	f.Add([]byte("SSHSIG\x00\x00\x00\x01\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data)
	})
}
