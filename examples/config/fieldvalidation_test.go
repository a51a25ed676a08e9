package config_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/config"
)

// apiServer asks the test's API server, with gitopsd's CRDs installed,
// whether specs are valid: the field validation tests of every kind share
// it.
type apiServer struct {
	t  *testing.T
	ns string
}

// newAPIServer installs the CRDs (idempotent) and makes a namespace for t.
func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	crds, err := config.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.InstallCRDs(context.Background(), crds...); err != nil {
		t.Fatal(err)
	}
	return &apiServer{t: t, ns: env.Namespace(t)}
}

// object is an object of apiVersion and kind named x in the test's
// namespace, with spec, YAML indented by two spaces.
func (a *apiServer) object(apiVersion, kind, spec string) *unstructured.Unstructured {
	a.t.Helper()
	doc := "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata: {name: x, namespace: " + a.ns + "}\nspec:\n" + spec
	var m map[string]any
	if err := utilyaml.Unmarshal([]byte(doc), &m); err != nil {
		a.t.Fatalf("%s: %v", doc, err)
	}
	return &unstructured.Unstructured{Object: m}
}

// accepts checks that the API server accepts each object (a dry-run
// create; defaults are filled into the object).
func (a *apiServer) accepts(valid map[string]*unstructured.Unstructured) {
	a.t.Helper()
	for name, obj := range valid {
		if err := env.Client().Create(context.Background(), obj, client.DryRunAll); err != nil {
			a.t.Errorf("%s: a valid %s was rejected: %v", name, obj.GetKind(), err)
		}
	}
}

// refusal is an object the API server must refuse, and the field its
// error must name.
type refusal struct {
	obj   *unstructured.Unstructured
	field string
}

// refuses checks that the API server refuses each object as Invalid,
// naming its field.
func (a *apiServer) refuses(cases map[string]refusal) {
	a.t.Helper()
	for name, tc := range cases {
		a.t.Run(name, func(t *testing.T) {
			err := env.Client().Create(context.Background(), tc.obj, client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error = %v, want Invalid naming %s", err, tc.field)
			}
		})
	}
}
