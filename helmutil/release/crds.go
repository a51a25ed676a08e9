package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/gitopskit/kit/ssa"
)

// applyCRDs applies the objects of the chart's crds/ directories (its
// dependencies' included) as policy says, through ssa, and waits for them
// to be established. Helm's own CRD handling is off: with server-side
// apply it updates existing CRDs even when told only to create them.
func (r *Runner) applyCRDs(ctx context.Context, ch *chart.Chart, policy CRDPolicy, timeout time.Duration) error {
	if policy == CRDsSkip {
		return nil
	}
	var objs []*unstructured.Unstructured
	for _, crd := range ch.CRDObjects() {
		if crd.File == nil {
			continue
		}
		docs, err := decodeObjects(crd.File.Data)
		if err != nil {
			return fmt.Errorf("%s: %w", crd.Filename, err)
		}
		objs = append(objs, docs...)
	}
	if len(objs) == 0 {
		return nil
	}
	if policy == CRDsCreate {
		missing := objs[:0]
		for _, o := range objs {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(o.GroupVersionKind())
			err := r.client.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}, live)
			switch {
			case apierrors.IsNotFound(err):
				missing = append(missing, o)
			case err != nil:
				return err
			}
		}
		if objs = missing; len(objs) == 0 {
			return nil
		}
	}
	cs, err := r.ssa.Apply(ctx, objs, ssa.ApplyOptions{Timeout: timeout})
	if err != nil {
		return err
	}
	if !cs.Changed() {
		return nil
	}
	if err := r.ssa.Wait(ctx, objs, ssa.WaitOptions{Timeout: timeout, FailFast: true}); err != nil {
		return err
	}
	r.resetMapping()
	return nil
}

// decodeObjects parses a YAML stream into objects, skipping empty
// documents.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}
