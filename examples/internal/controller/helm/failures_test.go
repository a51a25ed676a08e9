package helm

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/kit/runtime/conditions"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
)

// TestHelmReleaseBadInput: each bad input is a Ready=False reason and a
// message naming what is wrong, with nothing of a Secret in it, and no
// release left unrecorded.
func TestHelmReleaseBadInput(t *testing.T) {
	f := newFixture(t)
	const secret = "p4ssw0rd-never-shown"
	if err := f.c.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "db"},
		StringData: map[string]string{"password": secret},
	}); err != nil {
		t.Fatal(err)
	}
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	// A template that fails with the value it was given.
	f.helmChart("broken", f.chartArtifact("broken", "1.0.0", map[string]string{"fail.yaml": `{{ fail (printf "bad password %s" .Values.password) }}`}, nil))
	big := make([]byte, testMaxChartSize*2)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	f.helmChart("huge", f.chartArtifact("huge", "1.0.0", nil, map[string]string{"blob.txt": base64.StdEncoding.EncodeToString(big)}))

	for _, tc := range []struct {
		name, reason, want string
		stalled            bool
		mutate             func(*helmv1.HelmRelease)
	}{
		{name: "missing-values", reason: ValuesFailedReason, want: "ConfigMap",
			mutate: func(h *helmv1.HelmRelease) {
				h.Spec.ValuesFrom = []helmv1.ValuesReference{{Kind: "ConfigMap", Name: "absent"}}
			}},
		{name: "no-render", reason: InstallFailedReason, want: "bad password ***", stalled: true,
			mutate: func(h *helmv1.HelmRelease) {
				h.Spec.ChartRef.Name = "broken"
				h.Spec.ValuesFrom = []helmv1.ValuesReference{{Kind: "Secret", Name: "db", ValuesKey: "password", TargetPath: "password"}}
			}},
		{name: "dependency", reason: conditions.DependencyNotReadyReason, want: "absent' not found",
			mutate: func(h *helmv1.HelmRelease) {
				h.Spec.DependsOn = []meta.DependencyReference{{Kind: meta.DependencyHelmRelease, Name: "absent"}}
			}},
		{name: "too-large", reason: ArtifactFailedReason, want: "over the limit",
			mutate: func(h *helmv1.HelmRelease) { h.Spec.ChartRef.Name = "huge" }},
		{name: "no-rights", reason: ReleaseFailedReason, want: "forbidden",
			mutate: func(h *helmv1.HelmRelease) { h.Spec.ServiceAccountName = "nobody" }},
		{name: "no-chart", reason: ArtifactFailedReason, want: "not found",
			mutate: func(h *helmv1.HelmRelease) { h.Spec.ChartRef.Name = "absent" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hr := f.helmRelease(tc.name, "app", tc.mutate)
			got := f.waitNotReady(hr, tc.reason)
			c := conditions.Get(got, conditions.Ready)
			if !strings.Contains(c.Message, tc.want) || strings.Contains(c.Message, secret) {
				t.Fatalf("Ready message %q, want it to contain %q and no secret", c.Message, tc.want)
			}
			if tc.stalled && !conditions.IsTrue(got, conditions.Stalled) {
				t.Fatalf("not stalled: %+v", got.Status.Conditions)
			}
			for _, e := range events.of(f.ns, tc.name) {
				if strings.Contains(e.message, secret) {
					t.Fatalf("event %q shows the secret", e.message)
				}
			}
			for _, h := range got.Status.History {
				if h.Status == "pending-install" || h.Status == "pending-upgrade" {
					t.Fatalf("history %+v", got.Status.History)
				}
			}
		})
	}
}

// TestHelmReleaseDependsOnKustomization: a HelmRelease waits for a
// Kustomization (another kind) until it is Ready at its generation, then
// installs.
func TestHelmReleaseDependsOnKustomization(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "infra"},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "x"},
			Interval:  metav1.Duration{Duration: time.Hour}, Prune: true,
		},
	}
	if err := f.c.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	f.helmChart("app", f.chartArtifact("app", "1.0.0", nil, nil))
	hr := f.helmRelease("dependent", "app", func(h *helmv1.HelmRelease) {
		h.Spec.DependsOn = []meta.DependencyReference{{Kind: meta.DependencyKustomization, Name: "infra"}}
	})
	got := f.waitNotReady(hr, conditions.DependencyNotReadyReason)
	if got.Status.Latest() != nil || f.configMap(f.ns, "dependent-config") != nil {
		t.Fatal("installed before its dependency was ready")
	}
	conditions.MarkTrue(ks, conditions.Ready, conditions.SucceededReason, "Applied revision: main@sha1:1")
	ks.Status.ObservedGeneration = ks.Generation
	if err := f.c.Status().Update(ctx, ks); err != nil {
		t.Fatal(err)
	}
	f.waitReady(hr, 1)
}
