package ssa

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDependsOn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []ObjectID
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "/namespaces/ns/ConfigMap/cm", want: []ObjectID{{Kind: "ConfigMap", Namespace: "ns", Name: "cm"}}},
		{in: "apps/namespaces/ns/Deployment/web, /Namespace/ns", want: []ObjectID{
			{Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "web"},
			{Kind: "Namespace", Name: "ns"},
		}},
		{in: "apiextensions.k8s.io/CustomResourceDefinition/widgets.example.com", want: []ObjectID{
			{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "widgets.example.com"},
		}},
		{in: "apps/Deployment", wantErr: true},
		{in: "apps/ns/ns/Deployment/web", wantErr: true},
		{in: "apps/namespaces//Deployment/web", wantErr: true},
		{in: "/Namespace/", wantErr: true},
		{in: "//ns", wantErr: true},
		{in: "/Namespace/a,", wantErr: true},
		{in: "/Name space/a", wantErr: true},
		{in: "a/b/c/d/e/f", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseDependsOn(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("ParseDependsOn(%q) error = %v, want ErrInvalidID", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDependsOn(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseDependsOn(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	if _, err := ParseDependsOn(strings.Repeat("a", maxDependsOn+1)); err == nil {
		t.Error("oversized annotation accepted")
	}
}

func TestObjectIDFormats(t *testing.T) {
	t.Parallel()
	id := ObjectID{Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "web"}
	if got, want := id.String(), "Deployment.apps/ns/web"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := id.InventoryID(), "ns_web_apps_Deployment"; got != want {
		t.Errorf("InventoryID() = %q, want %q", got, want)
	}
	back, err := ParseInventoryID(id.InventoryID())
	if err != nil || back != id {
		t.Errorf("ParseInventoryID round trip = %v, %v", back, err)
	}
	refs, err := ParseDependsOn(id.DependsOnRef() + "," + ObjectID{Kind: "Namespace", Name: "ns"}.DependsOnRef())
	if err != nil || len(refs) != 2 || refs[0] != id {
		t.Errorf("DependsOnRef round trip = %v, %v", refs, err)
	}
	for _, bad := range []string{"", "a_b_c", "a_b_c_d_e", "ns__apps_Deployment", "ns_web_apps_"} {
		if _, err := ParseInventoryID(bad); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ParseInventoryID(%q) error = %v", bad, err)
		}
	}
}

func FuzzParseDependsOn(f *testing.F) {
	for _, s := range []string{"", "/namespaces/ns/ConfigMap/cm", "apps/Deployment/x,/Namespace/y", "a//b", ",,,", "/ / / / "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseDependsOn(s)
		if err != nil {
			return
		}
		for _, id := range ids {
			if id.Kind == "" || id.Name == "" {
				t.Fatalf("accepted empty kind or name in %q: %+v", s, id)
			}
			back, err := ParseDependsOn(id.DependsOnRef())
			if err != nil || len(back) != 1 || back[0] != id {
				t.Fatalf("round trip of %+v: %v %v", id, back, err)
			}
		}
	})
}

func FuzzParseInventoryID(f *testing.F) {
	for _, s := range []string{"ns_name_apps_Deployment", "_ns__Namespace", "a_b", "____"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseInventoryID(s)
		if err != nil {
			return
		}
		if id.InventoryID() != s {
			t.Fatalf("round trip of %q gave %q", s, id.InventoryID())
		}
	})
}
