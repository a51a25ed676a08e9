package values

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestComposeOrderAndMerge(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	env.Create(t,
		configMap(ns, "base", map[string]string{"values.yaml": "replicas: 1\nimage:\n  repository: nginx\n  tag: \"1.0\"\nresources:\n  limits: {cpu: 1}\nlist: [a, b]\n"}),
		configMap(ns, "multi", map[string]string{"custom.yaml": "image:\n  tag: \"1.1\"\n---\nimage:\n  pullPolicy: Always\n"}),
		secret(ns, "creds", map[string]string{"values.yaml": "db:\n  password: s3cret-pw\n  port: 5432\n", "token": "tok-123,admin.enabled=true"}),
	)
	inline := map[string]any{"replicas": 3.0, "resources": nil, "list": []any{"c"}}
	res, err := Compose(t.Context(), env.Client(), []Reference{
		{Kind: KindConfigMap, Name: "base"},
		{Kind: KindConfigMap, Name: "multi", ValuesKey: "custom.yaml"},
		{Kind: KindSecret, Name: "creds"},
		{Kind: KindSecret, Name: "creds", ValuesKey: "token", TargetPath: `auth.tokens[1].value`},
		{Kind: KindConfigMap, Name: "absent", Optional: true},
		{Kind: KindConfigMap, Name: "base", ValuesKey: "absent.yaml", Optional: true},
	}, inline, Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"replicas":  3.0,
		"image":     map[string]any{"repository": "nginx", "tag": "1.1", "pullPolicy": "Always"},
		"resources": nil, // kept: Helm's coalescing deletes the chart default
		"list":      []any{"c"},
		"db":        map[string]any{"password": "s3cret-pw", "port": 5432.0},
		// the value is one string: its comma and '=' set no other key
		"auth": map[string]any{"tokens": []any{nil, map[string]any{"value": "tok-123,admin.enabled=true"}}},
	}
	if diff := cmp.Diff(want, res.Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"5432", "s3cret-pw", "tok-123,admin.enabled=true"}, res.Sensitive); diff != "" {
		t.Errorf("sensitive (-want +got):\n%s", diff)
	}
	if sum, _ := Checksum(res.Values); sum != res.Checksum || !strings.HasPrefix(sum, "sha256:") {
		t.Errorf("checksum %q, want Checksum(values) = %q", res.Checksum, sum)
	}
	if inline["resources"] != nil || len(inline) != 3 {
		t.Errorf("inline values modified: %v", inline)
	}
	res.Values["list"].([]any)[0] = "changed"
	if inline["list"].([]any)[0] != "c" {
		t.Error("the result shares the caller's inline list")
	}
}

func TestComposeTargetPathTypes(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	env.Create(t, configMap(ns, "v", map[string]string{
		"int": "3", "bool": "true", "null": "null", "quoted": `"3"`, "single": `'true'`, "zero": "012", "text": "hello world",
	}))
	refs := []Reference{}
	for _, k := range []string{"int", "bool", "quoted", "single", "zero", "text"} {
		refs = append(refs, Reference{Kind: KindConfigMap, Name: "v", ValuesKey: k, TargetPath: "t." + k})
	}
	refs = append(refs, Reference{Kind: KindConfigMap, Name: "v", ValuesKey: "null", TargetPath: "gone"})
	res, err := Compose(t.Context(), env.Client(), refs, nil, Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"t":    map[string]any{"int": int64(3), "bool": true, "quoted": "3", "single": "true", "zero": "012", "text": "hello world"},
		"gone": nil,
	}
	if diff := cmp.Diff(want, res.Values); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(res.Sensitive) != 0 {
		t.Errorf("values from ConfigMaps listed as sensitive: %v", res.Sensitive)
	}
}

// TestComposeErrorsHoldNoValue sends every kind of bad reference and checks
// the error's type, that it names the reference and key, and that no value
// of the Secret appears in it.
func TestComposeErrorsHoldNoValue(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	const leak = "hunter2-leak"
	env.Create(t,
		secret(ns, "bad", map[string]string{
			"syntax.yaml": "a: 1\npassword: [" + leak + "\n",
			"scalar.yaml": leak + "\n",
			"list.yaml":   "- " + leak + "\n",
			"type.yaml":   "password: " + leak + "\nnested: {a: 1}\n",
			"second.yaml": "ok: 1\n---\n" + leak + ": [\n",
			"big":         strings.Repeat("x", 2048),
			"value":       leak,
		}),
		configMap(ns, "cm", map[string]string{"values.yaml": "image: " + leak + "\n"}),
	)
	for _, tc := range []struct {
		name string
		ref  Reference
		is   error
		want string
	}{
		{"missing object", Reference{Kind: KindSecret, Name: "nope"}, ErrNotFound, "values from Secret " + ns + "/nope: object not found"},
		{"missing key", Reference{Kind: KindSecret, Name: "bad", ValuesKey: "nokey"}, ErrNotFound, `key "nokey": key not found`},
		{"syntax", Reference{Kind: KindSecret, Name: "bad", ValuesKey: "syntax.yaml"}, ErrInvalid, "document 1 is not valid YAML (line"},
		{"scalar", Reference{Kind: KindSecret, Name: "bad", ValuesKey: "scalar.yaml"}, ErrInvalid, "document 1 is not a map of values"},
		{"list", Reference{Kind: KindSecret, Name: "bad", ValuesKey: "list.yaml"}, ErrInvalid, "not a map of values"},
		{"second document", Reference{Kind: KindSecret, Name: "bad", ValuesKey: "second.yaml"}, ErrInvalid, "document 2 is not valid YAML"},
		{"too large", Reference{Kind: KindSecret, Name: "bad", ValuesKey: "big"}, ErrTooLarge, "2048 bytes, more than 1024"},
		{"bad path", Reference{Kind: KindSecret, Name: "bad", ValuesKey: "value", TargetPath: "a..b"}, ErrInvalid, `target path "a..b": empty key`},
		{"path through a scalar", Reference{Kind: KindSecret, Name: "bad", ValuesKey: "value", TargetPath: "password.inner"}, ErrInvalid, "needs a map at password, where the values hold a string"},
		{"bad kind", Reference{Kind: "Pod", Name: "x"}, ErrInvalid, "kind must be ConfigMap or Secret"},
		{"no name", Reference{Kind: KindSecret}, ErrInvalid, "no name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs := []Reference{{Kind: KindSecret, Name: "bad", ValuesKey: "type.yaml"}, tc.ref}
			_, err := Compose(t.Context(), env.Client(), refs, nil, Options{Namespace: ns, MaxBytes: 1024})
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			var re *ReferenceError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *ReferenceError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), leak) {
				t.Errorf("error quotes a value: %q", err)
			}
		})
	}
}

func TestComposeComposedTooLarge(t *testing.T) {
	t.Parallel()
	inline := map[string]any{"a": strings.Repeat("x", 600), "b": strings.Repeat("y", 600)}
	_, err := Compose(t.Context(), env.Client(), nil, inline, Options{MaxBytes: 1024})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
}

func TestComposeForbidden(t *testing.T) {
	t.Parallel()
	ns := env.Namespace(t)
	env.Create(t, secret(ns, "s", map[string]string{"values.yaml": "a: 1\n"}))
	c, err := env.ServiceAccountClient(ns, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compose(t.Context(), c, []Reference{{Kind: KindSecret, Name: "s", Optional: true}}, nil, Options{Namespace: ns})
	var re *ReferenceError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("error %v, want a *ReferenceError wrapping Forbidden (optional does not hide it)", err)
	}
}

func TestComposeHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Compose(ctx, env.Client(), []Reference{{Kind: KindConfigMap, Name: "x"}}, nil, Options{Namespace: "default"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// EnvClient is the client the package examples use: the test
// environment's, as an example's reader would be a manager's API reader.
func EnvClient() client.Client { return env.Client() }
