package notification

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/examples/api/meta"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
)

// TestProvidersRecheck checks how long a built provider is kept: within
// DefaultSecretRecheck a changed Secret is not read (the same provider
// comes back); after it, the Secret is read again and, changed, makes a
// new provider; unchanged, the same one; a new generation of the Provider
// is rebuilt at once.
func TestProvidersRecheck(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.secret("hook", map[string]string{"address": f.sink.URL() + "/a"})
	p := &notificationv1.Provider{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       notificationv1.ProviderSpec{Type: "generic", SecretRef: &meta.LocalObjectReference{Name: "hook"}},
	}
	f.create(p)
	now := time.Now()
	ps := &Providers{Reader: f.c, Now: func() time.Time { return now }}
	resolve := func() any {
		t.Helper()
		prov, _, err := ps.Resolve(ctx, p, false)
		if err != nil {
			t.Fatal(err)
		}
		return prov
	}
	first := resolve()
	s.StringData = map[string]string{"address": f.sink.URL() + "/b"}
	if err := f.c.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	now = now.Add(DefaultSecretRecheck - time.Second)
	if resolve() != first {
		t.Fatal("the Secret was read again within the recheck period")
	}
	now = now.Add(2 * time.Second)
	second := resolve()
	if second == first {
		t.Fatal("a changed Secret did not make a new provider after the recheck period")
	}
	now = now.Add(DefaultSecretRecheck + time.Second)
	if resolve() != second {
		t.Fatal("an unchanged Secret made a new provider")
	}
	before := p.DeepCopy()
	p.Spec.Channel = "new"
	if err := f.c.Patch(ctx, p, client.MergeFrom(before)); err != nil {
		t.Fatal(err)
	}
	if resolve() == second {
		t.Fatal("a new generation of the Provider did not make a new provider")
	}
}
