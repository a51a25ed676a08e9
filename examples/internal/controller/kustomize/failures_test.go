package kustomize

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
)

// Every failure after a successful apply gives Ready=False with a message
// that says what is wrong, keeps lastAppliedRevision, and deletes nothing
// already applied, although prune is on.
func TestFailuresDeleteNothing(t *testing.T) {
	f := newFixture(t)
	good := f.artifact("app", map[string]string{"a.yaml": cm("a"), "b.yaml": cm("b")})
	src := f.gitRepository("app", &good)
	ks := f.kustomization("app", "app", nil)
	f.waitReady(ks, good.Revision)

	unreachable := good
	unreachable.URL = "http://127.0.0.1:1/gitrepository/app.tar.gz"
	unreachable.Revision = revision()
	// Another artifact: the same digest would be served from the last
	// build, rightly, whatever the URL.
	unreachable.Digest = artifact.Digest("sha256:" + strings.Repeat("1", 64))
	tampered := good
	tampered.Revision = revision()
	tampered.Digest = artifact.Digest("sha256:" + strings.Repeat("0", 64))

	steps := []struct {
		name   string
		change func() string // returns the revision attempted
		reason string
		msg    []string
	}{
		{
			name: "wrong path",
			change: func() string {
				f.update(ks, func(k *kustomizev1.Kustomization) { k.Spec.Path = "./nope" })
				return good.Revision
			},
			reason: BuildFailedReason,
			msg:    []string{`path "./nope" not found`, good.Revision},
		},
		{
			name: "invalid YAML",
			change: func() string {
				f.update(ks, func(k *kustomizev1.Kustomization) { k.Spec.Path = "" })
				// Listed by a kustomization: a plain folder's generator
				// skips files that are not Kubernetes YAML, as kustomize's
				// autodetection does.
				a := f.artifact("app", map[string]string{
					"kustomization.yaml": "resources:\n- a.yaml\n- bad.yaml\n",
					"a.yaml":             cm("a"),
					"bad.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n",
				})
				f.setArtifact(src, a)
				return a.Revision
			},
			reason: BuildFailedReason,
			msg:    []string{"bad.yaml"},
		},
		{
			name: "missing decryption Secret",
			change: func() string {
				f.setArtifact(src, good)
				f.update(ks, func(k *kustomizev1.Kustomization) {
					k.Spec.Decryption = &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}}
				})
				return good.Revision
			},
			reason: BuildFailedReason,
			msg:    []string{"decryption Secret '" + f.ns + "/sops-keys' not found"},
		},
		{
			name: "unreachable artifact",
			change: func() string {
				f.update(ks, func(k *kustomizev1.Kustomization) { k.Spec.Decryption = nil })
				f.setArtifact(src, unreachable)
				return unreachable.Revision
			},
			reason: ArtifactFailedReason,
			msg:    []string{"fetching artifact of revision " + unreachable.Revision, "127.0.0.1:1"},
		},
		{
			name: "digest mismatch",
			change: func() string {
				f.setArtifact(src, tampered)
				return tampered.Revision
			},
			reason: ArtifactFailedReason,
			msg:    []string{"digest"},
		},
	}
	for _, st := range steps {
		rev := st.change()
		got := f.waitNotReady(ks, st.reason, rev)
		msg := conditions.Get(got, conditions.Ready).Message
		t.Logf("%s: Ready=False %s: %s", st.name, st.reason, msg)
		if !containsAll(msg, st.msg...) {
			t.Errorf("%s: Ready message = %q, want it to contain %q", st.name, msg, st.msg)
		}
		if got.Status.LastAppliedRevision != good.Revision {
			t.Errorf("%s: lastAppliedRevision = %q, want %q", st.name, got.Status.LastAppliedRevision, good.Revision)
		}
		if len(inventoryIDs(got)) != 2 {
			t.Errorf("%s: inventory = %v", st.name, inventoryIDs(got))
		}
		f.mustConfigMap(f.ns, "a")
		f.mustConfigMap(f.ns, "b")
	}

	// Recovery: a good revision is applied again.
	fixed := f.artifact("app", map[string]string{"a.yaml": cm("a"), "b.yaml": cm("b")})
	f.setArtifact(src, fixed)
	f.waitReady(ks, fixed.Revision)
}

// On deletion the inventory is deleted or orphaned as deletionPolicy says.
func TestDeletionPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		policy  kustomizev1.DeletionPolicy
		prune   bool
		deleted bool
	}{
		{kustomizev1.DeletionPolicyMirrorPrune, true, true},
		{kustomizev1.DeletionPolicyMirrorPrune, false, false},
		{kustomizev1.DeletionPolicyDelete, false, true},
		{kustomizev1.DeletionPolicyOrphan, true, false},
		{"", true, true}, // the default is MirrorPrune
	}
	for _, tc := range cases {
		name := string(tc.policy)
		if name == "" {
			name = "default"
		}
		if tc.prune {
			name += "-prune"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			art := f.artifact("app", map[string]string{"a.yaml": cm("a")})
			f.gitRepository("app", &art)
			ks := f.kustomization("app", "app", func(s *kustomizev1.KustomizationSpec) {
				s.Prune = tc.prune
				s.DeletionPolicy = tc.policy
			})
			f.waitReady(ks, art.Revision)
			if err := f.c.Delete(context.Background(), ks); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				err := f.c.Get(context.Background(), client.ObjectKeyFromObject(ks), &kustomizev1.Kustomization{})
				if apierrors.IsNotFound(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Kustomization not deleted: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if tc.deleted {
				f.waitGone(f.ns, "a")
			} else if f.configMap(f.ns, "a") == nil {
				t.Error("the ConfigMap was deleted, want it orphaned")
			}
		})
	}
}
