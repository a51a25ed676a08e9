package source_test

import (
	"strings"
	"testing"

	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// A HelmChart of an oci HelmRepository pulls the version its range selects
// among the tags, with the repository's credentials; with spec.verify the
// cosign signature is checked first (through the OCIRepository
// reconciler's verification): a chart signed by the key is Ready and
// SourceVerified, an unsigned one fails with nothing stored. A second
// reconcile stores nothing new. Credentials never reach the status.
func TestHelmChartFromOCIRegistry(t *testing.T) {
	t.Parallel()
	h, events := newHelmHarness(t, helmLimits{})
	const user, pass = "robot", "oci-chart-pass-77"
	reg := ocitest.New(t, ocitest.WithBasicAuth(user, pass))
	pkgs := t.TempDir()
	var digests []string
	for _, v := range []string{"1.0.0", "1.1.0"} {
		tgz := helmtest.PackageChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: v}), pkgs)
		_, d := helmtest.PushChart(t, reg, tgz, "charts", helmtest.PushOptions{Username: user, Password: pass})
		digests = append(digests, d)
	}
	signer := ocitest.NewSigner(t)
	reg.Sign(t, signer, reg.Repo("charts/app")+"@"+digests[0])
	h.secret("cosign", map[string]string{"cosign.pub": string(signer.PublicKeyPEM())})
	h.secret("registry", map[string]string{"username": user, "password": pass})

	hr := helmRepository("oci", "oci://"+reg.Repo("charts"), func(s *sourcev1.HelmRepositorySpec) {
		s.Type = sourcev1.HelmRepositoryTypeOCI
		s.Insecure = true
		s.SecretRef = &meta.LocalObjectReference{Name: "registry"}
	})
	h.create(hr)
	h.ready(hr)

	latest := helmChart("latest", "app", sourcev1.HelmRepositoryKind, "oci")
	h.create(latest)
	h.ready(latest)
	if latest.Status.Artifact.Revision != "1.1.0" || latest.Status.ObservedSourceArtifactRevision != "1.1.0@"+digests[1] {
		t.Errorf("revision %q, source revision %q", latest.Status.Artifact.Revision, latest.Status.ObservedSourceArtifactRevision)
	}
	if name, version, _ := loadChartArtifact(t, latest); name != "app" || version != "1.1.0" {
		t.Errorf("packaged %s-%s", name, version)
	}
	if conditions.Get(latest, "SourceVerified") != nil {
		t.Errorf("SourceVerified without spec.verify: %s", describe(latest))
	}
	first := latest.Status.Artifact.DeepCopy()
	h.requestObject(latest, "again")
	h.ready(latest)
	if !latest.Status.Artifact.LastUpdateTime.Equal(&first.LastUpdateTime) {
		t.Error("a second reconcile stored the chart again")
	}

	verify := &sourcev1.OCIRepositoryVerification{Provider: "cosign", SecretRef: &meta.LocalObjectReference{Name: "cosign"}}
	signed := helmChart("signed", "app", sourcev1.HelmRepositoryKind, "oci", func(s *sourcev1.HelmChartSpec) {
		s.Version = "1.0.0"
		s.Verify = verify
	})
	h.create(signed)
	h.ready(signed)
	if !conditions.IsTrue(signed, "SourceVerified") || signed.Status.Artifact.Revision != "1.0.0" {
		t.Errorf("signed: %s revision %v", describe(signed), signed.Status.Artifact)
	}

	unsigned := helmChart("unsigned", "app", sourcev1.HelmRepositoryKind, "oci", func(s *sourcev1.HelmChartSpec) {
		s.Version = "1.1.0"
		s.Verify = verify
	})
	h.create(unsigned)
	h.notReady(unsigned, "signature")
	if c := conditions.Get(unsigned, conditions.Ready); c.Reason != "VerificationFailed" || !conditions.IsFalse(unsigned, "SourceVerified") {
		t.Errorf("unsigned: %s", describe(unsigned))
	}
	if unsigned.Status.Artifact != nil {
		t.Error("an unsigned chart was stored")
	}

	// Refused credentials: AuthenticationFailed, the password nowhere.
	h.secret("wrong", map[string]string{"username": user, "password": "not-" + pass})
	bad := helmRepository("bad", "oci://"+reg.Repo("charts"), func(s *sourcev1.HelmRepositorySpec) {
		s.Type = sourcev1.HelmRepositoryTypeOCI
		s.Insecure = true
		s.SecretRef = &meta.LocalObjectReference{Name: "wrong"}
	})
	h.create(bad)
	denied := helmChart("denied", "app", sourcev1.HelmRepositoryKind, "bad")
	h.create(denied)
	msg := h.notReady(denied)
	if c := conditions.Get(denied, conditions.Ready); c.Reason != "AuthenticationFailed" {
		t.Errorf("denied: %s", describe(denied))
	}
	for _, s := range append(events.all(), msg) {
		if strings.Contains(s, pass) {
			t.Errorf("the password leaked: %s", s)
		}
	}
}
