package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"
)

// Main is the body of a test binary's TestMain: it starts one Environment,
// stores it in *env for the tests, runs them, stops the Environment and exits
// with the tests' status.
//
//	var env *testenv.Environment
//
//	func TestMain(m *testing.M) { testenv.Main(m, &env) }
//
// When the control plane cannot start, Main prints why (for missing binaries:
// where it looked and that `make controlplane` builds them) and exits 1, so a
// missing control plane fails the run instead of skipping tests.
//
// Main owns the test binary's process, so it also gives controller-runtime its
// process-wide logger: the one passed with WithLogger, else a logger that
// discards (controller-runtime otherwise prints a warning with a stack trace
// into the test output). Start alone changes no global.
//
// In a fuzzing worker process (go test -fuzz) Main starts no control plane
// and leaves *env nil: fuzz targets must not need one, and the fuzzing
// coordinator kills its workers without letting them stop child processes.
func Main(m *testing.M, env **Environment, opts ...Option) {
	if !flag.Parsed() {
		flag.Parse()
	}
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run())
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger != nil {
		ctrllog.SetLogger(*o.logger)
	} else {
		ctrllog.SetLogger(logr.Discard())
	}
	e, err := Start(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stopping control plane: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// fieldOwner is the field manager of the objects the helpers apply.
const fieldOwner = client.FieldOwner("gitopskit-testenv")

var invalidNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace with a fresh name derived from the test's
// name and deletes it when the test ends. Parallel tests each get their own.
//
// The control plane runs no controller-manager, so a deleted namespace stays
// Terminating and the objects in it are not garbage-collected; fresh names
// keep tests apart regardless.
func (e *Environment) Namespace(t testing.TB) string {
	t.Helper()
	prefix := invalidNameChars.ReplaceAllString(strings.ToLower(t.Name()), "-")
	prefix = strings.Trim(prefix, "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	if prefix == "" {
		prefix = "test"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	ctx, cancel := withWaitTimeout(context.Background())
	defer cancel()
	if err := e.client.Create(ctx, ns); err != nil {
		t.Fatalf("testenv: creating namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := withWaitTimeout(context.Background())
		defer cancel()
		if err := e.client.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("testenv: deleting namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// Create creates the objects with the admin client and deletes them when the
// test ends (in reverse order). It is meant for fixtures such as RBAC rules
// and cluster-scoped objects that a per-test namespace does not contain.
func (e *Environment) Create(t testing.TB, objs ...client.Object) {
	t.Helper()
	ctx, cancel := withWaitTimeout(context.Background())
	defer cancel()
	for _, obj := range objs {
		if err := e.client.Create(ctx, obj); err != nil {
			t.Fatalf("testenv: creating %T %s: %v", obj, client.ObjectKeyFromObject(obj), err)
		}
		t.Cleanup(func() {
			ctx, cancel := withWaitTimeout(context.Background())
			defer cancel()
			if err := e.client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("testenv: deleting %T %s: %v", obj, client.ObjectKeyFromObject(obj), err)
			}
		})
	}
}

// InstallCRDs applies the CustomResourceDefinitions (server-side apply, so
// installing the same CRD from parallel tests is safe) and waits until each is
// Established and its resource is served by discovery. CRDs are cluster-wide
// and shared by every test of the binary; they are not removed.
func (e *Environment) InstallCRDs(ctx context.Context, crds ...*apiextensionsv1.CustomResourceDefinition) error {
	for _, crd := range crds {
		obj := crd.DeepCopy()
		obj.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		obj.ResourceVersion = ""
		obj.ManagedFields = nil
		obj.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fmt.Errorf("converting CRD %s: %w", crd.Name, err)
		}
		u := &unstructured.Unstructured{Object: content}
		unstructured.RemoveNestedField(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		if err := e.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), fieldOwner, client.ForceOwnership); err != nil {
			return fmt.Errorf("applying CRD %s: %w", crd.Name, err)
		}
	}
	return e.waitForCRDs(ctx, crds)
}

// InstallCRDFiles reads CustomResourceDefinitions from YAML or JSON files
// and folders (a folder's *.yaml, *.yml and *.json files, not recursive) and
// installs them as InstallCRDs does.
func (e *Environment) InstallCRDFiles(ctx context.Context, paths ...string) error {
	crds, err := ReadCRDs(paths...)
	if err != nil {
		return err
	}
	return e.InstallCRDs(ctx, crds...)
}

// ReadCRDs reads CustomResourceDefinitions from YAML (multi-document) or
// JSON files and folders. Documents of other kinds are an error, so a typo in
// a path list does not go unnoticed.
func ReadCRDs(paths ...string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading CRDs: %w", err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("reading CRDs: %w", err)
		}
		for _, de := range entries {
			switch filepath.Ext(de.Name()) {
			case ".yaml", ".yml", ".json":
				if !de.IsDir() {
					files = append(files, filepath.Join(p, de.Name()))
				}
			}
		}
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading CRDs: %w", err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("reading CRDs from %s: %w", f, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 || isOnlyComments(doc) {
				continue
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(doc, crd); err != nil {
				return nil, fmt.Errorf("reading CRDs from %s (document %d): %w", f, i+1, err)
			}
			if crd.Kind != "CustomResourceDefinition" || crd.APIVersion != apiextensionsv1.SchemeGroupVersion.String() {
				return nil, fmt.Errorf("reading CRDs from %s (document %d): found %s %s, want %s CustomResourceDefinition",
					f, i+1, crd.APIVersion, crd.Kind, apiextensionsv1.SchemeGroupVersion)
			}
			crds = append(crds, crd)
		}
	}
	return crds, nil
}

func isOnlyComments(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && !bytes.Equal(line, []byte("---")) {
			return false
		}
	}
	return true
}

func (e *Environment) waitForCRDs(ctx context.Context, crds []*apiextensionsv1.CustomResourceDefinition) error {
	ctx, cancel := withWaitTimeout(ctx)
	defer cancel()
	dc, err := discovery.NewDiscoveryClientForConfig(e.cfg)
	if err != nil {
		return fmt.Errorf("creating discovery client: %w", err)
	}
	for _, want := range crds {
		err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := e.client.Get(ctx, client.ObjectKey{Name: want.Name}, crd); err != nil {
				return false, client.IgnoreNotFound(err)
			}
			if !crdConditionTrue(crd, apiextensionsv1.Established) || !crdConditionTrue(crd, apiextensionsv1.NamesAccepted) {
				return false, nil
			}
			for _, v := range crd.Spec.Versions {
				if !v.Served {
					continue
				}
				list, err := dc.ServerResourcesForGroupVersion(crd.Spec.Group + "/" + v.Name)
				if err != nil {
					return false, nil
				}
				if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool {
					return r.Name == crd.Spec.Names.Plural
				}) {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be established and served: %w", want.Name, err)
		}
	}
	return nil
}

func crdConditionTrue(crd *apiextensionsv1.CustomResourceDefinition, t apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == t {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// ImpersonatedConfig returns a rest.Config that acts as the given user and
// groups (system:authenticated is added), with client-side throttling off.
func (e *Environment) ImpersonatedConfig(user string, groups ...string) *rest.Config {
	cfg := rest.CopyConfig(e.cfg)
	if !slices.Contains(groups, "system:authenticated") {
		groups = append(slices.Clone(groups), "system:authenticated")
	}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return cfg
}

// ImpersonatedClient returns an uncached client that acts as the given user
// and groups, so a test can check what that user's RBAC allows and denies.
func (e *Environment) ImpersonatedClient(user string, groups ...string) (client.Client, error) {
	c, err := client.New(e.ImpersonatedConfig(user, groups...), client.Options{Scheme: e.scheme})
	if err != nil {
		return nil, fmt.Errorf("creating client for %s: %w", user, err)
	}
	return c, nil
}

// ServiceAccountClient returns an uncached client that acts as the service
// account namespace/name, with the groups the API server gives service
// accounts. The ServiceAccount object itself need not exist.
func (e *Environment) ServiceAccountClient(namespace, name string) (client.Client, error) {
	return e.ImpersonatedClient(ServiceAccountUser(namespace, name),
		"system:serviceaccounts", "system:serviceaccounts:"+namespace)
}

// ServiceAccountUser returns the user name of a service account,
// system:serviceaccount:<namespace>:<name>, as RBAC subjects and impersonation
// see it.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}
