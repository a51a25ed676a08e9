package kustomize

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/types"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
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
// is recognised: every URL scheme, http(s) as url.Parse sees it (which is
// kustomize's test for remote files), every scp-like user@host form, the
// git:: prefix and the github.com shorthand.
func FuzzIsRemoteRef(f *testing.F) {
	for _, s := range []string{"base", "../x", "https://h/x", "git@github.com:o/r", "github.com/o/r", "GIT::x", "a@b", "./with@at",
		"HTTP:x", "https:/h", " http://x", "a.b+c://x", "file:///etc", "ssh://h/r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		remote := isRemoteRef(ref)
		if strings.Contains(strings.ToLower(ref), "://") && !remote {
			t.Fatalf("%q has a scheme but is not remote", ref)
		}
		if u, err := url.Parse(ref); err == nil && (u.Scheme == "http" || u.Scheme == "https") && !hasRemotePrefix(ref) {
			t.Fatalf("kustomize would fetch %q over HTTP", ref)
		}
		lower := strings.ToLower(ref)
		if (strings.HasPrefix(lower, "git::") || strings.HasPrefix(lower, "github.com/") || strings.HasPrefix(lower, "github.com:") ||
			gitUserPrefix.MatchString(ref)) && !hasRemotePrefix(ref) {
			t.Fatalf("kustomize would clone %q", ref)
		}
	})
}

// FuzzGuard feeds the filesystem's guard arbitrary kustomizations and
// plugin configurations: it must never panic, and a kustomization it lets
// through names no remote reference in any field kustomize loads from.
func FuzzGuard(f *testing.F) {
	for _, s := range []string{
		"resources:\n- a\n", "resources:\n- https://x/y\n", "Resources: [github.com/o/r]\n", "generators:\n- |\n  apiVersion: builtin\n  kind: X\n  path: http://x\n",
		"patches:\n- path: p.yaml\n", "openapi:\n  path: s.json\n", "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: x}\npath: https://x\n",
		"configMapGenerator:\n- name: x\n  files: [k=https://x]\n",
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, asKustomization bool) {
		g := newGuard(false, true)
		g.fsys = securefs.NewMemory(securefs.Options{})
		name := "/overlay/plugin.yaml"
		if asKustomization {
			name = "/overlay/kustomization.yaml"
		}
		if err := g.inspect(name, data); err != nil || !asKustomization {
			return
		}
		var k types.Kustomization
		if k.Unmarshal(data) != nil {
			return
		}
		k.FixKustomization()
		refs := append(pathRefs(&k), k.Resources...)
		refs = append(refs, k.Components...)
		for _, r := range refs {
			if isRemoteRef(r) {
				t.Fatalf("accepted a kustomization naming %q", r)
			}
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
