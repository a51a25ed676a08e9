package kustomize

import (
	"bytes"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitopskit/kit/kustomize/internal/sopsfile"
)

// FuzzClassifyYAML feeds the generator's manifest classifier arbitrary
// file content: it must never panic, and a file it skips must hold no
// Kubernetes object as an independent decoder sees it — a skipped object
// would be pruned from the cluster.
func FuzzClassifyYAML(f *testing.F) {
	for _, s := range []string{cm("x"), deployment, "a: 1\n", "---\n---\n", "apiVersion: v1\nkind: [\n", "&a [*a, *a]\n",
		"kind: X\napiVersion: kustomize.config.k8s.io/v1beta1\n", cm("y") + "---\nfoo: bar\n", "\"apiVersion\": v1\n\"kind\": ConfigMap\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, _, err := classifyYAML(data)
		if err != nil || kind != manifestOther {
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				return
			}
			av, _ := doc["apiVersion"].(string)
			k, _ := doc["kind"].(string)
			if av != "" && k != "" && !strings.HasPrefix(av, "kustomize.config.k8s.io/") {
				t.Fatalf("skipped a file holding %s %s: %q", av, k, data)
			}
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
