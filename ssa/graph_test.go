package ssa

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	if ns != "" {
		u.SetNamespace(ns)
	}
	return u
}

func itemsOf(objs ...*unstructured.Unstructured) []*item {
	items := make([]*item, len(objs))
	for i, o := range objs {
		items[i] = &item{obj: o, id: IDOf(o)}
	}
	return items
}

func depNames(items []*item) map[string][]string {
	out := map[string][]string{}
	for _, it := range items {
		for _, d := range it.deps {
			out[it.id.String()] = append(out[it.id.String()], items[d].id.String())
		}
	}
	return out
}

func TestLinkImplicitEdges(t *testing.T) {
	t.Parallel()
	crd := obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com", map[string]any{
		"spec": map[string]any{"group": "example.com", "names": map[string]any{"kind": "Widget"}, "scope": "Namespaced"},
	})
	items := itemsOf(
		obj("v1", "Namespace", "", "apps", nil),
		crd,
		obj("example.com/v1", "Widget", "apps", "w", nil),
		obj("rbac.authorization.k8s.io/v1", "Role", "apps", "r", nil),
		obj("rbac.authorization.k8s.io/v1", "RoleBinding", "apps", "rb", map[string]any{"roleRef": map[string]any{"kind": "Role", "name": "r"}}),
		obj("v1", "ServiceAccount", "apps", "sa", nil),
		obj("apps/v1", "Deployment", "apps", "web", map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"serviceAccountName": "sa"}}}}),
		obj("batch/v1", "CronJob", "apps", "cron", map[string]any{"spec": map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"serviceAccountName": "sa"}}}}}}),
		obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "hook", nil),
	)
	if err := link(items); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"Widget.example.com/apps/w":                     {"Namespace/apps", "CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com"},
		"Role.rbac.authorization.k8s.io/apps/r":         {"Namespace/apps"},
		"RoleBinding.rbac.authorization.k8s.io/apps/rb": {"Namespace/apps", "Role.rbac.authorization.k8s.io/apps/r"},
		"ServiceAccount/apps/sa":                        {"Namespace/apps"},
		"Deployment.apps/apps/web":                      {"Namespace/apps", "ServiceAccount/apps/sa"},
		"CronJob.batch/apps/cron":                       {"Namespace/apps", "ServiceAccount/apps/sa"},
		"ValidatingWebhookConfiguration.admissionregistration.k8s.io/hook": {
			"Namespace/apps", "CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com", "Widget.example.com/apps/w",
			"Role.rbac.authorization.k8s.io/apps/r", "RoleBinding.rbac.authorization.k8s.io/apps/rb", "ServiceAccount/apps/sa",
			"Deployment.apps/apps/web", "CronJob.batch/apps/cron",
		},
	}
	if diff := cmp.Diff(want, depNames(items)); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}
}

func withDependsOn(u *unstructured.Unstructured, v string) *unstructured.Unstructured {
	u.SetAnnotations(map[string]string{DependsOnAnnotation: v})
	return u
}

func TestLinkExplicitErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		items []*item
		want  []string
	}{
		{
			name:  "unknown dependency",
			items: itemsOf(withDependsOn(obj("v1", "ConfigMap", "ns", "a", nil), "/namespaces/ns/ConfigMap/missing")),
			want:  []string{"ConfigMap/ns/a depends on ConfigMap/ns/missing, which is not in the set"},
		},
		{
			name: "cycle",
			items: itemsOf(
				withDependsOn(obj("v1", "ConfigMap", "ns", "a", nil), "/namespaces/ns/ConfigMap/b"),
				withDependsOn(obj("v1", "ConfigMap", "ns", "b", nil), "/namespaces/ns/ConfigMap/c"),
				withDependsOn(obj("v1", "ConfigMap", "ns", "c", nil), "/namespaces/ns/ConfigMap/a"),
			),
			want: []string{"dependency cycle ConfigMap/ns/a -> ConfigMap/ns/b -> ConfigMap/ns/c -> ConfigMap/ns/a"},
		},
		{
			name:  "malformed",
			items: itemsOf(withDependsOn(obj("v1", "ConfigMap", "ns", "a", nil), "ConfigMap/a")),
			want:  []string{"ConfigMap/ns/a", "invalid object id"},
		},
		{
			name:  "self",
			items: itemsOf(withDependsOn(obj("v1", "ConfigMap", "ns", "a", nil), "/namespaces/ns/ConfigMap/a")),
			want:  []string{"ConfigMap/ns/a depends on itself"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := link(tt.items)
			if !errors.Is(err, ErrDependency) {
				t.Fatalf("link error = %v, want ErrDependency", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestScheduleOrderAndFailure(t *testing.T) {
	t.Parallel()
	// 0 <- 1 <- 2, 0 <- 3, 4 alone; 1 fails so 2 is not run.
	deps := [][]int{{}, {0}, {1}, {0}, {}}
	var mu sync.Mutex
	var ran []int
	boom := errors.New("boom")
	errs := schedule(context.Background(), 2, deps, func(i int) ObjectID { return ObjectID{Kind: "N", Name: string(rune('a' + i))} },
		func(ctx context.Context, i int) error {
			mu.Lock()
			defer mu.Unlock()
			for _, d := range deps[i] {
				found := false
				for _, r := range ran {
					found = found || r == d
				}
				if !found {
					t.Errorf("node %d ran before its dependency %d", i, d)
				}
			}
			ran = append(ran, i)
			if i == 1 {
				return boom
			}
			return nil
		})
	if len(ran) != 4 {
		t.Errorf("ran %v, want 4 nodes (2 skipped)", ran)
	}
	if !errors.Is(errs[1], boom) {
		t.Errorf("errs[1] = %v", errs[1])
	}
	var de *DependencyError
	if !errors.As(errs[2], &de) || de.Dependency.Name != "b" {
		t.Errorf("errs[2] = %v, want a DependencyError naming b", errs[2])
	}
	for _, i := range []int{0, 3, 4} {
		if errs[i] != nil {
			t.Errorf("errs[%d] = %v", i, errs[i])
		}
	}
}

func TestScheduleCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := schedule(ctx, 3, make([][]int, 10), func(i int) ObjectID { return ObjectID{} },
		func(ctx context.Context, i int) error { t.Error("ran after cancel"); return nil })
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errs[%d] = %v", i, err)
		}
	}
}
