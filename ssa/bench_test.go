package ssa_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// benchGroup is the API group of the benchmark's CRD, shared by every
// iteration (CRDs are cluster-wide); each iteration uses a fresh namespace.
const benchGroup = "bench.gitopskit.dev"

var benchSeq atomic.Int64

// benchSet returns 1,000 objects: a Namespace, a CRD with 200 custom
// resources, 250 ConfigMaps, 200 Secrets, 150 headless Services (a test cluster has ~250 service IPs) and 198 Deployments.
func benchSet(b *testing.B) (string, []*unstructured.Unstructured) {
	b.Helper()
	ns := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano()%1_000_000, benchSeq.Add(1))
	var docs []*unstructured.Unstructured
	add := func(o *unstructured.Unstructured) { docs = append(docs, o) }
	add(objects(b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n")[0])
	add(objects(b, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: items.`+benchGroup+`}
spec:
  group: `+benchGroup+`
  names: {kind: Item, listKind: ItemList, plural: items, singular: item}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {index: {type: integer}}}
`)[0])
	for i := range 200 {
		add(objects(b, fmt.Sprintf("apiVersion: %s/v1\nkind: Item\nmetadata: {name: item-%d, namespace: %s}\nspec: {index: %d}\n", benchGroup, i, ns, i))[0])
	}
	for i := range 250 {
		add(objects(b, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: %s}\ndata: {index: \"%d\", payload: %q}\n", i, ns, i, fmt.Sprintf("%0256d", i)))[0])
	}
	for i := range 200 {
		add(objects(b, fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: secret-%d, namespace: %s}\nstringData: {token: \"t-%d\"}\n", i, ns, i))[0])
	}
	for i := range 150 {
		add(objects(b, fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: %s}\nspec: {clusterIP: None, selector: {app: a%d}, ports: [{port: 80, targetPort: 8080}]}\n", i, ns, i))[0])
	}
	for i := range 198 {
		add(objects(b, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: deploy-%[1]d, namespace: %[2]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: a%[1]d}}
  template:
    metadata: {labels: {app: a%[1]d}}
    spec: {containers: [{name: app, image: "nginx:1.27", ports: [{containerPort: 8080}]}]}
`, i, ns))[0])
	}
	if len(docs) != 1000 {
		b.Fatalf("benchmark set has %d objects", len(docs))
	}
	return ns, docs
}

// counter counts API requests.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		c.n.Add(1)
		return rt.RoundTrip(r)
	})
}

// sequentialApply is the obvious alternative: one forced SSA patch per
// object, one at a time, Namespaces first, then CRDs (polling until
// Established), then everything else.
func sequentialApply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	rank := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		}
		return 2
	}
	for phase := 0; phase < 3; phase++ {
		for _, o := range objs {
			if rank(o) != phase {
				continue
			}
			obj := o.DeepCopy()
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("sequential"), client.ForceOwnership); err != nil {
				return fmt.Errorf("%s/%s: %w", o.GetKind(), o.GetName(), err)
			}
			if phase == 1 {
				for {
					crd := &apiextensionsv1.CustomResourceDefinition{}
					if err := c.Get(ctx, types.NamespacedName{Name: o.GetName()}, crd); err != nil {
						return err
					}
					established := false
					for _, cond := range crd.Status.Conditions {
						established = established || (cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue)
					}
					if established {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}
	}
	return nil
}

type applier struct {
	name  string
	count *counter
	apply func(ctx context.Context, objs []*unstructured.Unstructured) error
}

// appliers returns the Manager deciding locally (with Schemas shared across
// iterations, as a controller shares them across reconciles; their requests
// are counted), the Manager asking the API server about every object (the
// behaviour before the local decision, and Flux's: a GET and a dry-run per
// existing object), and a sequential applier.
func appliers(b *testing.B) []applier {
	b.Helper()
	ssaCount, dryCount, seqCount, npCount := &counter{}, &counter{}, &counter{}, &counter{}
	manager := func(c *counter, opts ...ssa.Option) *ssa.Manager {
		cfg := env.Config()
		cfg.Wrap(c.wrap)
		wc, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme()})
		if err != nil {
			b.Fatal(err)
		}
		// Ownership labels, as a GitOps controller stamps them.
		m, err := ssa.NewManager(wc, ssa.Owner{Field: "bench", Group: "bench.gitopskit.dev", Name: "bench", Namespace: "default"}, opts...)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	cfg := env.Config()
	cfg.Wrap(ssaCount.wrap)
	schemas, err := ssa.NewSchemas(cfg)
	if err != nil {
		b.Fatal(err)
	}
	local := manager(ssaCount, ssa.WithSchemas(schemas))
	server := manager(dryCount)
	cfg = env.Config()
	cfg.Wrap(npCount.wrap)
	npSchemas, err := ssa.NewSchemas(cfg)
	if err != nil {
		b.Fatal(err)
	}
	direct := manager(npCount, ssa.WithSchemas(npSchemas))
	cfg = env.Config()
	cfg.Wrap(seqCount.wrap)
	sc, err := client.New(cfg, client.Options{Scheme: env.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	// Warm the shared schemas up, as a running controller has them.
	_, set := benchSet(b)
	for range 2 {
		if _, err := local.Apply(context.Background(), set, ssa.ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := direct.Apply(context.Background(), set, ssa.ApplyOptions{DisablePreflight: true}); err != nil {
			b.Fatal(err)
		}
	}
	return []applier{
		{"ssa", ssaCount, func(ctx context.Context, objs []*unstructured.Unstructured) error {
			_, err := local.Apply(ctx, objs, ssa.ApplyOptions{})
			return err
		}},
		{"ssa-nopreflight", npCount, func(ctx context.Context, objs []*unstructured.Unstructured) error {
			_, err := direct.Apply(ctx, objs, ssa.ApplyOptions{DisablePreflight: true})
			return err
		}},
		{"ssa-dryrun", dryCount, func(ctx context.Context, objs []*unstructured.Unstructured) error {
			_, err := server.Apply(ctx, objs, ssa.ApplyOptions{DisableLocalDecision: true})
			return err
		}},
		{"sequential", seqCount, func(ctx context.Context, objs []*unstructured.Unstructured) error {
			return sequentialApply(ctx, sc, objs)
		}},
	}
}

// drift changes, behind the appliers' back, a field they own on every
// tenth object of the set (an Update by another field manager).
func drift(ctx context.Context, b *testing.B, set []*unstructured.Unstructured) {
	b.Helper()
	patches := map[string]string{
		"ConfigMap":  `{"data":{"index":"drifted"}}`,
		"Secret":     `{"data":{"token":"ZHJpZnRlZA=="}}`,
		"Item":       `{"spec":{"index":-1}}`,
		"Service":    `{"spec":{"selector":{"app":"drifted"}}}`,
		"Deployment": `{"spec":{"replicas":3}}`,
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, o := range set {
		p, ok := patches[o.GetKind()]
		if !ok || i%10 != 5 {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			live := o.DeepCopy()
			if err := env.Client().Patch(ctx, live, client.RawPatch(types.MergePatchType, []byte(p)), client.FieldOwner("drifter")); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkApply measures one Apply of the 1,000-object set:
//   - cold: the set creates its namespace, so Apply's pre-flight can
//     validate only the Namespace and the CRD;
//   - coldInNamespace: the namespace exists, every object is dry-run
//     before any write;
//   - unchangedFirst: the first re-apply after the set was created;
//   - unchanged: a re-apply of a set already re-applied once, the steady
//     state of a controller between two commits;
//   - changed10pct: from that steady state, 10 % of the manifests changed;
//   - drifted: from that steady state, another field manager changed 10 %
//     of the objects on the cluster.
func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	as := appliers(b)
	// The appliers of one mode run one after the other, so that a shared
	// machine's load changes less between the figures compared.
	for _, mode := range []string{"cold", "coldInNamespace", "unchangedFirst", "unchanged", "changed10pct", "drifted"} {
		for _, a := range as {
			b.Run(mode+"/"+a.name, func(b *testing.B) {
				b.ReportAllocs()
				var requests int64
				for b.Loop() {
					b.StopTimer()
					_, set := benchSet(b)
					switch mode {
					case "cold":
					case "coldInNamespace":
						if err := a.apply(ctx, set[:2]); err != nil {
							b.Fatal(err)
						}
					default:
						for n := range 2 {
							if n == 1 && (mode == "unchangedFirst" || a.name == "sequential") {
								break // no history to build
							}
							if err := a.apply(ctx, set); err != nil {
								b.Fatal(err)
							}
						}
					}
					switch mode {
					case "changed10pct":
						for i, o := range set {
							if i%10 == 5 {
								_ = unstructured.SetNestedField(o.Object, map[string]any{"changed": "yes"}, "metadata", "annotations")
							}
						}
					case "drifted":
						drift(ctx, b, set)
					}
					before := a.count.n.Load()
					b.StartTimer()
					if err := a.apply(ctx, set); err != nil {
						b.Fatal(err)
					}
					requests += a.count.n.Load() - before
				}
				b.ReportMetric(float64(requests)/float64(b.N)/1000, "req/obj")
			})
		}
	}
}

// pollWait is the obvious alternative to Wait: GET every object and compute
// its status, round after round, until all are Current.
func pollWait(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for {
		ready := 0
		for _, o := range objs {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(o.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
				return err
			}
			if res, err := status.Compute(live); err == nil && res.Status == status.CurrentStatus {
				ready++
			}
		}
		if ready == len(objs) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func BenchmarkWait(b *testing.B) {
	ctx := context.Background()
	as := appliers(b)
	cfg := env.Config()
	waitCount := &counter{}
	cfg.Wrap(waitCount.wrap)
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	m, err := ssa.NewManager(wc, ssa.Owner{Field: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	waiters := []struct {
		name string
		wait func(ctx context.Context, objs []*unstructured.Unstructured) error
	}{
		{"ssa-watch", func(ctx context.Context, objs []*unstructured.Unstructured) error {
			return m.Wait(ctx, objs, ssa.WaitOptions{Timeout: 5 * time.Minute})
		}},
		{"poll-get", func(ctx context.Context, objs []*unstructured.Unstructured) error {
			return pollWait(ctx, wc, objs)
		}},
	}
	for _, w := range waiters {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			var requests int64
			for b.Loop() {
				b.StopTimer()
				ns, set := benchSet(b)
				if err := as[0].apply(ctx, set); err != nil {
					b.Fatal(err)
				}
				markDeploymentsReady(ctx, b, ns)
				before := waitCount.n.Load()
				b.StartTimer()
				if err := w.wait(ctx, set); err != nil {
					b.Fatal(err)
				}
				requests += waitCount.n.Load() - before
			}
			b.ReportMetric(float64(requests)/float64(b.N)/1000, "req/obj")
		})
	}
}

// markDeploymentsReady writes a ready status on every Deployment of ns.
func markDeploymentsReady(ctx context.Context, b *testing.B, ns string) {
	b.Helper()
	list := &appsv1.DeploymentList{}
	if err := env.Client().List(ctx, list, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range list.Items {
		d := &list.Items[i]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			now := metav1.Now()
			d.Status = appsv1.DeploymentStatus{
				ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
					{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
				},
			}
			if err := env.Client().Status().Update(ctx, d); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}
