package source_test

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/helmutil/helmtest"
	"github.com/gitopskit/kit/runtime/conditions"
)

// A repository requiring a client certificate is read with the tls.crt and
// tls.key of spec.certSecretRef (and its chart downloaded with them);
// without them the handshake fails and the repository is Ready=False.
func TestHelmRepositoryMutualTLS(t *testing.T) {
	t.Parallel()
	h, _ := newHelmHarness(t, helmLimits{})
	srv := helmtest.NewServer(t, t.TempDir(), helmtest.WithClientCertificates())
	srv.AddChart(t, helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"}))
	cert := srv.ClientCertificate()
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := string(caOf(t, srv))
	h.secret("mtls", map[string]string{
		"ca.crt":  ca,
		"tls.crt": string(pemCert(cert.Certificate[0])),
		"tls.key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})),
	})
	h.secret("ca-only", map[string]string{"ca.crt": ca})

	obj := helmRepository("mtls", srv.URL(), func(s *sourcev1.HelmRepositorySpec) {
		s.CertSecretRef = &meta.LocalObjectReference{Name: "mtls"}
	})
	h.create(obj)
	h.ready(obj)
	hc := helmChart("app", "app", sourcev1.HelmRepositoryKind, "mtls")
	h.create(hc)
	h.ready(hc)
	if hc.Status.Artifact.Revision != "1.0.0" {
		t.Errorf("revision %q", hc.Status.Artifact.Revision)
	}

	without := helmRepository("no-cert", srv.URL(), func(s *sourcev1.HelmRepositorySpec) {
		s.CertSecretRef = &meta.LocalObjectReference{Name: "ca-only"}
	})
	h.create(without)
	msg := h.notReady(without)
	if c := conditions.Get(without, conditions.Ready); c.Reason != "FetchFailed" {
		t.Errorf("without a client certificate: %s: %s", c.Reason, msg)
	}
}

// A bearer token from spec.secretRef is masked: a server echoing
// the request into its 401 leaves it nowhere in the status or the events.
func TestHelmRepositoryBearerTokenMasked(t *testing.T) {
	t.Parallel()
	h, events := newHelmHarness(t, helmLimits{})
	const token = "bearer-token-for-charts-9931"
	h.secret("token", map[string]string{"bearerToken": token})
	obj := helmRepository("echo", echoServer(t), func(s *sourcev1.HelmRepositorySpec) {
		s.SecretRef = &meta.LocalObjectReference{Name: "token"}
	})
	h.create(obj)
	msg := h.notReady(obj, "401")
	if c := conditions.Get(obj, conditions.Ready); c.Reason != "AuthenticationFailed" {
		t.Errorf("reason %s: %s", c.Reason, msg)
	}
	for _, s := range append(events.all(), describe(obj)) {
		if strings.Contains(s, token) {
			t.Errorf("the token leaked: %s", s)
		}
	}
}
