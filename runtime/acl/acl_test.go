package acl_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/testenv"
)

var env *testenv.Environment

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func TestCheck(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := env.Client()

	trusted := env.Namespace(t)
	untrusted := env.Namespace(t)
	shared := env.Namespace(t)
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: trusted}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels["gitopskit.dev/shared-sources"] = "true"
	if err := c.Update(ctx, &ns); err != nil {
		t.Fatal(err)
	}
	sel := labels.SelectorFromSet(labels.Set{"gitopskit.dev/shared-sources": "true"})

	tests := []struct {
		name     string
		policy   acl.Policy
		from, to string
		denied   bool
	}{
		{name: "allow all", policy: acl.AllowAll(), from: untrusted, to: shared},
		{name: "deny cross-namespace", policy: acl.DenyCrossNamespace(), from: trusted, to: shared, denied: true},
		{name: "zero policy denies", policy: acl.Policy{}, from: trusted, to: shared, denied: true},
		{name: "same namespace always allowed", policy: acl.DenyCrossNamespace(), from: shared, to: shared},
		{name: "empty target means same namespace", policy: acl.DenyCrossNamespace(), from: shared, to: ""},
		{name: "selector matches the referrer's namespace", policy: acl.AllowNamespaceSelector(sel), from: trusted, to: shared},
		{name: "selector does not match", policy: acl.AllowNamespaceSelector(sel), from: untrusted, to: shared, denied: true},
		{name: "the target's labels do not count", policy: acl.AllowNamespaceSelector(sel), from: untrusted, to: trusted, denied: true},
		{name: "nil selector matches nothing", policy: acl.AllowNamespaceSelector(nil), from: trusted, to: shared, denied: true},
		{name: "selector, same namespace", policy: acl.AllowNamespaceSelector(nil), from: untrusted, to: untrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.Check(ctx, c, tt.from, tt.to)
			if !tt.denied {
				if err != nil {
					t.Fatalf("Check = %v, want allowed", err)
				}
				return
			}
			var denied *acl.AccessDeniedError
			if !errors.As(err, &denied) || !errors.Is(err, acl.ErrAccessDenied) {
				t.Fatalf("Check = %v, want *AccessDeniedError", err)
			}
			if denied.From != tt.from || denied.To != tt.to {
				t.Errorf("denial names %s -> %s, want %s -> %s", denied.From, denied.To, tt.from, tt.to)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.from) || !strings.Contains(msg, tt.to) {
				t.Errorf("message %q does not name both namespaces", msg)
			}
		})
	}
}

func TestCheckReadFailureIsNotADenial(t *testing.T) {
	t.Parallel()
	p := acl.AllowNamespaceSelector(labels.Everything())
	err := p.Check(t.Context(), env.Client(), "no-such-namespace-acl", "other")
	if err == nil || errors.Is(err, acl.ErrAccessDenied) || !apierrors.IsNotFound(err) {
		t.Fatalf("Check = %v, want a wrapped NotFound that is not a denial", err)
	}
}

func TestCheckHonoursCancellation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := acl.AllowNamespaceSelector(labels.Everything()).Check(ctx, env.Client(), "a", "b")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Check = %v, want context.Canceled", err)
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	sel := labels.SelectorFromSet(labels.Set{"team": "platform"})
	for p, want := range map[*acl.Policy]string{
		ptr(acl.AllowAll()):                  "allow all",
		ptr(acl.DenyCrossNamespace()):        "deny cross-namespace",
		ptr(acl.AllowNamespaceSelector(sel)): `allow namespaces matching "team=platform"`,
		ptr(acl.AllowNamespaceSelector(nil)): `allow namespaces matching ""`,
	} {
		if got := p.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
