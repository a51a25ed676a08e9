package gitopsctl

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fage "filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	sopsconfig "github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
)

func secret(name, password string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\nstringData:\n  password: %q\n", name, password)
}

// writeTree writes files (path → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sopsEncrypt encrypts a YAML document's data and stringData for a fresh
// age key, as `sops --encrypt --age <recipient> --encrypted-regex
// '^(data|stringData)$'` does.
func sopsEncrypt(t *testing.T, plain string) string {
	t.Helper()
	id, err := fage.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := sopsage.MasterKeyFromRecipient(id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	store := sopsyaml.NewStore(&sopsconfig.YAMLStoreConfig{})
	branches, err := store.LoadPlainFile([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups: []sops.KeyGroup{{mk}}, EncryptedRegex: "^(data|stringData)$", Version: "3.13.3",
	}}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		t.Fatal(err)
	}
	for _, k := range []keys.MasterKey{mk} {
		if err := k.Encrypt(dataKey); err != nil {
			t.Fatal(err)
		}
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// diff: no change (exit 0); a changed ConfigMap, a changed Secret (masked),
// a new object and a pruned one (exit 1); SOPS-encrypted Secrets compared
// by key; errors (exit 2).
func TestDiff(t *testing.T) {
	f := newFixture(t)
	files := map[string]string{
		"deploy/config.yaml": cm("config", "one"),
		"deploy/flags.yaml":  cm("flags", "on"),
		"deploy/secret.yaml": secret("creds", "s3cr3t-one"),
		"deploy/token.yaml":  secret("token", "t0ken-one"),
	}
	f.commit(files)
	f.sync("app", "./deploy")
	names := map[string]string{f.ns: "<ns>", f.appNS: "<app>"}

	local := t.TempDir()
	writeTree(t, local, files)
	r := f.run("diff", "ks", "app", "--path", filepath.Join(local, "deploy"))
	expect(t, r, ExitOK, "no changes: 4 objects unchanged")
	if r.stdout != "" {
		t.Errorf("diff printed changes for an unchanged folder:\n%s", r)
	}

	writeTree(t, local, map[string]string{
		"deploy/config.yaml": cm("config", "two"),
		"deploy/secret.yaml": secret("creds", "s3cr3t-two"),
		"deploy/new.yaml":    cm("new", "fresh"),
		// Encrypted with a key the cluster never saw: compared by key.
		"deploy/token.yaml": sopsEncrypt(t, secret("token", "t0ken-one")),
	})
	if err := os.Remove(filepath.Join(local, "deploy/flags.yaml")); err != nil {
		t.Fatal(err)
	}
	r = f.run("diff", "kustomization", "app", "--path", filepath.Join(local, "deploy"))
	expect(t, r, ExitFailure,
		"ConfigMap/"+f.appNS+"/config configured", `-  value: one`, `+  value: two`,
		"Secret/"+f.appNS+"/creds configured", "*** (before)", "*** (after)",
		"ConfigMap/"+f.appNS+"/new created",
		"ConfigMap/"+f.appNS+"/flags pruned",
		"4 objects would change, 1 unchanged")
	for _, leak := range []string{"s3cr3t", "t0ken", "ENC["} {
		if strings.Contains(r.stdout+r.stderr, leak) {
			t.Errorf("diff shows %q:\n%s", leak, r)
		}
	}
	if strings.Contains(r.stdout, "Secret/"+f.appNS+"/token") {
		t.Errorf("an encrypted Secret with the same keys shows as changed:\n%s", r.stdout)
	}
	golden(t, "diff.txt", normalise(r.stdout, names))

	writeTree(t, local, map[string]string{"deploy/token.yaml": sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  password: t0ken-one\n  extra: more\n")})
	r = f.run("diff", "ks", "app", "--path", filepath.Join(local, "deploy"))
	expect(t, r, ExitFailure, "Secret/"+f.appNS+"/token configured", "+  extra: '***'")

	// The repository's root confines the build, as the artifact does.
	writeTree(t, local, map[string]string{"other/kustomization.yaml": "resources:\n  - ../deploy/config.yaml\n"})
	expect(t, f.run("diff", "ks", "app", "--path", filepath.Join(local, "other"), "--root", filepath.Join(local, "other")), ExitError, "building")
	expect(t, f.run("diff", "ks", "app", "--path", filepath.Join(local, "other"), "--root", local), ExitFailure, "ConfigMap/"+f.appNS+"/flags pruned")
	expect(t, f.run("diff", "ks", "app", "--path", local, "--root", filepath.Join(local, "other")), ExitError, "is not inside --root")

	expect(t, f.run("diff", "ks", "app"), ExitError, "--path is required")
	expect(t, f.run("diff", "ks", "app", "--path", filepath.Join(local, "nope")), ExitError, "is not a folder")
	expect(t, f.run("diff", "ks", "missing", "--path", local), ExitError, "Kustomization "+f.ns+"/missing not found")
	expect(t, f.run("diff", "gitrepo", "app", "--path", local), ExitError, "only Kustomizations")
}

// build prints what gitopsd would apply, ownership labels stamped and
// Secret values masked; --dry-run reads the Kustomization from a file.
func TestBuild(t *testing.T) {
	f := newFixture(t)
	files := map[string]string{
		"deploy/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  env: ${env}\n",
		"deploy/secret.yaml": secret("creds", "s3cr3t-one"),
	}
	f.commit(files)
	f.sync("app", "./deploy")
	local := t.TempDir()
	writeTree(t, local, files)
	writeTree(t, local, map[string]string{"deploy/token.yaml": sopsEncrypt(t, secret("token", "t0ken-one"))})

	r := f.run("build", "ks", "app", "--path", filepath.Join(local, "deploy"))
	expect(t, r, ExitOK, "kustomize.gitopskit.dev/name: app", "kustomize.gitopskit.dev/namespace: "+f.ns, "password: '***'", "password: '**SOPS**'", "namespace: "+f.appNS)
	for _, leak := range []string{"s3cr3t", "t0ken", "ENC[", "sops:"} {
		if strings.Contains(r.stdout, leak) {
			t.Errorf("build prints %q:\n%s", leak, r.stdout)
		}
	}

	ksFile := filepath.Join(local, "ks.yaml")
	writeTree(t, local, map[string]string{"ks.yaml": `apiVersion: kustomize.gitopskit.dev/v1
kind: Kustomization
metadata:
  name: app
  namespace: apps
spec:
  interval: 10m
  prune: true
  path: ./deploy
  targetNamespace: production
  namePrefix: prod-
  sourceRef:
    kind: GitRepository
    name: app
  postBuild:
    substitute:
      env: production
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
`})
	c := newCtl(t)
	c.cfg = nil // no cluster
	r = c.run("build", "ks", "app", "--path", filepath.Join(local, "deploy"), "--dry-run", "--kustomization-file", ksFile)
	expect(t, r, ExitOK, "postBuild.substituteFrom is not read")
	golden(t, "build-dry-run.yaml", normalise(r.stdout, nil))
	expect(t, c.run("build", "ks", "other", "--path", local, "--dry-run", "--kustomization-file", ksFile), ExitError, `holds no kustomize.gitopskit.dev/v1 Kustomization named "other"`)
	expect(t, c.run("build", "ks", "app", "--path", local, "--dry-run"), ExitError, "--dry-run and --kustomization-file go together")
}
