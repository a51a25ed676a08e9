package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/semver/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	controllers "github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/controller/source"
	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/kustomize"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/reconcile"
)

// DefaultPushAttempts is how many times a run commits and pushes when the
// remote branch moved under it (a non-fast-forward rejection).
const DefaultPushAttempts = 3

// maxListedMarkers bounds the markers a condition message names.
const maxListedMarkers = 5

// ImageUpdateAutomationReconciler runs every ImageUpdateAutomation: it
// checks out spec.git.checkout.ref of its GitRepository (through GitCache,
// fetching only what changed since the last run), writes the images its
// ImagePolicies chose into the $imagepolicy markers under spec.update.path
// (kustomize.SetImages), and when anything changed makes one commit and
// pushes it as a fast forward. A push rejected because the branch moved
// is retried on the new head (checkout, re-apply, commit), never forced.
// ImagePolicy changes that arrive within BatchWindow of each other are
// written by one run, so as one commit.
type ImageUpdateAutomationReconciler struct {
	// Client is the manager's client.
	Client client.Client
	// GitCache keeps a bare repository per remote URL that each run
	// fetches into and checks out from (gogit.Client.CloneCached), so a
	// run receives only the objects that are new since the last one. It
	// may be shared with the GitRepository reconciler. Nil: every run
	// clones afresh (depth 1).
	GitCache *gogit.Cache
	// WorkDir is the folder the runs' worktrees are made in, one per
	// automation (named by its UID), removed when the run ends, and
	// removed at the next run or on deletion when a killed process left
	// it. It should be on the file system of GitCache, so the cache's
	// pack files are linked, not copied. Empty: a fresh temporary folder
	// per run.
	WorkDir string
	// BatchWindow is how long an automation waits after an ImagePolicy
	// change for more before it runs: every change that arrives within
	// BatchWindow of the one before is written by the same run, in one
	// commit (a burst that never pauses runs at least every
	// maxBatchDelay windows). 0 runs at each change; gitopsd's
	// --image-update-batch-window defaults to DefaultBatchWindow.
	BatchWindow time.Duration
	// PushAttempts bounds the attempts of one run (DefaultPushAttempts
	// when 0).
	PushAttempts int
	// Concurrency is the number of objects reconciled in parallel; 0 means 1.
	Concurrency int
	// Metrics records each reconcile; nil records nothing.
	Metrics *metrics.Recorder
	// Events records what the reconciler does; nil records none.
	Events record.EventRecorder

	suspension controllers.Suspension
	batches    batches
	// beforePush, when set (by tests), runs before each push attempt.
	beforePush func(ctx context.Context, obj *imagev1.ImageUpdateAutomation, attempt int)
}

// gitPlan is what a run checks out and pushes.
type gitPlan struct {
	url string
	// checkout is what a run starts from; branch is its branch name when
	// it designates one.
	checkout git.Reference
	branch   string
	// local is the branch committed on and pushed.
	local    string
	refspecs []string
	options  map[string]string
	timeout  time.Duration
}

func (r *ImageUpdateAutomationReconciler) reconcile(ctx context.Context, obj *imagev1.ImageUpdateAutomation, rep *controllers.Reporter) (conditions.Summary, error) {
	var s conditions.Summary
	tmpl, err := parseTemplate(obj.Spec.GitSpec.Commit.MessageTemplate)
	if err != nil {
		return s, reconcile.Stall(reasonInvalidTemplate, err)
	}
	repo, err := r.gitRepository(ctx, obj)
	if err != nil {
		return s, err
	}
	plan, err := planGit(obj, repo)
	if err != nil {
		return s, reconcile.Stall(reasonInvalidSource, err)
	}
	policies, observed, err := r.policies(ctx, obj)
	if err != nil {
		return s, err
	}
	auth, err := source.GitAuth(ctx, r.Client, repo, rep)
	if err != nil {
		return s, reconcile.Fail(reasonAuthFailed, err)
	}
	var sign git.Signer
	if sk := obj.Spec.GitSpec.Commit.SigningKey; sk != nil {
		if sign, err = signer(ctx, r.Client, obj.Namespace, sk.SecretRef.Name, rep); err != nil {
			return s, reconcile.Fail(reasonInvalidSigningKey, err)
		}
	}
	gopts := []gogit.Option{gogit.WithAuth(auth)}
	if r.GitCache != nil {
		gopts = append(gopts, gogit.WithCache(r.GitCache))
	}
	gc, err := gogit.New(plan.url, gopts...)
	if err != nil {
		return s, reconcile.Stall(reasonInvalidSource, err)
	}
	path := ""
	if u := obj.Spec.Update; u != nil {
		path = strings.Trim(u.Path, "/")
		if path == "." {
			path = ""
		}
	}

	if !controllers.Steady(obj) {
		rep.Progress(ctx, "updating the images of branch '%s'", plan.local)
	}
	now := metav1.Now()
	obj.Status.LastAutomationRunTime = &now
	obj.Status.ObservedPolicies = observed
	attempts := r.PushAttempts
	if attempts <= 0 {
		attempts = DefaultPushAttempts
	}
	var out runOutcome
	for attempt := 1; ; attempt++ {
		out, err = r.run(ctx, obj, gc, plan, path, policies, tmpl, sign, attempt)
		if err == nil || !errors.Is(err, git.ErrNonFastForward) || attempt >= attempts {
			break
		}
		rep.Eventf(corev1.EventTypeNormal, "PushRejected", "branch moved during the run (attempt %d of %d): re-applying on the new head", attempt, attempts)
	}
	if err != nil {
		if errors.Is(err, git.ErrNonFastForward) {
			err = reconcile.Fail(reasonGitFailed, fmt.Errorf("%w (after %d attempts, never forced)", err, attempts))
		}
		return s, err
	}
	obj.Status.ObservedSourceRevision = out.revision
	if len(out.warnings) > 0 {
		rep.Eventf(corev1.EventTypeWarning, "SetterWarnings", "%s", strings.Join(out.warnings, "; "))
	}
	if out.commit != "" {
		obj.Status.LastPushCommit = out.commit
		pushed := metav1.Now()
		obj.Status.LastPushTime = &pushed
		rep.SetRevision(out.revision)
		rep.Eventf(corev1.EventTypeNormal, "Pushed", "pushed commit '%s' to '%s' (%d files changed)\n%s", out.commit, strings.Join(plan.refspecs, ", "), out.files, out.message)
		conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "pushed commit '%s' to '%s'", out.commit, out.revision)
	} else {
		conditions.MarkTrue(obj, conditions.Ready, conditions.SucceededReason, "no updates made; last checked revision '%s'", out.revision)
	}
	if missing := r.missingPolicies(ctx, obj, out.unresolved); len(missing) > 0 {
		return s, reconcile.Fail(reasonPolicyNotFound, fmt.Errorf("%d marker(s) name an ImagePolicy that does not exist: %s; the other markers were applied",
			len(missing), strings.Join(missing[:min(len(missing), maxListedMarkers)], ", ")))
	}
	return s, nil
}

// runOutcome is what one attempt did.
type runOutcome struct {
	revision   string // branch@sha1:<hex> checked out, or pushed
	commit     string // the pushed commit, or ""
	message    string
	files      int
	warnings   []string
	unresolved []kustomize.Marker
}

// run is one attempt: clone, set images, commit and push when changed.
func (r *ImageUpdateAutomationReconciler) run(ctx context.Context, obj *imagev1.ImageUpdateAutomation, gc *gogit.Client, plan gitPlan, path string,
	policies map[string]kustomize.ImageRef, tmpl *template.Template, sign git.Signer, attempt int) (runOutcome, error) {
	var out runOutcome
	dir, err := r.workDir(obj)
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	wt := filepath.Join(dir, "repo")
	res, err := r.checkout(ctx, gc, wt, plan)
	if err != nil {
		return out, err
	}
	out.revision = res.Revision
	set, err := kustomize.SetImages(ctx, wt, path, kustomize.SetImagesOptions{Policies: policies})
	if err != nil {
		var pe *kustomize.PathEscapeError
		if errors.As(err, &pe) {
			return out, reconcile.Stall(reasonInvalidUpdatePath, fmt.Errorf("spec.update.path: %w", err))
		}
		return out, reconcile.Fail(reasonInvalidUpdatePath, fmt.Errorf("updating '%s': %w", path, err))
	}
	out.warnings, out.unresolved = set.Warnings, set.Unresolved
	if !set.Changed() {
		return out, nil
	}
	msg, err := renderMessage(tmpl, TemplateData{AutomationObject: obj.Namespace + "/" + obj.Name, Changed: changes(set)})
	if err != nil {
		return out, reconcile.Fail(reasonInvalidTemplate, err)
	}
	author := obj.Spec.GitSpec.Commit.Author
	hash, err := gc.Commit(ctx, wt, gogit.CommitOptions{
		Author:  git.Signature{Name: author.Name, Email: author.Email},
		Message: msg,
		Signer:  sign,
	})
	if err != nil {
		return out, reconcile.Fail(reasonGitFailed, fmt.Errorf("committing: %w", err))
	}
	if r.beforePush != nil {
		r.beforePush(ctx, obj, attempt)
	}
	err = gc.Push(ctx, wt, gogit.PushOptions{RefSpecs: plan.refspecs, Options: plan.options, Timeout: plan.timeout})
	if err != nil {
		if errors.Is(err, git.ErrNonFastForward) {
			return out, fmt.Errorf("pushing to '%s': %w", strings.Join(plan.refspecs, ", "), err)
		}
		return out, reconcile.Fail(reasonGitFailed, fmt.Errorf("pushing to '%s': %w", strings.Join(plan.refspecs, ", "), err))
	}
	out.commit, out.message, out.files = hash, msg, len(set.Files)
	out.revision = git.Revision(plan.local, hash)
	return out, nil
}

// workDir returns an empty folder for a run's worktree: WorkDir/<uid>
// (whatever an earlier, killed run left there removed), or a fresh
// temporary folder.
func (r *ImageUpdateAutomationReconciler) workDir(obj *imagev1.ImageUpdateAutomation) (string, error) {
	if r.WorkDir == "" || obj.UID == "" {
		return os.MkdirTemp(r.WorkDir, "gitopsd-imageupdate-")
	}
	dir := filepath.Join(r.WorkDir, string(obj.UID))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o700)
}

// finalize removes what a killed run may have left in WorkDir.
func (r *ImageUpdateAutomationReconciler) finalize(_ context.Context, obj *imagev1.ImageUpdateAutomation, _ *controllers.Reporter) error {
	if r.WorkDir == "" || obj.UID == "" {
		return nil
	}
	return os.RemoveAll(filepath.Join(r.WorkDir, string(obj.UID)))
}

// checkout checks out into dir the commit the run starts from: the tip
// of the push branch when it exists on the remote, else the checkout
// reference (switched to a new local push branch when they differ).
func (r *ImageUpdateAutomationReconciler) checkout(ctx context.Context, gc *gogit.Client, dir string, plan gitPlan) (*gogit.Result, error) {
	if plan.local != plan.branch {
		res, err := r.clone(ctx, gc, dir, git.Reference{Branch: plan.local}, plan)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, git.ErrReferenceNotFound) {
			return nil, reconcile.Fail(reasonGitFailed, fmt.Errorf("checking out branch '%s': %w", plan.local, err))
		}
	}
	res, err := r.clone(ctx, gc, dir, plan.checkout, plan)
	if err != nil {
		return nil, reconcile.Fail(reasonGitFailed, fmt.Errorf("checking out %s: %w", plan.checkout, err))
	}
	if plan.local != plan.branch {
		if err := gc.SwitchBranch(ctx, dir, plan.local, true); err != nil {
			return nil, reconcile.Fail(reasonGitFailed, fmt.Errorf("creating branch '%s': %w", plan.local, err))
		}
	}
	return res, nil
}

// clone checks ref out into dir: through GitCache when there is one.
func (r *ImageUpdateAutomationReconciler) clone(ctx context.Context, gc *gogit.Client, dir string, ref git.Reference, plan gitPlan) (*gogit.Result, error) {
	opts := gogit.CloneOptions{Reference: ref, Timeout: plan.timeout}
	if r.GitCache != nil {
		return gc.CloneCached(ctx, dir, opts)
	}
	return gc.Clone(ctx, dir, opts)
}

// gitRepository reads the automation's GitRepository.
func (r *ImageUpdateAutomationReconciler) gitRepository(ctx context.Context, obj *imagev1.ImageUpdateAutomation) (*sourcev1.GitRepository, error) {
	ref := obj.Spec.SourceRef
	if ref.Kind != "" && ref.Kind != sourcev1.GitRepositoryKind {
		return nil, reconcile.Stall(reasonInvalidSource, fmt.Errorf("spec.sourceRef.kind %q is not supported; only GitRepository is", ref.Kind))
	}
	if ref.Namespace != "" && ref.Namespace != obj.Namespace {
		return nil, reconcile.Stall(reasonInvalidSource, fmt.Errorf("spec.sourceRef.namespace %q: only a GitRepository of the automation's own namespace can be written to", ref.Namespace))
	}
	var repo sourcev1.GitRepository
	key := client.ObjectKey{Namespace: obj.Namespace, Name: ref.Name}
	if err := r.Client.Get(ctx, key, &repo); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, reconcile.Fail(reasonSourceNotFound, fmt.Errorf("gitrepository '%s' not found", key))
		}
		return nil, err
	}
	return &repo, nil
}

// planGit decides the checkout, branches and refspecs of a run. The
// checkout is spec.git.checkout.ref, else the GitRepository's spec.ref;
// anything but a branch needs spec.git.push.branch (the API server's
// validation refuses it already; an older CRD may not).
func planGit(obj *imagev1.ImageUpdateAutomation, repo *sourcev1.GitRepository) (gitPlan, error) {
	p := gitPlan{url: repo.Spec.URL, timeout: repo.GetTimeout()}
	gs := obj.Spec.GitSpec
	field := "spec.git.checkout.ref"
	switch {
	case gs.Checkout != nil:
		c := gs.Checkout.Reference
		p.checkout = git.Reference{Branch: c.Branch, Tag: c.Tag, SemVer: c.SemVer, Name: c.Name, Commit: c.Commit}
	case repo.Spec.Reference != nil:
		c := repo.Spec.Reference
		p.checkout = git.Reference{Branch: c.Branch, Tag: c.Tag, SemVer: c.SemVer, Name: c.Name, Commit: c.Commit}
		field = "the GitRepository's spec.ref"
	}
	if p.checkout == (git.Reference{}) {
		return p, errors.New("nothing to check out: set spec.git.checkout.ref or the GitRepository's spec.ref")
	}
	if err := p.checkout.Validate(); err != nil {
		return p, fmt.Errorf("%s: %w", field, err)
	}
	if p.checkout.SemVer != "" && p.checkout.Commit == "" && p.checkout.Name == "" {
		if _, err := semver.NewConstraint(p.checkout.SemVer); err != nil {
			return p, fmt.Errorf("%s: invalid semver range %q: %w", field, p.checkout.SemVer, err)
		}
	}
	p.branch = checkoutBranch(p.checkout)
	if p.branch != "" {
		p.checkout = git.Reference{Branch: p.branch}
	}
	p.local = p.branch
	if push := gs.Push; push != nil {
		if push.Branch != "" {
			p.local = push.Branch
			p.refspecs = append(p.refspecs, "refs/heads/"+p.local+":refs/heads/"+p.local)
		}
		if rs := push.Refspec; rs != "" {
			if strings.HasPrefix(rs, "+") {
				return p, fmt.Errorf("spec.git.push.refspec %q forces the update; gitopsd never force-pushes", rs)
			}
			p.refspecs = append(p.refspecs, rs)
		}
		p.options = push.Options
	}
	if p.local == "" {
		return p, fmt.Errorf("%s: a checkout of %s needs spec.git.push.branch: the commit goes on a branch", field, p.checkout)
	}
	if err := (git.Reference{Branch: p.local}).Validate(); err != nil {
		return p, fmt.Errorf("spec.git.push.branch: %w", err)
	}
	if len(p.refspecs) == 0 {
		p.refspecs = []string{"refs/heads/" + p.local + ":refs/heads/" + p.local}
	}
	return p, nil
}

// checkoutBranch returns the branch ref designates, as git.Reference's
// precedence reads it ("" for a commit, a tag, a semver range or a
// reference name outside refs/heads/).
func checkoutBranch(ref git.Reference) string {
	switch {
	case ref.Commit != "":
		return ""
	case ref.Name != "":
		b, _ := strings.CutPrefix(ref.Name, "refs/heads/")
		if b == ref.Name {
			return ""
		}
		return b
	case ref.SemVer != "" || ref.Tag != "":
		return ""
	}
	return ref.Branch
}

// policies returns the chosen images of the selected ImagePolicies,
// keyed as SetImages wants them, and by name for the status.
func (r *ImageUpdateAutomationReconciler) policies(ctx context.Context, obj *imagev1.ImageUpdateAutomation) (map[string]kustomize.ImageRef, imagev1.ObservedPolicies, error) {
	sel := labels.Everything()
	if ps := obj.Spec.PolicySelector; ps != nil {
		var err error
		if sel, err = metav1.LabelSelectorAsSelector(ps); err != nil {
			return nil, nil, reconcile.Stall(reasonInvalidPolicySelect, fmt.Errorf("spec.policySelector: %w", err))
		}
	}
	var list imagev1.ImagePolicyList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, nil, err
	}
	byKey := map[string]kustomize.ImageRef{}
	observed := imagev1.ObservedPolicies{}
	for _, p := range list.Items {
		ref := p.Status.LatestRef
		if ref == nil {
			continue
		}
		byKey[p.Namespace+":"+p.Name] = kustomize.ImageRef{Name: ref.Name, Tag: ref.Tag, Digest: ref.Digest}
		observed[p.Name] = *ref
	}
	return byKey, observed, nil
}

// missingPolicies names the unresolved markers of the automation's
// namespace whose ImagePolicy does not exist (a policy that exists but is
// not selected, or has chosen nothing yet, is not an error; neither is a
// marker of another namespace, another automation's).
func (r *ImageUpdateAutomationReconciler) missingPolicies(ctx context.Context, obj *imagev1.ImageUpdateAutomation, markers []kustomize.Marker) []string {
	var out []string
	exists := map[string]bool{}
	for _, m := range markers {
		ns, name, ok := strings.Cut(m.Policy, ":")
		if !ok || ns != obj.Namespace {
			continue
		}
		found, seen := exists[name]
		if !seen {
			var p imagev1.ImagePolicy
			err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &p)
			found = err == nil || !apierrors.IsNotFound(err)
			exists[name] = found
		}
		if !found {
			out = append(out, fmt.Sprintf("%s (%s:%d)", m.Policy, m.Path, m.Line))
		}
	}
	return out
}
