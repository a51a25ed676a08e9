package kustomize

import (
	"strings"
	"testing"

	"github.com/gitopskit/kit/kustomize/internal/sopsfile"
)

// FuzzIsKubernetesYAML feeds the generator's manifest sniffer arbitrary
// file content: it must never panic, and anything it accepts must have
// apiVersion and kind.
func FuzzIsKubernetesYAML(f *testing.F) {
	for _, s := range []string{cm("x"), deployment, "a: 1\n", "---\n---\n", "apiVersion: v1\nkind: [\n", "&a [*a, *a]\n", "kind: X\napiVersion: kustomize.config.k8s.io/v1beta1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if ok, _ := isKubernetesYAML(data); ok && !(strings.Contains(string(data), "apiVersion") && strings.Contains(string(data), "kind")) {
			t.Fatalf("accepted %q", data)
		}
	})
}

// FuzzIsRemoteRef checks that any reference kustomize would clone or fetch
// is recognised: every URL scheme and every scp-like user@host form.
func FuzzIsRemoteRef(f *testing.F) {
	for _, s := range []string{"base", "../x", "https://h/x", "git@github.com:o/r", "github.com/o/r", "GIT::x", "a@b", "./with@at"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		remote := isRemoteRef(ref)
		if strings.Contains(strings.ToLower(ref), "://") && !remote {
			t.Fatalf("%q has a scheme but is not remote", ref)
		}
	})
}

// FuzzSOPSDecrypt feeds sops' stores and our key service arbitrary input:
// decryption must fail cleanly, never panic.
func FuzzSOPSDecrypt(f *testing.F) {
	f.Add([]byte("a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n  mac: ENC[x]\n  age:\n  - recipient: r\n    enc: e\n"), uint8(1))
	f.Add([]byte(`{"a":"ENC[x]","sops":{"mac":"m","pgp":[{"fp":"F","enc":"e"}]}}`), uint8(2))
	f.Add([]byte("A=ENC[x]\nsops_mac=ENC[y]\nsops_version=3\n"), uint8(3))
	keys, err := sopsfile.ParseKeys(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		_, _, _ = sopsfile.Decrypt(keys, sopsfile.Format(format%5), data)
		_ = sopsfile.Inspect(data)
	})
}
