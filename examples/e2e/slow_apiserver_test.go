package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/ssa"
)

// slowWrites is a TLS reverse proxy in front of the API server that
// answers its writes (POST, PUT, PATCH and DELETE that are not dry-runs)
// late: it passes each on at once and holds the API server's answer for
// the current delay, as a client of an API server whose etcd commits
// slowly sees it. A client that gives up meanwhile does not learn that its
// write was done. Reads, watches and dry-runs, which etcd does not slow
// down (the API server answers them from its watch cache, or without
// storing), pass at once.
type slowWrites struct {
	srv    *httptest.Server
	delay  atomic.Int64 // a time.Duration
	slowed atomic.Int64 // writes answered late
}

// newSlowWrites starts a proxy to the API server cfg addresses, reaching
// it with cfg's credentials. It only serves clients presenting the client
// certificate of clientCert (a kubeconfig's).
func newSlowWrites(t testing.TB, cfg *rest.Config, clientCert []byte) *slowWrites {
	t.Helper()
	target, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := pem.Decode(clientCert)
	if want == nil {
		t.Fatal("no client certificate in the kubeconfig")
	}
	p := &slowWrites{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
		},
		Transport: tr,
		// Watches stream.
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			d := time.Duration(p.delay.Load())
			if r := resp.Request; d == 0 || r.Method == http.MethodGet || r.URL.Query().Has("dryRun") {
				return nil
			}
			p.slowed.Add(1)
			timer := time.NewTimer(d)
			defer timer.Stop()
			select {
			case <-timer.C:
				return nil
			case <-resp.Request.Context().Done():
				return resp.Request.Context().Err()
			}
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewUnstartedServer(rp)
	p.srv.EnableHTTP2 = true
	p.srv.TLS = &tls.Config{
		ClientAuth: tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], want.Bytes) {
				return errors.New("not the kubeconfig's client certificate")
			}
			return nil
		},
	}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

// kubeConfig returns kubeconfig pointed at the proxy (trusting its
// certificate), with the same credentials.
func (p *slowWrites) kubeConfig(t testing.TB, kubeconfig []byte) []byte {
	t.Helper()
	c, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	for _, cl := range c.Clusters {
		cl.Server = p.srv.URL
		cl.CertificateAuthority, cl.CertificateAuthorityData = "", ca
	}
	out, err := clientcmd.Write(*c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// clientCertificate returns the PEM client certificate of kubeconfig's
// current user.
func clientCertificate(t testing.TB, kubeconfig []byte) []byte {
	t.Helper()
	c, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := c.Contexts[c.CurrentContext]
	if ctx == nil || c.AuthInfos[ctx.AuthInfo] == nil {
		t.Fatalf("kubeconfig has no user for context %q", c.CurrentContext)
	}
	return c.AuthInfos[ctx.AuthInfo].ClientCertificateData
}

// An API server whose etcd is slow — every write answered two seconds
// late — while gitopsd applies 300 objects with a 20s spec.timeout: the
// Kustomization reports the timeout, how far the apply got and its cause
// with the revision (not a line for each of the objects it stopped), and
// its inventory lists every object the cut-short apply created, including
// those whose answer never came. Once the API server is fast again, the
// next revision — which drops some of the objects the cut-short apply
// created — is applied: Ready, every object once (none created twice), and
// what left git pruned, which only the inventory could tell.
func TestSlowAPIServerTimesOut(t *testing.T) {
	f := newFixture(t)
	srv := gittest.NewServer(t)
	repo := srv.InitRepository("app.git")
	c1 := repo.Commit("main", "300", manyConfigMaps(0, 300, "one"))
	rev1 := "main@sha1:" + c1

	kubeconfig := env.KubeConfig()
	proxy := newSlowWrites(t, env.Config(), clientCertificate(t, kubeconfig))
	const label = "slow-apiserver"
	startChildIn(t, t.TempDir(), proxy.kubeConfig(t, kubeconfig), "--watch-label-selector="+childLabel+"="+label)
	const delay = 2 * time.Second
	proxy.delay.Store(int64(delay))

	src := gitRepository("app", srv.HTTPURL("app.git"))
	ks := kustomization("app", f.ns, src, "./deploy")
	ks.Spec.Timeout.Duration = 20 * time.Second
	// No retry before the test has looked at what the timeout left.
	ks.Spec.RetryInterval.Duration = time.Hour
	for _, o := range []client.Object{src, ks} {
		o.SetLabels(map[string]string{childLabel: label})
	}
	f.create(src, ks)
	var msg string
	f.eventually(ks, func() bool {
		c := conditions.Get(ks, conditions.Ready)
		if c == nil || c.Status != metav1.ConditionFalse || ks.Status.LastAttemptedRevision != rev1 {
			return false
		}
		msg = c.Message
		return true
	}, func() string { return describeKs(ks) })
	t.Logf("Ready=False %s after %d slow writes: %s", conditions.Get(ks, conditions.Ready).Reason, proxy.slowed.Load(), msg)
	for _, want := range []string{rev1, "spec.timeout of 20s exceeded", "of 300 objects applied", "more perhaps", "context deadline exceeded"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message does not say %q: %s", want, msg)
		}
	}
	if n := strings.Count(msg, "ConfigMap/"); n > 1 {
		t.Errorf("the message names %d objects, want the first failure only: %s", n, msg)
	}

	// What the apply created is in the inventory; the retry comes in an
	// hour, so nothing writes meanwhile.
	live := map[string]types.UID{}
	var l corev1.ConfigMapList
	if err := f.c.List(context.Background(), &l, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	for _, c := range l.Items {
		if strings.HasPrefix(c.Name, "cm-") {
			live[c.Name] = c.UID
		}
	}
	if len(live) == 0 || len(live) == 300 {
		t.Fatalf("%d of 300 objects created: the timeout did not cut the apply short (delay %s)", len(live), delay)
	}
	inv := map[string]bool{}
	if ks.Status.Inventory != nil {
		for _, e := range ks.Status.Inventory.Entries {
			id, err := ssa.ParseInventoryID(e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if inv[id.Name] {
				t.Errorf("inventory lists %s twice", e.ID)
			}
			inv[id.Name] = true
		}
	}
	var missing []string
	for n := range live {
		if !inv[n] {
			missing = append(missing, n)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%d of the %d objects the apply created are not in the inventory: %s", len(missing), len(live), missing)
	}
	t.Logf("the timeout left %d of 300 objects created, %d in the inventory", len(live), len(inv))

	// Fast again. The next revision drops every other object created so
	// far, and the source is asked to fetch it.
	proxy.delay.Store(0)
	var names []string
	for n := range live {
		names = append(names, n)
	}
	slices.Sort(names)
	dropped := map[string]bool{}
	var gone []string
	for i, n := range names {
		if i%2 == 0 {
			dropped[n] = true
			gone = append(gone, "deploy/"+n+".yaml")
		}
	}
	c2 := repo.Commit("main", "drop", nil, gittest.Deleting(gone...))
	f.request(src)
	f.applied(ks, "main@sha1:"+c2)

	if err := f.c.List(context.Background(), &l, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	got := map[string]types.UID{}
	for _, c := range l.Items {
		if strings.HasPrefix(c.Name, "cm-") {
			got[c.Name] = c.UID
		}
	}
	for i := range 300 {
		n := fmt.Sprintf("cm-%03d", i)
		uid, ok := got[n]
		switch {
		case dropped[n]:
			if ok {
				t.Errorf("%s left git but was not pruned", n)
			}
		case !ok:
			t.Errorf("%s missing", n)
		case live[n] != "" && uid != live[n]:
			t.Errorf("%s was created twice (UID %s, was %s)", n, uid, live[n])
		}
	}
	if want := 300 - len(dropped); len(got) != want || len(ks.Status.Inventory.Entries) != want {
		t.Errorf("%d objects, %d in the inventory, want %d", len(got), len(ks.Status.Inventory.Entries), want)
	}
}
