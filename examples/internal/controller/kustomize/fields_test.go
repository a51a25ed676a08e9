package kustomize

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/metricstest"
)

// Flux fields of the Kustomization, each on the real control plane.

func TestCommonMetadata(t *testing.T) {
	f := newFixture(t)
	a := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.CommonMetadata = &kustomizev1.CommonMetadata{
			Labels:      map[string]string{"team": "blue"},
			Annotations: map[string]string{"owner": "blue@example.com"},
		}
	})
	f.waitReady(ks, a.Revision)
	got := f.mustConfigMap(f.ns, "a")
	if got.Labels["team"] != "blue" || got.Annotations["owner"] != "blue@example.com" {
		t.Errorf("labels %v, annotations %v: commonMetadata not applied", got.Labels, got.Annotations)
	}
}

// TestHealthCheckExprs: CEL expressions decide the health of a kind that
// kstatus would call Current at once.
func TestHealthCheckExprs(t *testing.T) {
	f := newFixture(t)
	broken := f.artifact("app", map[string]string{"a.yaml": cm("a", "state", "broken")})
	src := f.gitRepository("app", &broken)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.Wait = true
		s.Timeout = &metav1.Duration{Duration: 10 * time.Second}
		s.HealthCheckExprs = []kustomizev1.CustomHealthCheck{{
			APIVersion: "v1", Kind: "ConfigMap",
			Current: "self.data.state == 'ok'",
			Failed:  "self.data.state == 'broken'",
		}}
	})
	got := f.waitNotReady(ks, HealthCheckFailedReason, broken.Revision)
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "ConfigMap") {
		t.Errorf("Ready message %q does not name the failed object", msg)
	}
	ok := f.artifact("app", map[string]string{"a.yaml": cm("a", "state", "ok")})
	f.setArtifact(src, ok)
	f.waitReady(ks, ok.Revision)
}

// TestWaitForTermination: the Kustomization stays until the objects it
// deleted are gone.
func TestWaitForTermination(t *testing.T) {
	f := newFixture(t)
	a := f.artifact("app", map[string]string{"a.yaml": cm("a")})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.DeletionPolicy = kustomizev1.DeletionPolicyWaitForTermination
		s.Timeout = &metav1.Duration{Duration: 20 * time.Second}
	})
	f.waitReady(ks, a.Revision)
	ctx := context.Background()
	held := f.mustConfigMap(f.ns, "a")
	held.Finalizers = []string{"test.gitopskit.dev/hold"}
	if err := f.c.Update(ctx, held); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Delete(ctx, ks); err != nil {
		t.Fatal(err)
	}
	// The ConfigMap is terminating, held by its finalizer: the
	// Kustomization must wait for it.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(ks), &kustomizev1.Kustomization{}); apierrors.IsNotFound(err) {
			t.Fatal("the Kustomization went before the object it deleted")
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmNow := f.mustConfigMap(f.ns, "a")
	if cmNow.DeletionTimestamp == nil {
		t.Fatal("the ConfigMap was not deleted")
	}
	cmNow.Finalizers = nil
	if err := f.c.Update(ctx, cmNow); err != nil {
		t.Fatal(err)
	}
	f.waitKustomizationGone(ks)
}

// TestHistoryOriginAndDrift: status.history records distinct outcomes only,
// lastAppliedOriginRevision follows the artifact's origin, and a change made
// behind gitopsd's back is corrected and reported.
func TestHistoryOriginAndDrift(t *testing.T) {
	f := newFixture(t)
	a := f.artifact("app", map[string]string{"a.yaml": cm("a", "k", "v")})
	a.Metadata = map[string]string{originRevisionKey: "main@sha1:1111111111111111111111111111111111111111"}
	src := f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", nil)
	got := f.waitReady(ks, a.Revision)
	if got.Status.LastAppliedOriginRevision != a.Metadata[originRevisionKey] {
		t.Errorf("lastAppliedOriginRevision = %q", got.Status.LastAppliedOriginRevision)
	}
	if h := got.Status.History; len(h) != 1 || h[0].Outcome != conditions.SucceededReason || !strings.HasPrefix(h[0].Digest, "sha256:") || h[0].Revision != a.Revision {
		t.Fatalf("history after the first apply = %+v", h)
	}

	// Drift: edited behind our back, corrected at the next reconcile of the
	// same revision, and said so.
	ctx := context.Background()
	edited := f.mustConfigMap(f.ns, "a")
	edited.Data["k"] = "edited by hand"
	if err := f.c.Update(ctx, edited); err != nil {
		t.Fatal(err)
	}
	requestReconcile(f, ks, "drift")
	got = f.waitFor(ks, "drift corrected", func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastHandledReconcileAt == "drift" && conditions.IsReady(k)
	})
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "corrected drift in 1 objects: ConfigMap/"+f.ns+"/a") {
		t.Errorf("Ready message %q does not report the corrected drift", msg)
	}
	if v := f.mustConfigMap(f.ns, "a").Data["k"]; v != "v" {
		t.Errorf("drift not corrected: k = %q", v)
	}
	fams, err := metricstest.Gather(metricsRegistry)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := fams.Value("gitopskit_drift_corrected_total", map[string]string{"name": "app", "namespace": f.ns}); n != 1 {
		t.Errorf("drift counter = %v, want 1", n)
	}
	if h := got.Status.History; len(h) != 1 {
		t.Errorf("a re-apply of the same set added history: %+v", h)
	}

	// A failure, then the fix: two new entries, newest first.
	bad := f.artifact("app", map[string]string{"kustomization.yaml": "resources: [missing.yaml]\n"})
	f.setArtifact(src, bad)
	f.waitNotReady(ks, BuildFailedReason, bad.Revision)
	good := f.artifact("app", map[string]string{"a.yaml": cm("a", "k", "w")})
	f.setArtifact(src, good)
	got = f.waitReady(ks, good.Revision)
	var outcomes []string
	for _, e := range got.Status.History {
		outcomes = append(outcomes, e.Revision+" "+e.Outcome)
	}
	want := []string{good.Revision + " Succeeded", bad.Revision + " " + BuildFailedReason, a.Revision + " Succeeded"}
	if strings.Join(outcomes, ",") != strings.Join(want, ",") {
		t.Errorf("history = %v, want %v", outcomes, want)
	}
}

// TestRemoteCluster: with spec.kubeConfig the objects go to the other
// cluster, and a kubeconfig that would run a program or read gitopsd's
// files is refused.
func TestRemoteCluster(t *testing.T) {
	f := newFixture(t)
	// A scheme of its own: Start adds to the one it is given, and the
	// shared one is in use by the manager.
	remote, err := testenv.Start(testenv.WithScheme(newScheme()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = remote.Stop() })
	ctx := context.Background()
	if err := remote.Client().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}); err != nil {
		t.Fatal(err)
	}
	secret := func(name string, kubeconfig []byte) {
		if err := f.c.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
			Data:       map[string][]byte{"value": kubeconfig},
		}); err != nil {
			t.Fatal(err)
		}
	}
	secret("remote", remote.KubeConfig())
	withExec, err := clientcmd.Load(remote.KubeConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range withExec.AuthInfos {
		u.Exec = &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1", Command: "/bin/sh",
			Args: []string{"-c", "echo pwned > " + t.TempDir() + "/pwned"}}
	}
	execConfig, err := clientcmd.Write(*withExec)
	if err != nil {
		t.Fatal(err)
	}
	secret("exec", execConfig)

	a := f.artifact("app", map[string]string{"a.yaml": cm("remote-cm")})
	f.gitRepository("app", &a)
	ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
		s.KubeConfig = &kustomizev1.KubeConfigReference{SecretRef: kustomizev1.SecretKeyReference{Name: "remote"}}
		s.Wait = true
	})
	f.waitReady(ks, a.Revision)
	if err := remote.Client().Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "remote-cm"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("the object is not on the remote cluster: %v", err)
	}
	if f.configMap(f.ns, "remote-cm") != nil {
		t.Error("the object was applied to the local cluster too")
	}

	bad := f.kustomization("exec", "app", func(s *kustomizev1.KustomizationSpec) {
		s.KubeConfig = &kustomizev1.KubeConfigReference{SecretRef: kustomizev1.SecretKeyReference{Name: "exec"}}
	})
	got := f.waitNotReady(bad, InvalidSpecReason, "")
	if msg := conditions.Get(got, conditions.Ready).Message; !strings.Contains(msg, "exec plugin") {
		t.Errorf("Ready message %q does not say why the kubeconfig is refused", msg)
	}
	if !conditions.IsTrue(got, conditions.Stalled) {
		t.Error("an unsafe kubeconfig is retried instead of stalled")
	}
}

// TestDefaultServiceAccount: without serviceAccountName, the reconciler's
// DefaultServiceAccount is impersonated on the local cluster.
func TestDefaultServiceAccount(t *testing.T) {
	f := newFixture(t)
	r := &KustomizationReconciler{Client: f.c, Config: env.Config(), DefaultServiceAccount: "nobody"}
	ks := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "x"}}
	c, err := r.applyClient(context.Background(), ks, &controllers.Reporter{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "y"}})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "system:serviceaccount:"+f.ns+":nobody") {
		t.Errorf("create as the default service account: %v, want Forbidden for it", err)
	}
}

func TestTimeoutAndRequeueDefaults(t *testing.T) {
	ks := &kustomizev1.Kustomization{Spec: kustomizev1.KustomizationSpec{Interval: metav1.Duration{Duration: 10 * time.Minute}}}
	if got := ks.GetTimeout(); got != 9*time.Minute+30*time.Second {
		t.Errorf("timeout for a 10m interval = %v, want 9m30s", got)
	}
	ks.Spec.Interval.Duration = 40 * time.Second
	if got := ks.GetTimeout(); got != 30*time.Second {
		t.Errorf("timeout for a 40s interval = %v, want the 30s minimum", got)
	}
	r := &KustomizationReconciler{}
	if got := r.dependencyRequeue(ks); got != 40*time.Second {
		t.Errorf("dependency requeue without a flag = %v, want the retry interval", got)
	}
	r.DependencyRequeue = 5 * time.Second
	if got := r.dependencyRequeue(ks); got != 5*time.Second {
		t.Errorf("dependency requeue = %v, want 5s", got)
	}
}

func TestParseKubeConfigRefusesFilesAndPrograms(t *testing.T) {
	base := `apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster:
    server: https://127.0.0.1:6443
%s
users:
- name: u
  user:
%s
`
	for name, tc := range map[string][2]string{
		"exec":          {"", "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true}"},
		"auth provider": {"", "    auth-provider: {name: gcp}"},
		"token file":    {"", "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"},
		"client key":    {"", "    client-certificate: /etc/cert.pem\n    client-key: /etc/key.pem"},
		"CA file":       {"    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "    token: abc"},
		"proxy":         {"    proxy-url: http://169.254.169.254", "    token: abc"},
	} {
		_, err := parseKubeConfig(fmt.Appendf(nil, base, tc[0], tc[1]))
		if err == nil || !strings.Contains(err.Error(), "unsafe kubeconfig") {
			t.Errorf("%s: err = %v, want unsafe kubeconfig", name, err)
		}
	}
	cfg, err := parseKubeConfig(fmt.Appendf(nil, base, "    insecure-skip-tls-verify: true", "    token: s3cr3t"))
	if err != nil || cfg.BearerToken != "s3cr3t" {
		t.Errorf("an inline kubeconfig: %v, %+v", err, cfg)
	}
	if _, err := parseKubeConfig([]byte("token: s3cr3t\n{{{")); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("a malformed kubeconfig: %v", err)
	}
}

func FuzzParseKubeConfig(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Config\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := parseKubeConfig(b)
		if err != nil {
			return
		}
		if cfg.ExecProvider != nil || cfg.AuthProvider != nil || cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" || cfg.BearerTokenFile != "" {
			t.Fatalf("accepted a kubeconfig that runs a program or reads a file: %+v", cfg)
		}
	})
}

// requestReconcile sets the reconcile request annotation to value.
func requestReconcile(f *fixture, ks *kustomizev1.Kustomization, value string) {
	f.t.Helper()
	f.update(ks, func(k *kustomizev1.Kustomization) {
		if k.Annotations == nil {
			k.Annotations = map[string]string{}
		}
		k.Annotations["reconcile.gitopskit.dev/requestedAt"] = value
	})
}

// waitKustomizationGone waits until the Kustomization no longer exists.
func (f *fixture) waitKustomizationGone(ks *kustomizev1.Kustomization) {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f.c.Get(context.Background(), client.ObjectKeyFromObject(ks), &kustomizev1.Kustomization{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("Kustomization %s still exists (err=%v)", ks.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
