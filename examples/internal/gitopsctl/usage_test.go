package gitopsctl

import (
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// Every usage error is exit 2 with a message saying what is wrong; help,
// version and completion need no cluster.
func TestUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, ExitOK, "Exit codes: 0 ok, 1 failure"},
		{[]string{"get", "--help"}, ExitOK, "gitopsctl get ks --watch"},
		{[]string{"get"}, ExitError, "a kind is required"},
		{[]string{"get", "deployment"}, ExitError, `unknown kind "deployment" (gitrepository, ocirepository, bucket,`},
		{[]string{"get", "ks", "-o", "xml"}, ExitError, "-o must be table, wide, yaml or json"},
		{[]string{"get", "ks", "--bogus"}, ExitError, "unknown flag: --bogus"},
		{[]string{"get", "ks", "a", "b"}, ExitError, "at most one name"},
		{[]string{"reconcile", "ks"}, ExitError, "want <kind> <name>"},
		{[]string{"frobnicate"}, ExitError, `unknown command "frobnicate"`},
		{[]string{"diff", "gitrepo", "x", "--path", "."}, ExitError, "only Kustomizations are built"},
		{[]string{"create", "source", "git", "x", "--export"}, ExitError, "--url is required"},
		{[]string{"create", "kustomization", "x", "--source", "Kustomization/y", "--export"}, ExitError, `"Kustomization" is not a source kind`},
		{[]string{"create", "kustomization", "x", "--source", "nothing", "--export"}, ExitError, "--source wants <kind>/<name>"},
		{[]string{"convert"}, ExitError, "--from-flux <file|dir|-> is required"},
		{[]string{"artifact", "push", "ghcr.io/x:1", "--path", "."}, ExitError, "want an oci://<host>/<repository> URL"},
		{[]string{"bootstrap", "git", "--path", "x"}, ExitError, "--url is required"},
		{[]string{"bootstrap", "git", "--url", "ssh://git@example.com/x", "--path", "x"}, ExitError, "needs --private-key-file and --known-hosts-file"},
		{[]string{"bootstrap", "git", "--url", "https://example.com/x", "--path", "../x"}, ExitError, `--path "../x"`},
		{[]string{"install", "--image", "reg.example/gitopsd@md5:x", "--export"}, ExitError, "a digest is sha256:<hex>"},
		{[]string{"version", "--client"}, ExitOK, "gitopsctl: "},
		{[]string{"completion", "bash"}, ExitOK, "bash completion"},
		{[]string{"completion", "zsh"}, ExitOK, "compdef"},
	} {
		c := newCtl(t)
		c.cfg = nil
		r := c.run(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("gitopsctl %q: want exit %d and %q, got:\n%s", tc.args, tc.code, tc.want, r)
		}
	}
}

// An unreachable API server is exit 2 with a readable error that never
// shows the credentials of the kubeconfig.
func TestUnreachableCluster(t *testing.T) {
	t.Parallel()
	c := newCtl(t)
	c.cfg = &rest.Config{Host: "https://127.0.0.1:1", BearerToken: "super-secret-token-value", Username: "", Password: ""}
	for _, args := range [][]string{{"get", "ks"}, {"reconcile", "ks", "x"}, {"check"}, {"tree", "ks", "x"}} {
		r := c.run(args...)
		expect(t, r, ExitError, "127.0.0.1:1")
		if strings.Contains(r.stdout+r.stderr, "super-secret") {
			t.Errorf("%q prints the token:\n%s", args, r)
		}
	}
}

// create --export prints the object without a cluster.
func TestCreateExport(t *testing.T) {
	t.Parallel()
	c := newCtl(t)
	c.cfg = nil
	var out strings.Builder
	for _, args := range [][]string{
		{"create", "source", "git", "podinfo", "--url", "https://github.com/stefanprodan/podinfo", "--branch", "master", "--interval", "5m", "--secret-ref", "podinfo-auth", "--export", "-n", "apps"},
		{"create", "source", "oci", "podinfo", "--url", "oci://ghcr.io/stefanprodan/manifests/podinfo", "--tag-semver", ">=6.0.0", "--export", "-n", "apps"},
		{"create", "kustomization", "podinfo", "--source", "GitRepository/podinfo.flux", "--path", "./kustomize", "--prune", "--wait",
			"--target-namespace", "podinfo", "--depends-on", "infra/base,crds", "--decryption-secret", "sops-keys", "--retry-interval", "1m", "--export", "-n", "apps"},
	} {
		r := c.run(args...)
		expect(t, r, ExitOK)
		out.WriteString(r.stdout)
	}
	golden(t, "create-export.yaml", out.String())
}
