package demo

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gittest"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/runtime/conditions"
	"github.com/gitopskit/kit/runtime/testenv"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/config"
	"github.com/gitopskit/kit/examples/internal/gitopsd"
)

//go:embed app/*.yaml
var app embed.FS

// Names of what the demo creates.
const (
	Namespace    = "gitopskit-system" // the GitRepository and the Kustomization
	AppNamespace = "demo"             // the sample application (app/namespace.yaml)
	Name         = "demo"             // the GitRepository's and the Kustomization's
	repoName     = "demo.git"
	branch       = "main"
)

// DefaultPollInterval is the GitRepository interval of the polling step.
const DefaultPollInterval = 5 * time.Second

// DefaultStepTimeout bounds each step that waits for gitopsd.
const DefaultStepTimeout = 90 * time.Second

// DefaultImageBatchWindow is gitopsd's --image-update-batch-window in the
// demo: shorter than gitopsd's default (5s), so that the image step's
// commit comes a second after the ImagePolicy's change.
const DefaultImageBatchWindow = time.Second

// Options tune Run. The zero value runs gitopsd in process and reports to
// nowhere.
type Options struct {
	// Out receives the progress report; nil discards it.
	Out io.Writer
	// GitopsdBinary is the gitopsd executable to run as a child process.
	// Empty runs gitopsd in this process (gitopsd.New).
	GitopsdBinary string
	// PollInterval is the GitRepository interval of the polling step; zero
	// means DefaultPollInterval.
	PollInterval time.Duration
	// StepTimeout bounds each step that waits for gitopsd; zero means
	// DefaultStepTimeout.
	StepTimeout time.Duration
	// ImageBatchWindow is gitopsd's --image-update-batch-window: how long
	// an ImageUpdateAutomation waits after an ImagePolicy change for more
	// before it commits; zero means DefaultImageBatchWindow.
	ImageBatchWindow time.Duration
	// ControlPlaneDir holds kube-apiserver and etcd. Empty looks them up
	// as runtime/testenv does ($KUBEBUILDER_ASSETS, then the cache folder
	// `make controlplane` fills).
	ControlPlaneDir string
}

// Result holds what the demo measured.
type Result struct {
	// Revisions are the commits pushed, in order: the sample application,
	// the changed ConfigMap, the removed manifest, the changes of the
	// later steps, and last the ImageUpdateAutomation's commit.
	Revisions []string
	// FirstApplied is the time from creating the GitRepository and the
	// Kustomization to the Kustomization being Ready.
	FirstApplied time.Duration
	// RequestLatency is commit-to-applied with a reconcile request: from
	// the end of the push to the Kustomization having applied the commit.
	RequestLatency time.Duration
	// PruneLatency is commit-to-pruned for the commit removing a
	// manifest, with a reconcile request.
	PruneLatency time.Duration
	// PollingLatency is commit-to-applied with interval polling only.
	PollingLatency time.Duration
	// WebhookLatency is commit-to-applied through gitopsd's webhook
	// receiver: a GitHub push event posted after the push.
	WebhookLatency time.Duration
	// PollInterval is the GitRepository interval of the polling step.
	PollInterval time.Duration
	// NotificationLatency is commit-to-notification for the broken
	// manifest of the alert step: from the end of the push to the webhook
	// sink having the failure notification.
	NotificationLatency time.Duration
	// HelmInstalled is the time from creating the HelmRelease (chart from
	// git) to it being Ready with the release installed.
	HelmInstalled time.Duration
	// HelmUpgradeLatency is commit-to-released for a values change: from
	// the end of the push of the values ConfigMap to the HelmRelease Ready
	// at the upgraded revision.
	HelmUpgradeLatency time.Duration
	// ImageCommitLatency is tag-to-commit: from the end of the push of a
	// new image tag to the registry to the ImageUpdateAutomation having
	// pushed its commit of the new tag to the demo's repository.
	ImageCommitLatency time.Duration
	// ImageUpdateLatency is tag-to-applied: from the end of the push of
	// the new image tag to the Kustomization having applied the
	// automation's commit.
	ImageUpdateLatency time.Duration
}

// demo is one run's state.
type demo struct {
	opts    Options
	out     io.Writer
	tmp     string
	logPath string
	env     *testenv.Environment
	c       client.WithWatch
	gitSrv  *gittest.Server
	remote  *gogit.Client
	work    string
	res     Result
	// receiverAddr is gitopsd's webhook receiver server, host:port.
	receiverAddr string
	// githubPath and githubToken are the webhook path and the token of
	// the GitHub Receiver of the GitRepository (the webhook step's).
	githubPath, githubToken string
}

// Run runs the demo until every step succeeded, one failed or ctx ended,
// then stops gitopsd, the git server and the control plane and removes the
// temporary folder. The Result holds what was measured before a failure.
func Run(ctx context.Context, opts Options) (res *Result, err error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = DefaultStepTimeout
	}
	if opts.ImageBatchWindow <= 0 {
		opts.ImageBatchWindow = DefaultImageBatchWindow
	}
	d := &demo{opts: opts, out: opts.Out}
	d.res.PollInterval = opts.PollInterval
	start := time.Now()

	d.tmp, err = os.MkdirTemp("", "gitopsd-demo-")
	if err != nil {
		return nil, err
	}
	d.logPath = filepath.Join(d.tmp, "gitopsd.log")
	var cleanups []func() error
	defer func() {
		if err != nil {
			d.failed(err)
		}
		for i := len(cleanups) - 1; i >= 0; i-- {
			if cerr := cleanups[i](); cerr != nil && err == nil {
				err = cerr
			}
		}
		if rerr := os.RemoveAll(d.tmp); rerr != nil && err == nil {
			err = rerr
		}
		if err == nil {
			d.printf("✓ every step succeeded in %s; gitopsd, the git server and the control plane are stopped\n", since(start))
		}
		res = &d.res
	}()

	d.printf("gitopsd demo: a git repository kept applied to a cluster by gitopsd\n\n")
	steps := []struct {
		name string
		run  func(context.Context) (cleanup func() error, err error)
	}{
		{"start the control plane", d.startControlPlane},
		{"start the git server", d.startGit},
		{"start gitopsd", d.startGitopsd},
		{"sync the sample application", d.firstSync},
		{"apply a change (reconcile request)", d.changeWithRequest},
		{"prune a removed manifest", d.prune},
		{"apply a change (webhook receiver)", d.changeWithWebhook},
		{"apply a change (interval polling)", d.changeWithPolling},
		{"alert on a failure, once, and on its fix", d.alert},
		{"install and upgrade a Helm release", d.helmRelease},
		{"update an image from its registry (image automation)", d.imageUpdate},
		{"show what the Kustomization applied", d.tree},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: interrupted", s.name)
		}
		cleanup, err := s.run(ctx)
		if cleanup != nil {
			cleanups = append(cleanups, cleanup)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: interrupted", s.name)
			}
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	d.printf("\ncommit-to-applied latency (from the end of the push to the Kustomization having applied it):\n")
	d.printf("  with a reconcile request   %8s   (gitopsctl %s after the push)\n", round(d.res.RequestLatency), strings.Join(reconcileArgs, " "))
	d.printf("  pruning, with a request    %8s\n", round(d.res.PruneLatency))
	d.printf("  with a webhook             %8s   (GitHub push event to gitopsd's receiver after the push)\n", round(d.res.WebhookLatency))
	d.printf("  with interval polling      %8s   (GitRepository interval %s, no request)\n", round(d.res.PollingLatency), d.res.PollInterval)
	d.printf("  a failure, to its alert    %8s   (push of a broken manifest to the webhook's notification)\n", round(d.res.NotificationLatency))
	d.printf("  a values change, released  %8s   (push of a HelmRelease's valuesFrom ConfigMap to the upgraded revision)\n", round(d.res.HelmUpgradeLatency))
	d.printf("  a new image tag, committed %8s   (push of an image tag to the ImageUpdateAutomation's commit of it, after a %s batch window)\n", round(d.res.ImageCommitLatency), d.opts.ImageBatchWindow)
	d.printf("  a new image tag, applied   %8s   (push of an image tag to the Kustomization having applied that commit)\n\n", round(d.res.ImageUpdateLatency))
	return &d.res, nil
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// failed reports err and the end of gitopsd's log.
func (d *demo) failed(err error) {
	d.printf("✗ %v\n", err)
	data, rerr := os.ReadFile(d.logPath)
	if rerr != nil || len(data) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	d.printf("  last lines of gitopsd's log:\n")
	for _, l := range lines {
		d.printf("    %s\n", l)
	}
}

func (d *demo) startControlPlane(context.Context) (func() error, error) {
	t0 := time.Now()
	crds, err := config.CRDs()
	if err != nil {
		return nil, err
	}
	scheme, err := gitopsd.NewScheme()
	if err != nil {
		return nil, err
	}
	opts := []testenv.Option{testenv.WithScheme(scheme), testenv.WithCRDs(crds...)}
	if d.opts.ControlPlaneDir != "" {
		opts = append(opts, testenv.WithBinaryDir(d.opts.ControlPlaneDir))
	}
	d.printf("→ starting a local control plane (kube-apiserver %s and etcd) and installing %d CRDs\n", testenv.KubernetesVersion, len(crds))
	env, err := testenv.Start(opts...)
	if err != nil {
		return nil, err
	}
	d.env, d.c = env, env.Client()
	d.printf("✓ control plane up in %s (binaries from %s)\n", since(t0), env.BinaryDir())
	return env.Stop, nil
}

func (d *demo) startGit(ctx context.Context) (func() error, error) {
	t0 := time.Now()
	srv, err := gittest.Start()
	if err != nil {
		return nil, err
	}
	d.gitSrv = srv
	srv.InitRepository(repoName)
	d.remote, err = gogit.New(srv.HTTPURL(repoName))
	if err != nil {
		return srv.Close, err
	}
	d.work = filepath.Join(d.tmp, "work")
	if err := d.remote.Init(ctx, d.work, branch); err != nil {
		return srv.Close, err
	}
	files := map[string][]byte{}
	err = fs.WalkDir(app, "app", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := app.ReadFile(p)
		files[strings.TrimPrefix(p, "app/")] = data
		return err
	})
	if err != nil {
		return srv.Close, err
	}
	rev, err := d.push(ctx, "Add the sample application", files, nil)
	if err != nil {
		return srv.Close, err
	}
	d.printf("✓ git server at %s; pushed the sample application (%d manifests) as %s in %s\n",
		srv.HTTPURL(repoName), len(files), short(rev), since(t0))
	return srv.Close, nil
}

// push commits files (written over the worktree) and the removal of
// remove, pushes, and returns the revision.
func (d *demo) push(ctx context.Context, message string, files map[string][]byte, remove []string) (string, error) {
	for _, f := range remove {
		if err := os.Remove(filepath.Join(d.work, filepath.FromSlash(f))); err != nil {
			return "", err
		}
	}
	hash, err := d.remote.Commit(ctx, d.work, gogit.CommitOptions{
		Author:  git.Signature{Name: "Demo", Email: "demo@gitopskit.dev"},
		Message: message,
		Files:   files,
	})
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	if err := d.remote.Push(ctx, d.work, gogit.PushOptions{}); err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	rev := git.Revision(branch, hash)
	d.res.Revisions = append(d.res.Revisions, rev)
	return rev, nil
}

func (d *demo) firstSync(ctx context.Context) (func() error, error) {
	rev := d.res.Revisions[0]
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := d.c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace},
		Spec: sourcev1.GitRepositorySpec{
			URL:       d.gitSrv.HTTPURL(repoName),
			Reference: &sourcev1.GitRepositoryRef{Branch: branch},
			// Long enough that only the reconcile requests of the next
			// steps bring new commits in, until the polling step.
			Interval: metav1.Duration{Duration: 10 * time.Minute},
		},
	}
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: Name},
			Path:      "./",
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			Prune:     true,
			Wait:      true,
			Timeout:   &metav1.Duration{Duration: time.Minute},
		},
	}
	d.printf("\n→ creating GitRepository %s/%s (%s, branch %s) and Kustomization %s/%s (path ./, prune, wait)\n",
		Namespace, Name, repo.Spec.URL, branch, Namespace, Name)
	for _, o := range []client.Object{repo, ks} {
		if err := d.c.Create(ctx, o); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	if err := d.waitRepository(ctx, rev); err != nil {
		return nil, err
	}
	d.printf("✓ GitRepository %s Ready at %s %s after its creation\n", Name, short(rev), since(t0))
	got, err := d.waitApplied(ctx, rev)
	if err != nil {
		return nil, err
	}
	d.res.FirstApplied = time.Since(t0)
	d.printf("✓ Kustomization %s Ready at %s %s after its creation: %d objects applied and ready\n", Name, short(rev), since(t0), inventorySize(got))
	for _, e := range inventory(got) {
		d.printf("    %s\n", e)
	}
	return nil, nil
}

func (d *demo) changeWithRequest(ctx context.Context) (func() error, error) {
	d.printf("\n→ pushing a commit that changes ConfigMap %s/app-config: greeting \"hello\" → \"hello, gitops\"\n", AppNamespace)
	rev, err := d.push(ctx, "Greet GitOps", map[string][]byte{"config.yaml": configMap("hello, gitops")}, nil)
	if err != nil {
		return nil, err
	}
	pushed := time.Now()
	if err := d.gitopsctl(ctx, reconcileArgs...); err != nil {
		return nil, err
	}
	if _, err := d.waitApplied(ctx, rev); err != nil {
		return nil, err
	}
	d.res.RequestLatency = time.Since(pushed)
	if err := d.checkGreeting(ctx, "hello, gitops"); err != nil {
		return nil, err
	}
	d.printf("✓ %s applied %s after the push (reconcile request): app-config greeting is now \"hello, gitops\"\n", short(rev), round(d.res.RequestLatency))
	return nil, nil
}

func (d *demo) prune(ctx context.Context) (func() error, error) {
	d.printf("\n→ pushing a commit that removes flags.yaml (ConfigMap %s/app-flags)\n", AppNamespace)
	rev, err := d.push(ctx, "Remove the feature flags", nil, []string{"flags.yaml"})
	if err != nil {
		return nil, err
	}
	pushed := time.Now()
	if err := d.gitopsctl(ctx, reconcileArgs...); err != nil {
		return nil, err
	}
	got, err := d.waitApplied(ctx, rev)
	if err != nil {
		return nil, err
	}
	d.res.PruneLatency = time.Since(pushed)
	err = d.c.Get(ctx, client.ObjectKey{Namespace: AppNamespace, Name: "app-flags"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("ConfigMap %s/app-flags still exists after %s was applied (err=%v)", AppNamespace, short(rev), err)
	}
	d.printf("✓ %s applied %s after the push: ConfigMap %s/app-flags pruned, %d objects left in the inventory\n",
		short(rev), round(d.res.PruneLatency), AppNamespace, inventorySize(got))
	return nil, nil
}

func (d *demo) changeWithPolling(ctx context.Context) (func() error, error) {
	interval := d.opts.PollInterval
	d.printf("\n→ setting the GitRepository's interval to %s, and pushing a change with no reconcile request\n", interval)
	repo := &sourcev1.GitRepository{}
	key := client.ObjectKey{Namespace: Namespace, Name: Name}
	if err := d.update(ctx, key, repo, func() { repo.Spec.Interval = metav1.Duration{Duration: interval} }); err != nil {
		return nil, err
	}
	// The spec change itself triggers a reconcile: wait for it, so that
	// the commit below is found by polling.
	if err := d.waitFor(ctx, repo, &sourcev1.GitRepositoryList{}, func() bool {
		return repo.Status.ObservedGeneration == repo.Generation && conditions.IsReady(repo)
	}); err != nil {
		return nil, err
	}
	rev, err := d.push(ctx, "Greet polling", map[string][]byte{"config.yaml": configMap("hello, polling")}, nil)
	if err != nil {
		return nil, err
	}
	pushed := time.Now()
	if _, err := d.waitApplied(ctx, rev); err != nil {
		return nil, err
	}
	d.res.PollingLatency = time.Since(pushed)
	if err := d.checkGreeting(ctx, "hello, polling"); err != nil {
		return nil, err
	}
	d.printf("✓ %s applied %s after the push (interval polling every %s): app-config greeting is now \"hello, polling\"\n",
		short(rev), round(d.res.PollingLatency), interval)
	return nil, nil
}

// reconcileArgs is the command a user runs after a push: reconcile the
// GitRepository, then the Kustomization, following both to the end.
var reconcileArgs = []string{"reconcile", "kustomization", Name, "--with-source"}

// tree shows the Kustomization's objects as gitopsctl prints them.
func (d *demo) tree(ctx context.Context) (func() error, error) {
	d.printf("\n→ the objects Kustomization %s/%s applied\n", Namespace, Name)
	return nil, d.gitopsctl(ctx, "tree", "kustomization", Name)
}

// update re-reads the object at key into obj and writes change until no
// conflict.
func (d *demo) update(ctx context.Context, key client.ObjectKey, obj client.Object, change func()) error {
	for {
		if err := d.c.Get(ctx, key, obj); err != nil {
			return err
		}
		change()
		err := d.c.Update(ctx, obj)
		if !apierrors.IsConflict(err) {
			return err
		}
	}
}

func (d *demo) checkGreeting(ctx context.Context, want string) error {
	cm := &corev1.ConfigMap{}
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: AppNamespace, Name: "app-config"}, cm); err != nil {
		return err
	}
	if got := cm.Data["greeting"]; got != want {
		return fmt.Errorf("ConfigMap %s/app-config greeting = %q, want %q", AppNamespace, got, want)
	}
	return nil
}

func configMap(greeting string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: %s
data:
  greeting: %q
`, AppNamespace, greeting)
}

func inventory(k *kustomizev1.Kustomization) []string {
	if k.Status.Inventory == nil {
		return nil
	}
	var out []string
	for _, e := range k.Status.Inventory.Entries {
		out = append(out, e.ID)
	}
	return out
}

func inventorySize(k *kustomizev1.Kustomization) int { return len(inventory(k)) }

// short abbreviates a revision's hash: main@sha1:0123456789ab….
func short(rev string) string {
	at, colon := strings.LastIndex(rev, "@"), strings.LastIndex(rev, ":")
	if at < 0 || colon < at || len(rev)-colon-1 <= 12 {
		return rev
	}
	return rev[:colon+13] + "…"
}

func since(t time.Time) string { return round(time.Since(t)) }

func round(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
