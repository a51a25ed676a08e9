package gitopsctl

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/kustomize"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/config"
	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

// install, check, bootstrap (HTTPS, then SSH) and uninstall, on a control
// plane of their own: they own the namespace gitopskit-system and remove
// the CRDs. gitopsd cannot run as a Pod here (no kubelet): the test plays
// the Deployment controller by writing the Deployment's status, and runs
// gitopsd in this process for the bootstrap.
func TestInstallCheckBootstrapUninstall(t *testing.T) {
	t.Parallel()
	scheme, err := gitopsd.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	sys, err := testenv.Start(testenv.WithScheme(scheme), testenv.WithBinaryDir(env.BinaryDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop() })
	c := newCtl(t)
	c.cfg = sys.Config()
	kc := sys.Client()
	ctx := context.Background()

	// install --export prints what config/ renders.
	r := c.run("install", "--export", "--image", "registry.example/gitopsd:v1.2.3")
	expect(t, r, ExitOK, "image: registry.example/gitopsd:v1.2.3")
	want, err := config.Render(ctx, kustomize.Overlay{Images: []kustomize.Image{{Name: DefaultImage, NewName: "registry.example/gitopsd", NewTag: "v1.2.3"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(splitDocuments([]byte(r.stdout))) - 1; got != len(want) {
		t.Errorf("install --export printed %d objects, config renders %d", got, len(want))
	}

	expect(t, c.run("check", "--pre"), ExitOK, "Kubernetes "+testenv.KubernetesVersion+" >= "+MinKubernetes)
	r = c.run("check")
	expect(t, r, ExitFailure, "gitrepositories.source.gitopskit.dev: not installed (gitopsctl install)", "not found (gitopsctl install)", "check failed")

	r = c.run("install", "--wait=false")
	expect(t, r, ExitOK, "CustomResourceDefinition.apiextensions.k8s.io/kustomizations.kustomize.gitopskit.dev created", "Deployment.apps/gitopskit-system/gitopsd created", "gitopsd's components applied")
	expect(t, c.run("install", "--wait=false"), ExitOK, "gitopsd's components unchanged")
	expect(t, c.run("install", "--timeout", "2s"), ExitFailure, "gitopsd is not ready")
	expect(t, c.run("check"), ExitFailure, "kustomizations.kustomize.gitopskit.dev: v1 (storage)", "Deployment gitopskit-system/gitopsd: not ready (InProgress)")
	markAvailable(t, kc)
	expect(t, c.run("check"), ExitOK, "Deployment gitopskit-system/gitopsd is ready (ghcr.io/gitopskit/gitopsd:latest)", "all checks passed")
	expect(t, c.run("install"), ExitOK, "gitopsd is ready")
	expect(t, c.run("version"), ExitOK, "kubernetes: "+testenv.KubernetesVersion, "gitopsd: ghcr.io/gitopskit/gitopsd:latest")

	// gitopsd, as the Deployment would run it.
	gctx, stopGitopsd := context.WithCancel(ctx)
	stopped, err := startGitopsd(gctx, sys.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopGitopsd()
		if stopped != nil {
			<-stopped
		}
	}()

	// Bootstrap over HTTPS with basic auth and a private CA, into an
	// empty repository.
	srv := gittest.NewServer(t, gittest.WithTLS(), gittest.WithBasicAuth("git", "bootstrap-p4ss"))
	repo := srv.InitRepository("fleet.git")
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, srv.CA(), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = map[string]string{gitPasswordEnv: "bootstrap-p4ss"}
	args := []string{"bootstrap", "git", "--url", srv.HTTPURL("fleet.git"), "--username", "git", "--ca-file", ca,
		"--branch", "main", "--path", "clusters/test", "--timeout", "90s"}
	r = c.run(args...)
	expect(t, r, ExitOK, "the repository is empty: starting branch main", "committed and pushed 3 files as main@sha1:",
		"the git credentials Secret gitopskit-system/gitopskit-system applied", "gitopsd manages itself: Kustomization gitopskit-system/gitopskit-system applied main@sha1:")
	noSecret(t, r, "bootstrap-p4ss")
	head := repo.Resolve("main")
	for name, parts := range map[string][]string{
		"clusters/test/gitopskit-system/gitopsd.yaml":       {"kind: Deployment", "kind: CustomResourceDefinition", "name: gitopsd"},
		"clusters/test/gitopskit-system/sync.yaml":          {"kind: GitRepository", "url: " + srv.HTTPURL("fleet.git"), "secretRef:\n    name: gitopskit-system", "kind: Kustomization", "path: ./clusters/test", "prune: true"},
		"clusters/test/gitopskit-system/kustomization.yaml": {"- gitopsd.yaml", "- sync.yaml"},
	} {
		content, err := repo.ReadFile(head, name)
		if err != nil {
			t.Fatalf("%s not pushed: %v", name, err)
		}
		for _, p := range parts {
			if !strings.Contains(content, p) {
				t.Errorf("%s lacks %q", name, p)
			}
		}
		if strings.Contains(content, "bootstrap-p4ss") {
			t.Errorf("%s holds the password", name)
		}
	}
	sec := &corev1.Secret{}
	if err := kc.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: syncName}, sec); err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["password"]) != "bootstrap-p4ss" || string(sec.Data["username"]) != "git" || len(sec.Data["ca.crt"]) == 0 {
		t.Errorf("credentials Secret keys: %v", keysOf(sec.Data))
	}
	ks := &kustomizev1.Kustomization{}
	if err := kc.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: syncName}, ks); err != nil {
		t.Fatal(err)
	}
	if !hasEntry(ks, "gitopskit-system_gitopsd_apps_Deployment") || !hasEntry(ks, "gitopskit-system_gitopskit-system_kustomize.gitopskit.dev_Kustomization") {
		t.Errorf("gitopsd does not manage itself: inventory %v", ks.Status.Inventory)
	}
	expect(t, c.run("tree", "ks", syncName), ExitOK, "├── CustomResourceDefinition/gitrepositories.source.gitopskit.dev", "Kustomization/gitopskit-system/gitopskit-system (already shown above)")

	// A second bootstrap changes nothing: no commit, no write.
	before := versions(t, kc)
	r = c.run(args...)
	expect(t, r, ExitOK, "the repository already holds these manifests at main@sha1:"+head, "gitopsd's components unchanged",
		"Secret gitopskit-system/gitopskit-system unchanged", "the sync objects unchanged", "gitopsd manages itself")
	if got := repo.Resolve("main"); got != head {
		t.Errorf("the second bootstrap moved main from %s to %s", head, got)
	}
	if after := versions(t, kc); !equalMaps(before, after) {
		t.Errorf("the second bootstrap wrote to the cluster:\nbefore %v\nafter  %v", before, after)
	}

	// Over SSH, into an existing repository without the branch.
	sshSrv := gittest.NewServer(t, gittest.WithSSH())
	sshRepo := sshSrv.InitRepository("fleet.git")
	sshRepo.Commit("main", "readme", map[string]string{"README.md": "# fleet\n"})
	keyFile, knownHosts := sshKey(t, sshSrv, dir)
	c.env = nil // the key has no passphrase
	r = c.run("bootstrap", "git", "--url", sshSrv.SSHURL("fleet.git"), "--private-key-file", keyFile, "--known-hosts-file", knownHosts,
		"--branch", "staging", "--path", "clusters/staging", "--timeout", "90s")
	expect(t, r, ExitOK, "no branch staging yet", "committed and pushed 3 files as staging@sha1:", "gitopsd manages itself")
	noSecret(t, r, "PRIVATE KEY")
	if sshRepo.Resolve("staging") == "" || sshRepo.Resolve("main") == "" {
		t.Errorf("branches after the SSH bootstrap: staging %q main %q", sshRepo.Resolve("staging"), sshRepo.Resolve("main"))
	}
	if err := kc.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: syncName}, sec); err != nil {
		t.Fatal(err)
	}
	if len(sec.Data[git.SecretIdentity]) == 0 || len(sec.Data[git.SecretKnownHosts]) == 0 {
		t.Errorf("SSH credentials Secret keys: %v", keysOf(sec.Data))
	}

	// uninstall: asks first, then removes gitopsd and its objects but
	// keeps what they applied.
	stopGitopsd()
	<-stopped
	stopped = nil
	c.stdin = "n\n"
	expect(t, c.run("uninstall"), ExitFailure, "uninstall cancelled")
	c.stdin = "yes\n"
	r = c.run("uninstall")
	expect(t, r, ExitOK, "Deployment/gitopskit-system/gitopsd deleted", "Kustomization/gitopskit-system/gitopskit-system deleted",
		"CustomResourceDefinition/kustomizations.kustomize.gitopskit.dev deleted", "Namespace/gitopskit-system deleted", "uninstalled")
	deadline := time.Now().Add(60 * time.Second)
	for {
		r = c.run("get", "ks")
		if r.code == ExitError && strings.Contains(r.stderr, "gitopsd's CRDs are not installed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("get after uninstall:\n%s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := kc.Get(ctx, client.ObjectKey{Name: "gitrepositories.source.gitopskit.dev"}, crd); err == nil && crd.DeletionTimestamp.IsZero() {
		t.Errorf("the CRD is still there after uninstall")
	}
	expect(t, c.run("uninstall", "--yes"), ExitOK, "uninstalled")
}

// markAvailable writes the status the Deployment controller would write
// once gitopsd's Pod is ready.
func markAvailable(t *testing.T, kc client.Client) {
	t.Helper()
	ctx := context.Background()
	d := &appsv1.Deployment{}
	if err := kc.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: deploymentName}, d); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
		},
	}
	if err := kc.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// versions returns the resource versions of what bootstrap applies (the
// sync objects by generation: gitopsd writes their status).
func versions(t *testing.T, kc client.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	objs, err := config.Render(ctx, kustomize.Overlay{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		if err := kc.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
			t.Fatal(err)
		}
		out[o.GetKind()+"/"+o.GetName()] = live.GetResourceVersion()
	}
	sec := &corev1.Secret{}
	if err := kc.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: syncName}, sec); err != nil {
		t.Fatal(err)
	}
	out["Secret"] = sec.ResourceVersion
	for name, o := range map[string]client.Object{"GitRepository": &sourcev1.GitRepository{}, "Kustomization": &kustomizev1.Kustomization{}} {
		if err := kc.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: syncName}, o); err != nil {
			t.Fatal(err)
		}
		out[name] = "generation " + strconv.FormatInt(o.GetGeneration(), 10)
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func hasEntry(ks *kustomizev1.Kustomization, id string) bool {
	if ks.Status.Inventory == nil {
		return false
	}
	for _, e := range ks.Status.Inventory.Entries {
		if e.ID == id {
			return true
		}
	}
	return false
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func noSecret(t *testing.T, r result, secret string) {
	t.Helper()
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("the output shows %q:\n%s", secret, r)
	}
}

// sshKey makes a key the server accepts and writes it and the server's
// known_hosts into dir.
func sshKey(t *testing.T, srv *gittest.Server, dir string) (keyFile, knownHosts string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	srv.AuthorizeKey(sshPub)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile, knownHosts = filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(knownHosts, srv.KnownHosts(), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, knownHosts
}
