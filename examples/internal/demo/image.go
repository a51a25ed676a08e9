package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/oci/ocitest"
	"github.com/gitopskit/kit/runtime/conditions"

	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
)

// Names of the image automation step.
const (
	imageName      = "app"          // the ImageRepository and the ImagePolicy
	imageRepo      = "demo/app"     // the image's repository on the registry
	automationName = "demo"         // the ImageUpdateAutomation
	workloadFile   = "cronjob.yaml" // the CronJob's manifest in the demo repository
	workloadName   = "app"          // the CronJob, in AppNamespace
	imageRange     = ">=1.0.0"      // the ImagePolicy's semver range
	firstTag       = "1.0.0"
	newTag         = "1.1.0"
)

// cronJob is the manifest of the CronJob running image, which carries the
// marker of the demo's ImagePolicy. A CronJob rather than a Deployment:
// the control plane runs no controller-manager, so a Deployment would
// never be Ready and the Kustomization (wait: true) neither; a CronJob is
// Ready once it exists, and suspended, nothing would run it in a cluster
// either.
func cronJob(image string) []byte {
	return fmt.Appendf(nil, `apiVersion: batch/v1
kind: CronJob
metadata:
  name: %s
  namespace: %s
spec:
  schedule: "@hourly"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: app
          restartPolicy: Never
          containers:
            - name: app
              image: %s # {"$imagepolicy": "%s:%s"}
`, workloadName, AppNamespace, image, Namespace, imageName)
}

// imageUpdate shows image automation end to end: an image tag pushed to a
// registry ends as one commit in the demo repository, written by an
// ImageUpdateAutomation, that the Kustomization applies. The registry is
// oci/ocitest on loopback (plain HTTP); the scan is asked for with a
// reconcile request after the push, as CI would after pushing an image;
// the automation's push reaches the GitRepository through the GitHub
// Receiver of the webhook step, as GitHub's push event would.
//
// It is the last step that pushes: the demo's worktree stays at the commit
// before the automation's.
func (d *demo) imageUpdate(ctx context.Context) (func() error, error) {
	t0 := time.Now()
	reg, err := ocitest.Start()
	if err != nil {
		return nil, err
	}
	cleanup := func() error { reg.Close(); return nil }
	image := reg.Repo(imageRepo)
	digest, err := reg.PushImage(ctx, imageRepo, firstTag)
	if err != nil {
		return cleanup, err
	}
	d.printf("\n→ a registry at %s (oci/ocitest, plain HTTP); pushed image %s:%s (%s) in %s\n",
		reg.URL(), image, firstTag, shortDigest(digest), since(t0))
	d.printf("→ pushing %s: CronJob %s/%s running %s:%s, its image marked # {\"$imagepolicy\": \"%s:%s\"}\n",
		workloadFile, AppNamespace, workloadName, image, firstTag, Namespace, imageName)
	base, err := d.push(ctx, "Add the app's CronJob", map[string][]byte{workloadFile: cronJob(image + ":" + firstTag)}, nil)
	if err != nil {
		return cleanup, err
	}
	if err := d.gitopsctl(ctx, reconcileArgs...); err != nil {
		return cleanup, err
	}
	if _, err := d.waitApplied(ctx, base); err != nil {
		return cleanup, err
	}
	if err := d.checkImage(ctx, image+":"+firstTag); err != nil {
		return cleanup, err
	}

	if err := d.createImageAutomation(ctx, image); err != nil {
		return cleanup, err
	}
	t1 := time.Now()
	auto, err := d.waitAutomation(ctx, false, func(a *imagev1.ImageUpdateAutomation) bool {
		return a.Status.ObservedPolicies[imageName].Tag == firstTag
	})
	if err != nil {
		return cleanup, err
	}
	if auto.Status.LastPushCommit != "" {
		return cleanup, fmt.Errorf("ImageUpdateAutomation %s pushed %s although %s already runs %s:%s", automationName, auto.Status.LastPushCommit, workloadFile, image, firstTag)
	}
	if err := d.checkHead(ctx, base); err != nil {
		return cleanup, err
	}
	d.printf("✓ ImagePolicy %s chose %s; ImageUpdateAutomation %s Ready %s after its creation: nothing to update, no commit (%s still at %s)\n",
		imageName, firstTag, automationName, since(t1), branch, short(base))

	d.printf("→ pushing image %s:%s, then asking gitopsd to scan its tags\n", image, newTag)
	if digest, err = reg.PushImage(ctx, imageRepo, newTag); err != nil {
		return cleanup, err
	}
	pushed := time.Now()
	if err := d.gitopsctl(ctx, "reconcile", "imagerepository", imageName); err != nil {
		return cleanup, err
	}
	scanned := time.Since(pushed)
	pol := &imagev1.ImagePolicy{ObjectMeta: metav1.ObjectMeta{Name: imageName, Namespace: Namespace}}
	if err := d.waitFor(ctx, pol, &imagev1.ImagePolicyList{}, func() bool {
		return pol.Status.LatestRef != nil && pol.Status.LatestRef.Tag == newTag
	}); err != nil {
		return cleanup, fmt.Errorf("%w; ImagePolicy conditions: %s", err, describe(pol.Status.Conditions))
	}
	chosen := time.Since(pushed)
	if auto, err = d.waitAutomation(ctx, true, func(a *imagev1.ImageUpdateAutomation) bool {
		return a.Status.LastPushCommit != ""
	}); err != nil {
		return cleanup, err
	}
	d.res.ImageCommitLatency = time.Since(pushed)
	rev := git.Revision(branch, auto.Status.LastPushCommit)
	d.res.Revisions = append(d.res.Revisions, rev)
	d.printf("✓ after the image push: tags scanned at %s, ImagePolicy %s chose %s at %s, ImageUpdateAutomation %s pushed %s at %s\n",
		round(scanned), imageName, newTag, round(chosen), automationName, short(rev), round(d.res.ImageCommitLatency))

	if d.githubPath == "" {
		return cleanup, errors.New("no GitHub Receiver to post the automation's push to: the webhook step creates it")
	}
	d.printf("→ posting GitHub's push event of %s to Receiver %s, as GitHub would after the automation's push\n", short(rev), receiverName)
	if _, err := d.postPushEvent(ctx, d.githubPath, d.githubToken, rev); err != nil {
		return cleanup, err
	}
	if _, err := d.waitApplied(ctx, rev); err != nil {
		return cleanup, err
	}
	d.res.ImageUpdateLatency = time.Since(pushed)
	if err := d.checkImage(ctx, image+":"+newTag); err != nil {
		return cleanup, err
	}
	c, err := d.checkImageCommit(ctx, base, rev, image)
	if err != nil {
		return cleanup, err
	}
	d.printf("✓ %s applied %s after the image push: CronJob %s/%s runs %s:%s (%s)\n",
		short(rev), round(d.res.ImageUpdateLatency), AppNamespace, workloadName, image, newTag, shortDigest(digest))
	d.printf("✓ one commit on top of %s, by %s <%s>, changing one line of %s:\n", short(base), c.Author.Name, c.Author.Email, workloadFile)
	for _, l := range strings.Split(strings.TrimRight(c.Message, "\n"), "\n") {
		d.printf("%s\n", strings.TrimRight("    │ "+l, " "))
	}
	return cleanup, nil
}

// createImageAutomation creates the ImageRepository of image (scanned on
// creation and on request), an ImagePolicy choosing the highest version in
// imageRange, and an ImageUpdateAutomation writing the chosen image into
// the demo repository's markers and pushing to its branch.
func (d *demo) createImageAutomation(ctx context.Context, image string) error {
	objs := []client.Object{
		&imagev1.ImageRepository{
			ObjectMeta: metav1.ObjectMeta{Name: imageName, Namespace: Namespace},
			Spec: imagev1.ImageRepositorySpec{
				Image:    image,
				Insecure: true, // ocitest serves plain HTTP
				Interval: metav1.Duration{Duration: 10 * time.Minute},
			},
		},
		&imagev1.ImagePolicy{
			ObjectMeta: metav1.ObjectMeta{Name: imageName, Namespace: Namespace},
			Spec: imagev1.ImagePolicySpec{
				ImageRepositoryRef: meta.LocalObjectReference{Name: imageName},
				Policy:             imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: imageRange}},
			},
		},
		&imagev1.ImageUpdateAutomation{
			ObjectMeta: metav1.ObjectMeta{Name: automationName, Namespace: Namespace},
			Spec: imagev1.ImageUpdateAutomationSpec{
				SourceRef: imagev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: Name},
				GitSpec: &imagev1.GitSpec{
					Checkout: &imagev1.GitCheckoutSpec{Reference: imagev1.GitCheckoutReference{Branch: branch}},
					Commit:   imagev1.CommitSpec{Author: imagev1.CommitUser{Name: "gitopsd", Email: "gitopsd@gitopskit.dev"}},
					Push:     &imagev1.PushSpec{Branch: branch},
				},
				Update:   &imagev1.UpdateStrategy{Strategy: imagev1.UpdateStrategySetters, Path: "./"},
				Interval: metav1.Duration{Duration: 10 * time.Minute},
			},
		},
	}
	d.printf("→ creating ImageRepository %s/%s (%s, insecure: plain HTTP), ImagePolicy %s (semver %s) and ImageUpdateAutomation %s (GitRepository %s, push to %s, path ./; gitopsd's batch window %s)\n",
		Namespace, imageName, image, imageName, imageRange, automationName, Name, branch, d.opts.ImageBatchWindow)
	for _, o := range objs {
		if err := d.c.Create(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

// waitAutomation waits until the ImageUpdateAutomation is Ready at its
// generation and cond holds, reporting its progress (not the state first
// seen, with skipFirst), and returns it.
func (d *demo) waitAutomation(ctx context.Context, skipFirst bool, cond func(*imagev1.ImageUpdateAutomation) bool) (*imagev1.ImageUpdateAutomation, error) {
	a := &imagev1.ImageUpdateAutomation{ObjectMeta: metav1.ObjectMeta{Name: automationName, Namespace: Namespace}}
	p := d.progress("ImageUpdateAutomation "+automationName, skipFirst)
	err := d.waitFor(ctx, a, &imagev1.ImageUpdateAutomationList{}, func() bool {
		p(a.Status.Conditions)
		return conditions.IsReady(a) && a.Status.ObservedGeneration == a.Generation && cond(a)
	})
	if err != nil {
		return nil, fmt.Errorf("%w; ImageUpdateAutomation conditions: %s", err, describe(a.Status.Conditions))
	}
	return a, nil
}

// checkImage checks the CronJob's container image.
func (d *demo) checkImage(ctx context.Context, want string) error {
	cj := &batchv1.CronJob{}
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: AppNamespace, Name: workloadName}, cj); err != nil {
		return err
	}
	cs := cj.Spec.JobTemplate.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Image != want {
		return fmt.Errorf("CronJob %s/%s runs %v, want %s", AppNamespace, workloadName, containerImages(cs), want)
	}
	return nil
}

func containerImages(cs []corev1.Container) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Image)
	}
	return out
}

// checkHead checks that the remote branch is at rev.
func (d *demo) checkHead(ctx context.Context, rev string) error {
	head, err := d.remote.Resolve(ctx, git.Reference{Branch: branch}) // a revision, main@sha1:<hex>
	if err != nil {
		return err
	}
	if head != rev {
		return fmt.Errorf("%s is at %s, want %s", branch, head, rev)
	}
	return nil
}

// checkImageCommit checks that rev is the remote branch's head, the one
// commit on top of base, and that it changes exactly one line: image's
// tag in workloadFile, from firstTag to newTag. The demo's worktree is at
// base. It returns the commit.
func (d *demo) checkImageCommit(ctx context.Context, base, rev, image string) (*git.Commit, error) {
	if err := d.checkHead(ctx, rev); err != nil {
		return nil, err
	}
	dir := filepath.Join(d.tmp, "automation-commit")
	res, err := d.remote.Clone(ctx, dir, gogit.CloneOptions{Reference: git.Reference{Branch: branch}})
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if res.Revision != rev {
		return nil, fmt.Errorf("cloned %s, want %s", res.Revision, rev)
	}
	baseHash := base[strings.LastIndex(base, ":")+1:]
	if ps := commitParents(res.Commit.Encoded); !slices.Equal(ps, []string{baseHash}) {
		return nil, fmt.Errorf("commit %s has parents %q, want the one %s", short(rev), ps, short(base))
	}
	changes, err := diffTrees(d.work, dir)
	if err != nil {
		return nil, err
	}
	want := []lineChange{{
		File: workloadFile,
		Old:  lineOf(cronJob(image+":"+firstTag), image),
		New:  lineOf(cronJob(image+":"+newTag), image),
	}}
	if !slices.Equal(changes, want) {
		return nil, fmt.Errorf("commit %s changes %+v, want only %+v", short(rev), changes, want)
	}
	return res.Commit, nil
}

// commitParents returns the parent hashes in an encoded commit object's
// header.
func commitParents(encoded []byte) []string {
	var out []string
	for _, l := range strings.Split(string(encoded), "\n") {
		if l == "" { // the end of the header
			break
		}
		if p, ok := strings.CutPrefix(l, "parent "); ok {
			out = append(out, p)
		}
	}
	return out
}

// lineChange is a line of a file that differs between two trees.
type lineChange struct {
	File, Old, New string
}

// diffTrees compares the files of two worktrees (their .git folders left
// out) line by line: a file only in one of them is one change with the
// other side empty; a file of different length in lines is one change of
// its whole content.
func diffTrees(oldDir, newDir string) ([]lineChange, error) {
	oldFiles, err := readTree(oldDir)
	if err != nil {
		return nil, err
	}
	newFiles, err := readTree(newDir)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for n := range oldFiles {
		names[n] = true
	}
	for n := range newFiles {
		names[n] = true
	}
	var out []lineChange
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	}) {
		o, okOld := oldFiles[n]
		nw, okNew := newFiles[n]
		if okOld && okNew && bytes.Equal(o, nw) {
			continue
		}
		ol, nl := strings.Split(string(o), "\n"), strings.Split(string(nw), "\n")
		if !okOld || !okNew || len(ol) != len(nl) {
			out = append(out, lineChange{File: n, Old: string(o), New: string(nw)})
			continue
		}
		for i := range ol {
			if ol[i] != nl[i] {
				out = append(out, lineChange{File: n, Old: ol[i], New: nl[i]})
			}
		}
	}
	return out, nil
}

// readTree reads the regular files under dir, .git left out, by
// slash-separated path.
func readTree(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".git" {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() {
			if e.IsDir() {
				return nil
			}
			return errors.New(p + ": not a regular file")
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	return out, err
}

// lineOf returns the first line of data holding s.
func lineOf(data []byte, s string) string {
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// shortDigest abbreviates a digest: sha256:0123456789ab….
func shortDigest(d string) string {
	if i := strings.Index(d, ":"); i >= 0 && len(d)-i-1 > 12 {
		return d[:i+13] + "…"
	}
	return d
}
