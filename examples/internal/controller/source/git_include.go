package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	crreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/untar"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// includeIndex maps a GitRepository to "<namespace>/<name>" of every
// GitRepository it includes, so that a change of an included artifact
// reconciles its includers.
const includeIndex = ".spec.include"

// Reasons of include failures.
const (
	// reasonAccessDenied: a cross-namespace include the policy refuses.
	reasonAccessDenied = "AccessDenied"
	// reasonIncludeUnavailable: an included repository is missing or has
	// no artifact yet.
	reasonIncludeUnavailable = "IncludeUnavailable"
	// reasonIncludeFailed: an included artifact could not be copied.
	reasonIncludeFailed = "IncludeFailed"
)

const (
	// maxIncludeChain bounds how far the include graph is followed to find
	// a cycle.
	maxIncludeChain = 64
	// assembly limits: an assembled tree is bounded as a checkout is.
	maxAssembledEntries = int(gogit.DefaultMaxFiles)
	maxAssembledBytes   = gogit.DefaultMaxCheckoutSize
)

// included is one resolved spec.include entry.
type included struct {
	spec     sourcev1.GitRepositoryInclude
	key      types.NamespacedName
	artifact artifact.Artifact
	from, to string // cleaned
}

// includeKey is the key of the repository an include names.
func includeKey(obj *sourcev1.GitRepository, inc sourcev1.GitRepositoryInclude) types.NamespacedName {
	ns := inc.Repository.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: inc.Repository.Name}
}

// indexIncludes is the includeIndex function.
func indexIncludes(o client.Object) []string {
	g, ok := o.(*sourcev1.GitRepository)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(g.Spec.Include))
	for _, inc := range g.Spec.Include {
		out = append(out, includeKey(g, inc).String())
	}
	return out
}

// includers maps a GitRepository to those that include it.
func (r *GitRepositoryReconciler) includers(ctx context.Context, o client.Object) []crreconcile.Request {
	var l sourcev1.GitRepositoryList
	if err := r.Client.List(ctx, &l, client.MatchingFields{includeIndex: client.ObjectKeyFromObject(o).String()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the GitRepositories that include one")
		return nil
	}
	out := make([]crreconcile.Request, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, crreconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l.Items[i])})
	}
	return out
}

// artifactChanged lets through a GitRepository whose artifact appeared or
// changed (revision, digest or URL).
func artifactChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool {
			g, ok := e.Object.(*sourcev1.GitRepository)
			return ok && g.Status.Artifact != nil
		},
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*sourcev1.GitRepository)
			n, ok2 := e.ObjectNew.(*sourcev1.GitRepository)
			if !ok1 || !ok2 || n.Status.Artifact == nil {
				return false
			}
			a, b := o.Status.Artifact, n.Status.Artifact
			return a == nil || a.Revision != b.Revision || a.Digest != b.Digest || a.URL != b.URL
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// resolveIncludes checks spec.include and returns each included
// repository's current artifact. A path that climbs out, an include the
// cross-namespace policy refuses, and an include cycle stall; a missing
// repository or one without an artifact yet fails and is retried (the
// watch on included repositories brings it back as soon as they have one).
func (r *GitRepositoryReconciler) resolveIncludes(ctx context.Context, obj *sourcev1.GitRepository) ([]included, error) {
	out := make([]included, 0, len(obj.Spec.Include))
	for i, inc := range obj.Spec.Include {
		field := fmt.Sprintf("spec.include[%d]", i)
		from, err := cleanRelative(field+".fromPath", inc.FromPath)
		if err != nil {
			return nil, reconcile.Stall(reasonInvalidSpec, err)
		}
		to, err := cleanRelative(field+".toPath", inc.GetToPath())
		if err == nil && to == "." {
			err = fmt.Errorf("%s.toPath %q: %w: must name a folder below the repository's root", field, inc.ToPath, errUnsafePath)
		}
		if err != nil {
			return nil, reconcile.Stall(reasonInvalidSpec, err)
		}
		key := includeKey(obj, inc)
		if key == client.ObjectKeyFromObject(obj) {
			return nil, reconcile.Stall(reasonInvalidSpec, fmt.Errorf("%s: a GitRepository cannot include itself", field))
		}
		if err := r.ACL.Check(ctx, r.Client, obj.Namespace, key.Namespace); err != nil {
			if errors.Is(err, acl.ErrAccessDenied) {
				return nil, reconcile.Stall(reasonAccessDenied, fmt.Errorf("%s: GitRepository %s: %w", field, key, err))
			}
			return nil, err
		}
		out = append(out, included{spec: inc, key: key, from: from, to: to})
	}
	if len(out) == 0 {
		return nil, nil
	}
	if err := r.checkIncludeCycle(ctx, obj); err != nil {
		return nil, err
	}
	for i := range out {
		field := fmt.Sprintf("spec.include[%d]", i)
		var src sourcev1.GitRepository
		if err := r.Client.Get(ctx, out[i].key, &src); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, reconcile.Fail(reasonIncludeUnavailable, fmt.Errorf("%s: GitRepository %s not found", field, out[i].key))
			}
			return nil, fmt.Errorf("%s: reading GitRepository %s: %w", field, out[i].key, err)
		}
		if src.Status.Artifact == nil {
			return nil, reconcile.Fail(reasonIncludeUnavailable, fmt.Errorf("%s: GitRepository %s has no artifact yet", field, out[i].key))
		}
		out[i].artifact = *src.Status.Artifact
	}
	return out, nil
}

// checkIncludeCycle stalls when the repositories obj includes include obj
// again, directly or further down: each change of one would then give the
// other a new artifact, for ever.
func (r *GitRepositoryReconciler) checkIncludeCycle(ctx context.Context, obj *sourcev1.GitRepository) error {
	start := client.ObjectKeyFromObject(obj)
	type step struct {
		key   types.NamespacedName
		chain []string
	}
	queue := []step{}
	for _, inc := range obj.Spec.Include {
		k := includeKey(obj, inc)
		queue = append(queue, step{k, []string{start.String(), k.String()}})
	}
	seen := map[types.NamespacedName]bool{}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s.key] {
			continue
		}
		if seen[s.key] = true; len(seen) > maxIncludeChain {
			return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.include: more than %d GitRepositories are included, directly or further down", maxIncludeChain))
		}
		var g sourcev1.GitRepository
		if err := r.Client.Get(ctx, s.key, &g); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		for _, inc := range g.Spec.Include {
			k := includeKey(&g, inc)
			chain := append(slices.Clone(s.chain), k.String())
			if k == start {
				return reconcile.Stall(reasonInvalidSpec, fmt.Errorf("spec.include: include cycle %s", strings.Join(chain, " -> ")))
			}
			queue = append(queue, step{k, chain})
		}
	}
	return nil
}

// sameIncludes reports whether the stored artifact was built with the
// current spec.include and the included artifacts as they are now.
func sameIncludes(obj *sourcev1.GitRepository, incs []included) bool {
	if !slices.Equal(obj.Spec.Include, obj.Status.ObservedInclude) || len(incs) != len(obj.Status.IncludedArtifacts) {
		return false
	}
	for i, inc := range incs {
		a := obj.Status.IncludedArtifacts[i]
		if a.Revision != inc.artifact.Revision || a.Digest != inc.artifact.Digest || a.Path != inc.artifact.Path {
			return false
		}
	}
	return true
}

// assemble writes the tree an artifact with includes is built from: a copy
// of the exported folder (which Export owns and updates in place, so it is
// never written to), then, in order, each included artifact's fromPath in
// place of the toPath. Every included artifact is read from storage and
// checked against its digest, extracted with artifact/untar's checks, and
// copied through copyTree: nothing escapes the tree, and a symbolic link
// that would lead out of the copied folder is refused. The tree is bounded
// as a checkout is. The caller removes the returned folder.
func (r *GitRepositoryReconciler) assemble(ctx context.Context, exported string, incs []included) (string, error) {
	tmp, err := os.MkdirTemp(r.tmpRoot, "assemble-")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tmp, "tree")
	if err := r.assembleInto(ctx, tmp, dir, exported, incs); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}

func (r *GitRepositoryReconciler) assembleInto(ctx context.Context, tmp, dir, exported string, incs []included) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	dst, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer dst.Close()
	lim := &copyLimits{entries: maxAssembledEntries, bytes: maxAssembledBytes}
	src, err := os.OpenRoot(exported)
	if err != nil {
		return err
	}
	err = copyTree(src, dst, ".", ".", lim)
	src.Close()
	if err != nil {
		return fmt.Errorf("copying the checkout: %w", err)
	}
	for i, inc := range incs {
		field := fmt.Sprintf("spec.include[%d]", i)
		if err := ctx.Err(); err != nil {
			return err
		}
		ex := filepath.Join(tmp, fmt.Sprintf("include-%d", i))
		if err := r.extractIncluded(ctx, inc.artifact, ex); err != nil {
			return fmt.Errorf("%s: artifact of GitRepository %s: %w", field, inc.key, err)
		}
		if err := replaceFolder(dst, inc.to); err != nil {
			return fmt.Errorf("%s.toPath %q: %w", field, inc.to, err)
		}
		root, err := os.OpenRoot(ex)
		if err != nil {
			return err
		}
		err = copyTree(root, dst, inc.from, inc.to, lim)
		root.Close()
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s.fromPath %q: not in the artifact of GitRepository %s", field, path.Clean(inc.spec.FromPath), inc.key)
		}
		if err != nil {
			return fmt.Errorf("%s: copying %q of GitRepository %s to %q: %w", field, inc.from, inc.key, inc.to, err)
		}
		if err := os.RemoveAll(ex); err != nil {
			return err
		}
	}
	return nil
}

// extractIncluded extracts the stored artifact a into dst, after checking
// that the file still matches a's digest.
func (r *GitRepositoryReconciler) extractIncluded(ctx context.Context, a artifact.Artifact, dst string) error {
	f, err := r.Storage.Open(ctx, a.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Digest != a.Digest {
		return fmt.Errorf("stored file %s has digest %s, not %s", a.Path, f.Digest, a.Digest)
	}
	_, err = untar.Extract(ctx, f, dst, untar.Options{MaxBytes: maxAssembledBytes, MaxEntries: maxAssembledEntries})
	return err
}
