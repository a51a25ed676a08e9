package demo

import (
	"context"
	"fmt"
	"reflect"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/conditions"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// waitFor reads obj (its name and namespace must be set) and then watches
// it, until cond holds for what was last read, or the step times out. It
// reacts to a change within milliseconds: the latencies it measures are
// gitopsd's, not a polling period's.
func (d *demo) waitFor(ctx context.Context, obj client.Object, list client.ObjectList, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.StepTimeout)
	defer cancel()
	key := client.ObjectKeyFromObject(obj)
	kind := reflect.TypeOf(obj).Elem().Name()
	for {
		err := d.c.Get(ctx, key, obj)
		switch {
		case err == nil && cond():
			return nil
		case err != nil && !apierrors.IsNotFound(err):
			return d.waitErr(ctx, kind, key, err)
		}
		raw := &metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", key.Name).String()}
		if err == nil {
			raw.ResourceVersion = obj.GetResourceVersion()
		}
		// The watch has a context of its own, cancelled as soon as cond
		// holds: that ends its request at once, where Stop alone may wait
		// for the stream to wind down.
		wctx, wcancel := context.WithCancel(ctx)
		w, err := d.c.Watch(wctx, list, client.InNamespace(key.Namespace), &client.ListOptions{Raw: raw})
		if err != nil {
			wcancel()
			return d.waitErr(ctx, kind, key, err)
		}
		done, err := d.drain(ctx, w, obj, cond)
		wcancel()
		go w.Stop()
		if done || err != nil {
			return err
		}
		if ctx.Err() != nil {
			return d.waitErr(ctx, kind, key, ctx.Err())
		}
		// The watch ended (server timeout, compaction): read again.
	}
}

// drain feeds the watch's objects to cond until it holds or the watch ends.
func (d *demo) drain(ctx context.Context, w watch.Interface, obj client.Object, cond func() bool) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				return false, nil
			}
			if ev.Type == watch.Deleted {
				continue
			}
			got := reflect.ValueOf(ev.Object)
			if got.Type() != reflect.TypeOf(obj) {
				continue
			}
			reflect.ValueOf(obj).Elem().Set(got.Elem())
			if cond() {
				return true, nil
			}
		}
	}
}

func (d *demo) waitErr(ctx context.Context, kind string, key client.ObjectKey, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s %s not there after %s", kind, key, d.opts.StepTimeout)
	}
	return fmt.Errorf("waiting for %s %s: %w", kind, key, err)
}

// waitRepository waits until the GitRepository is Ready with an artifact
// of rev, reporting its progress.
func (d *demo) waitRepository(ctx context.Context, rev string) error {
	repo := &sourcev1.GitRepository{}
	repo.Name, repo.Namespace = Name, Namespace
	p := d.progress("GitRepository "+Name, false)
	err := d.waitFor(ctx, repo, &sourcev1.GitRepositoryList{}, func() bool {
		p(repo.Status.Conditions)
		a := repo.Status.Artifact

		return a != nil && a.Revision == rev && conditions.IsReady(repo) && repo.Status.ObservedGeneration == repo.Generation
	})
	if err != nil {
		return fmt.Errorf("%w; GitRepository conditions: %s", err, describe(repo.Status.Conditions))
	}
	return nil
}

// waitApplied waits until the Kustomization is Ready having applied rev,
// reporting its progress, and returns it.
func (d *demo) waitApplied(ctx context.Context, rev string) (*kustomizev1.Kustomization, error) {
	ks := &kustomizev1.Kustomization{}
	ks.Name, ks.Namespace = Name, Namespace
	p := d.progress("Kustomization "+Name, len(d.res.Revisions) > 1)
	err := d.waitFor(ctx, ks, &kustomizev1.KustomizationList{}, func() bool {
		p(ks.Status.Conditions)
		return ks.Status.LastAppliedRevision == rev && conditions.IsReady(ks) && ks.Status.ObservedGeneration == ks.Generation
	})
	if err != nil {
		return nil, fmt.Errorf("%w; Kustomization conditions: %s", err, describe(ks.Status.Conditions))
	}
	return ks, nil
}

// progress returns a function printing the Ready condition of what is
// named each time its message changes, so the user sees what gitopsd is
// doing. With skipFirst, the state first seen (the previous step's
// outcome) is not printed.
func (d *demo) progress(what string, skipFirst bool) func([]metav1.Condition) {
	last := ""
	start := time.Now()
	return func(cs []metav1.Condition) {
		c := apimeta.FindStatusCondition(cs, conditions.Ready)
		if c == nil {
			return
		}
		line := fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
		if line == last {
			return
		}
		last = line
		if skipFirst {
			skipFirst = false
			return
		}
		d.printf("    · %-7s %s Ready=%s\n", round(time.Since(start)), what, line)
	}
}

func describe(cs []metav1.Condition) string {
	if len(cs) == 0 {
		return "none"
	}
	s := ""
	for _, c := range cs {
		s += fmt.Sprintf("[%s=%s %s: %s]", c.Type, c.Status, c.Reason, c.Message)
	}
	return s
}
