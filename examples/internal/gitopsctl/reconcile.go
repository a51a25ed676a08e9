package gitopsctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/runtime/reconcile"
)

// DefaultTimeout bounds how long a command waits for gitopsd.
const DefaultTimeout = 5 * time.Minute

type reconcileOptions struct {
	withSource, force, reset bool
	timeout                  time.Duration
}

func (a *app) reconcileCommand() *cobra.Command {
	var o reconcileOptions
	cmd := &cobra.Command{
		Use:   "reconcile <kind> <name>",
		Short: "Ask gitopsd to reconcile an object now, and follow it to the end",
		Long: `reconcile sets the reconcile request annotation (` + reconcile.RequestedAtAnnotation + `)
on the object, then follows its progress until gitopsd reports the request
handled (status.lastHandledReconcileAt), and prints the outcome and the
revision. The exit code is 1 when the reconcile failed or did not end
within --timeout.

--with-source reconciles the object's source first (a Kustomization's
GitRepository or OCIRepository), so a new commit is fetched and applied in
one go. --force asks for a forced reconcile (a Kustomization recreates
objects whose immutable fields changed); --reset asks to retry from
scratch.`,
		Example: `  gitopsctl reconcile ks podinfo --with-source
  gitopsctl reconcile source git podinfo -n apps
  gitopsctl reconcile kustomization/podinfo --force`,
		ValidArgsFunction: a.completeKindThenName,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, rest, err := parseKind(args)
			if err != nil {
				return err
			}
			if len(rest) != 1 {
				return usageErrorf("reconcile: want <kind> <name>")
			}
			cl, err := a.cluster()
			if err != nil {
				return err
			}
			_, err = a.reconcile(cmd.Context(), cl, k, client.ObjectKey{Namespace: cl.namespace, Name: rest[0]}, o)
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.withSource, "with-source", false, "Reconcile the object's source first.")
	f.BoolVar(&o.force, "force", false, "Ask for a forced reconcile (recreate objects whose immutable fields changed).")
	f.BoolVar(&o.reset, "reset", false, "Ask gitopsd to reset its retries and start from scratch.")
	f.DurationVar(&o.timeout, "timeout", DefaultTimeout, "How long to wait for the reconcile to end.")
	return cmd
}

// reconcile requests a reconcile of the object and follows it. It
// returns the revision the object ended at.
func (a *app) reconcile(ctx context.Context, cl *cluster, k *kind, key client.ObjectKey, o reconcileOptions) (string, error) {
	obj, err := cl.get(ctx, k, key)
	if err != nil {
		return "", err
	}
	if k.statusOf(obj).Suspended {
		return "", fmt.Errorf("%s %s is suspended: gitopsctl resume %s %s -n %s", k.Kind, displayKey(key), strings.ToLower(k.Kind), key.Name, key.Namespace)
	}
	sourceRev := ""
	if o.withSource {
		sk, skey, err := sourceOf(k, obj)
		if err != nil {
			return "", err
		}
		if sourceRev, err = a.reconcile(ctx, cl, sk, skey, reconcileOptions{timeout: o.timeout}); err != nil {
			return "", err
		}
	}
	a.err.step("asking gitopsd to reconcile %s %s", k.Kind, displayKey(key))
	token, rv, err := requestReconcile(ctx, cl, k, key, o.force, o.reset, nil)
	if err != nil {
		return "", err
	}
	return a.followRevision(ctx, cl, k, key, token, rv, sourceRev, o.timeout)
}

// sourceOf returns the kind and key of obj's source.
func sourceOf(k *kind, obj *unstructured.Unstructured) (*kind, client.ObjectKey, error) {
	if k.SourceRef == nil {
		return nil, client.ObjectKey{}, usageErrorf("%s has no source: --with-source does not apply", k.Kind)
	}
	ref, _, _ := unstructured.NestedStringMap(obj.Object, k.SourceRef...)
	sk, ok := sourceKind(ref["kind"])
	if !ok {
		return nil, client.ObjectKey{}, fmt.Errorf("%s %s/%s: source kind %q is not one gitopsctl knows", k.Kind, obj.GetNamespace(), obj.GetName(), ref["kind"])
	}
	ns := ref["namespace"]
	if ns == "" {
		ns = obj.GetNamespace()
	}
	return sk, client.ObjectKey{Namespace: ns, Name: ref["name"]}, nil
}

// requestReconcile sets the reconcile request annotations (with force
// and reset as asked) and, when set, the extra fields of spec, in one
// merge patch. It returns the request's token and the patched object's
// resource version.
func requestReconcile(ctx context.Context, cl *cluster, k *kind, key client.ObjectKey, force, reset bool, spec map[string]any) (string, string, error) {
	token := time.Now().Format(time.RFC3339Nano)
	ann := map[string]any{reconcile.RequestedAtAnnotation: token}
	if force {
		ann[reconcile.ForceAtAnnotation] = token
	}
	if reset {
		ann[reconcile.ResetAtAnnotation] = token
	}
	p := map[string]any{"metadata": map[string]any{"annotations": ann}}
	if spec != nil {
		p["spec"] = spec
	}
	rv, err := mergePatch(ctx, cl, k, key, p)
	return token, rv, err
}

// mergePatch applies a JSON merge patch to the object and returns its new
// resource version.
func mergePatch(ctx context.Context, cl *cluster, k *kind, key client.ObjectKey, p map[string]any) (string, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	obj := k.newObject()
	obj.SetNamespace(key.Namespace)
	obj.SetName(key.Name)
	if err := cl.c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, data), client.FieldOwner(fieldManager)); err != nil {
		return "", readable(err, k.GVK().GroupKind(), k.GroupVersion.String(), key)
	}
	return obj.GetResourceVersion(), nil
}

// follow watches the object until it reports the request token handled,
// showing its progress, and prints the outcome: an error (ExitFailure)
// when it is not Ready or the timeout passed.
func (a *app) follow(ctx context.Context, cl *cluster, k *kind, key client.ObjectKey, token, rv string, timeout time.Duration) error {
	_, err := a.followRevision(ctx, cl, k, key, token, rv, "", timeout)
	return err
}

// followRevision is follow that, when sourceRev is set, also waits until
// the object worked on that revision of its source: a reconcile handled
// while gitopsd had not yet seen the source's new artifact is followed by
// the one its watch on the source starts. It returns the object's
// revision.
func (a *app) followRevision(ctx context.Context, cl *cluster, k *kind, key client.ObjectKey, token, rv, sourceRev string, timeout time.Duration) (string, error) {
	start := a.opts.Now()
	what := k.Kind + " " + displayKey(key)
	final, err := a.waitFor(ctx, cl, k, key, rv, timeout, func(obj *unstructured.Unstructured) bool {
		return handled(k, obj, token, sourceRev)
	}, start)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			last := ""
			if final != nil {
				s := k.statusOf(final)
				last = fmt.Sprintf("; last status: Ready=%s %s: %s", orUnknown(s.Ready), s.Reason, oneLine(s.Message))
			}
			return "", failedf("%s: the reconcile did not end within %s%s", what, timeout, last)
		}
		return "", err
	}
	s := k.statusOf(final)
	took := elapsed(a.opts.Now().Sub(start))
	if s.Ready != metav1.ConditionTrue {
		return "", failedf("%s: reconcile failed after %s: %s: %s", what, took, orDash(s.Reason), oneLine(s.Message))
	}
	rev := ""
	if s.Revision != "" {
		rev = " at revision " + s.Revision
	}
	a.err.success("%s reconciled in %s%s", what, took, rev)
	return s.Revision, nil
}

// handled reports that obj, an object of kind k, ended a reconcile that
// handled the request token and, when sourceRev is set, worked on that
// revision of its source. The token is recorded when a reconcile ends, so
// a later reconcile (the one the source's new artifact starts) finds it
// already there: while that one runs (Ready=Unknown, its revision
// attempted) it has not ended.
func handled(k *kind, obj *unstructured.Unstructured, token, sourceRev string) bool {
	s := k.statusOf(obj)
	if s.LastHandled != token {
		return false
	}
	if sourceRev == "" || k.Attempted == nil {
		return true
	}
	return str(obj, k.Attempted) == sourceRev && s.Ready != metav1.ConditionUnknown && s.Ready != ""
}

func orUnknown(s metav1.ConditionStatus) string {
	if s == "" {
		return "Unknown"
	}
	return string(s)
}

// waitFor watches the object from resource version rv until done holds,
// showing the Ready condition as it changes, for at most timeout. It
// returns the object last seen, and context.DeadlineExceeded on timeout.
func (a *app) waitFor(ctx context.Context, cl *cluster, k *kind, key client.ObjectKey, rv string, timeout time.Duration,
	done func(*unstructured.Unstructured) bool, start time.Time) (*unstructured.Unstructured, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var last *unstructured.Unstructured
	lastLine := ""
	found := false
	show := func(obj *unstructured.Unstructured) {
		s := k.statusOf(obj)
		line := fmt.Sprintf("Ready=%s", orUnknown(s.Ready))
		if s.Reason != "" {
			line += " " + s.Reason
		}
		if s.Message != "" {
			line += ": " + oneLine(s.Message)
		}
		if line == lastLine {
			return
		}
		lastLine = line
		a.err.progress(fmt.Sprintf("◎ %-7s %s", elapsed(a.opts.Now().Sub(start)), line))
	}
	// The object as patched may already be done (a watch from its version
	// would not show it again).
	if obj, err := cl.get(ctx, k, key); err == nil {
		last = obj
		if done(obj) {
			a.err.endLive()
			return obj, nil
		}
		show(obj)
		rv = obj.GetResourceVersion()
	} else if ctx.Err() == nil {
		return nil, err
	}
	err := watchKind(wctx, cl, k, rv, key.Namespace, key.Name, func(typ watch.EventType, obj *unstructured.Unstructured) {
		if found {
			return
		}
		if typ == watch.Deleted {
			return
		}
		last = obj
		if done(obj) {
			found = true
			stop()
			return
		}
		show(obj)
	})
	a.err.endLive()
	if found {
		return last, nil
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return last, context.DeadlineExceeded
		}
		return last, ctx.Err()
	}
	return last, err
}
