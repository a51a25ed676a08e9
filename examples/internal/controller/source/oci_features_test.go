package source_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// dockerConfig creates a kubernetes.io/dockerconfigjson Secret with
// credentials for host.
func (h *harness) dockerConfig(name, host, user, pass string) {
	h.t.Helper()
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"username": user, "password": pass}}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	})
}

// spec.proxySecretRef sends every registry request through the proxy with
// its credentials; a wrong proxy password is refused without appearing in
// the status, though the proxy echoes it. status.url is the artifact's URL.
func TestOCIRepositoryProxy(t *testing.T) {
	t.Parallel()
	const proxyPass = "oci-Proxy-77d2"
	h := newHarness(t)
	reg := ocitest.New(t)
	d := push(t, reg, reg.Repo("app")+":v1", "proxied\n")
	p := newProxy(t, "squid", proxyPass)
	h.secret("proxy", map[string]string{"address": p.url, "username": "squid", "password": proxyPass})
	h.secret("wrong-proxy", map[string]string{"address": p.url, "username": "squid", "password": proxyPass + "-wrong"})
	proxied := func(secret string) func(*sourcev1.OCIRepositorySpec) {
		return func(s *sourcev1.OCIRepositorySpec) {
			s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
			s.ProxySecretRef = &meta.LocalObjectReference{Name: secret}
		}
	}

	obj := ociRepository("app", reg, "app", proxied("proxy"))
	h.create(obj)
	h.ready(obj)
	if got, want := obj.Status.Artifact.Revision, "v1@"+d; got != want {
		t.Errorf("revision = %q, want %q", got, want)
	}
	if p.served.Load() == 0 {
		t.Error("nothing went through the proxy")
	}
	if obj.Status.URL == "" || obj.Status.URL != obj.Status.Artifact.URL {
		t.Errorf("status.url = %q, want the artifact's %q", obj.Status.URL, obj.Status.Artifact.URL)
	}

	wrong := ociRepository("wrong", reg, "app", proxied("wrong-proxy"))
	h.create(wrong)
	h.eventually(wrong, func() bool { return conditions.IsFalse(wrong, conditions.Ready) })
	msg := conditions.Get(wrong, conditions.Ready).Message
	t.Logf("wrong proxy password: %s", msg)
	if strings.Contains(msg, proxyPass) || strings.Contains(msg, "c3F1aWQ6") { // base64 "squid:"
		t.Errorf("message leaks the proxy credentials: %q", msg)
	}
}

// spec.serviceAccountName uses the image pull secrets of the service
// account, read from the API server: the first with credentials for the
// registry wins, after spec.secretRef; a missing service account or pull
// secret is named; pull secrets for other registries only mean anonymous.
func TestOCIRepositoryServiceAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t, ocitest.WithBasicAuth("robot", "sa-pass-31f"))
	d := push(t, reg, reg.Repo("private")+":v1", "private\n")
	h.dockerConfig("elsewhere", "registry.example.com", "other", "other-pass-1")
	h.dockerConfig("regcred", reg.Host(), "robot", "sa-pass-31f")
	h.dockerConfig("wrongcred", reg.Host(), "robot", "wrong-pass-52a")
	sa := func(name string, pull ...string) {
		s := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, p := range pull {
			s.ImagePullSecrets = append(s.ImagePullSecrets, corev1.LocalObjectReference{Name: p})
		}
		h.create(s)
	}
	sa("puller", "elsewhere", "regcred", "wrongcred")
	sa("others-only", "elsewhere")
	sa("dangling", "absent-pull-secret")
	sa("wrong", "wrongcred")
	spec := func(account string, secretRef string) func(*sourcev1.OCIRepositorySpec) {
		return func(s *sourcev1.OCIRepositorySpec) {
			s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
			s.ServiceAccountName = account
			if secretRef != "" {
				s.SecretRef = &meta.LocalObjectReference{Name: secretRef}
			}
		}
	}
	tests := []struct {
		name, account, secretRef string
		want                     []string // in the Ready message; none means Ready
	}{
		{name: "first matching pull secret", account: "puller"},
		{name: "secretRef for another registry, then the account", account: "puller", secretRef: "elsewhere"},
		{name: "secretRef wins", account: "puller", secretRef: "wrongcred", want: []string{"authentication required"}},
		{name: "wrong credentials", account: "wrong", want: []string{"authentication required"}},
		{name: "no pull secret for the registry", account: "others-only", want: []string{"authentication required"}},
		{name: "no credentials anywhere", account: "others-only", secretRef: "elsewhere",
			want: []string{"holds no credentials for registry '" + reg.Host() + "'", "nor do the image pull secrets of serviceaccount 'others-only'"}},
		{name: "missing service account", account: "ghost", want: []string{"serviceaccount '" + h.ns + "/ghost' not found"}},
		{name: "missing pull secret", account: "dangling", want: []string{"secret '" + h.ns + "/absent-pull-secret' not found"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			obj := ociRepository("sa-"+string(rune('a'+i)), reg, "private", spec(tc.account, tc.secretRef))
			h.create(obj)
			if len(tc.want) == 0 {
				h.ready(obj)
				if got, want := obj.Status.Artifact.Revision, "v1@"+d; got != want {
					t.Errorf("revision = %q, want %q", got, want)
				}
				return
			}
			msg := h.notReady(obj, tc.want...)
			t.Logf("message: %s", msg)
			for _, leak := range []string{"sa-pass-31f", "wrong-pass-52a", "other-pass-1"} {
				if strings.Contains(msg, leak) {
					t.Errorf("message leaks a password: %q", msg)
				}
			}
		})
	}
}

// writeTrustedRoot writes the signer's trusted_root.json into a file, as
// gitopsd's --sigstore-trusted-root names one.
func writeTrustedRoot(t *testing.T, s *ocitest.KeylessSigner) *source.TrustedRootFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, s.TrustedRootJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := source.NewTrustedRootFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// With a trusted root given to gitopsd, keyless verification needs no
// Secret: spec.verify.matchOIDCIdentity alone verifies sigstore bundles and
// cosign's classic keyless signatures; another signer's are refused. A
// trusted_root.json in spec.verify.secretRef still wins over gitopsd's.
func TestOCIRepositoryKeylessWithoutSecret(t *testing.T) {
	t.Parallel()
	const (
		workflow = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
		actions  = "https://token.actions.githubusercontent.com"
	)
	signer := ocitest.NewKeylessSigner(t, workflow, actions)
	other := ocitest.NewKeylessSigner(t, workflow, actions)
	h := newHarness(t, withOCI(func(r *source.OCIRepositoryReconciler) { r.TrustedRoot = writeTrustedRoot(t, signer) }))
	reg := ocitest.New(t, ocitest.WithReferrersAPI())
	dBundle := push(t, reg, reg.Repo("bundle")+":v1", "bundle\n")
	reg.SignKeyless(t, signer, reg.Repo("bundle")+"@"+dBundle)
	dClassic := push(t, reg, reg.Repo("classic")+":v1", "classic\n")
	reg.SignKeylessClassic(t, signer, reg.Repo("classic")+"@"+dClassic)
	dOther := push(t, reg, reg.Repo("other")+":v1", "other\n")
	reg.SignKeylessClassic(t, other, reg.Repo("other")+"@"+dOther)
	h.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "other-root"},
		Data:       map[string][]byte{"trusted_root.json": other.TrustedRootJSON()},
	})
	keyless := func(secret string) func(*sourcev1.OCIRepositorySpec) {
		return func(s *sourcev1.OCIRepositorySpec) {
			s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
			s.Verify = &sourcev1.OCIRepositoryVerification{MatchOIDCIdentity: []sourcev1.OIDCIdentityMatch{{
				Issuer: `^https://token\.actions\.githubusercontent\.com$`, Subject: `^https://github\.com/org/app/`,
			}}}
			if secret != "" {
				s.Verify.SecretRef = &meta.LocalObjectReference{Name: secret}
			}
		}
	}
	for _, tc := range []struct {
		name, repo, secret string
		verified           bool
	}{
		{"bundle", "bundle", "", true},
		{"classic", "classic", "", true},
		{"another instance", "other", "", false},
		{"secret's root wins", "other", "other-root", true},
		{"secret's root refuses gitopsd's signer", "classic", "other-root", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := *h
			h.t = t
			obj := ociRepository(strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", "-"), "'", ""), reg, tc.repo, keyless(tc.secret))
			h.create(obj)
			if !tc.verified {
				msg := h.notReady(obj, "signature verification", "failed")
				t.Logf("message: %s", msg)
				if !conditions.IsFalse(obj, meta.SourceVerifiedCondition) || obj.Status.Artifact != nil {
					t.Errorf("unverified: %s, artifact %+v", describe(obj), obj.Status.Artifact)
				}
				return
			}
			h.ready(obj)
			if !conditions.IsTrue(obj, meta.SourceVerifiedCondition) {
				t.Errorf("SourceVerified not True: %s", describe(obj))
			}
			if got := readFile(t, fetchArtifact(t, obj.Status.Artifact), "app.yaml"); got != tc.repo+"\n" {
				t.Errorf("content = %q", got)
			}
		})
	}
}

// Without a trusted root given to gitopsd, keyless verification without a
// Secret stalls, saying what is missing.
func TestOCIRepositoryKeylessWithoutAnyRoot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := ocitest.New(t)
	push(t, reg, reg.Repo("app")+":v1", "x\n")
	obj := ociRepository("app", reg, "app", func(s *sourcev1.OCIRepositorySpec) {
		s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
		s.Verify = &sourcev1.OCIRepositoryVerification{MatchOIDCIdentity: []sourcev1.OIDCIdentityMatch{{Issuer: ".*", Subject: ".*"}}}
	})
	h.create(obj)
	h.notReady(obj, "spec.verify.secretRef is not set", "--sigstore-trusted-root")
	if !conditions.IsTrue(obj, conditions.Stalled) {
		t.Errorf("not Stalled: %s", describe(obj))
	}
}

// A classic keyless signature verifies with the trusted root of the Secret.
func TestOCIRepositoryKeylessClassicFromSecret(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	signer := ocitest.NewKeylessSigner(t, "dev@example.com", "https://accounts.google.com")
	reg := ocitest.New(t)
	d := push(t, reg, reg.Repo("app")+":v1", "classic\n")
	reg.SignKeylessClassic(t, signer, reg.Repo("app")+"@"+d)
	h.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sigstore"},
		Data:       map[string][]byte{"trusted_root.json": signer.TrustedRootJSON()},
	})
	obj := ociRepository("app", reg, "app", func(s *sourcev1.OCIRepositorySpec) {
		s.Reference = &sourcev1.OCIRepositoryRef{Tag: "v1"}
		s.Verify = &sourcev1.OCIRepositoryVerification{
			SecretRef:         &meta.LocalObjectReference{Name: "sigstore"},
			MatchOIDCIdentity: []sourcev1.OIDCIdentityMatch{{Issuer: `^https://accounts\.google\.com$`, Subject: `^dev@example\.com$`}},
		}
	})
	h.create(obj)
	h.ready(obj)
	if c := conditions.Get(obj, meta.SourceVerifiedCondition); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "v1@"+d) {
		t.Errorf("SourceVerified: %s", describe(obj))
	}
}
