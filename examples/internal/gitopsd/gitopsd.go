package gitopsd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gitopskit/kit/artifact/fetch"
	"github.com/gitopskit/kit/artifact/server"
	"github.com/gitopskit/kit/artifact/storage"
	"github.com/gitopskit/kit/events/hub"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/runtime/acl"
	"github.com/gitopskit/kit/runtime/metrics"
	"github.com/gitopskit/kit/runtime/options"

	helmv1 "github.com/gitopskit/kit/examples/api/helm/v1"
	imagev1 "github.com/gitopskit/kit/examples/api/image/v1"
	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	notificationv1 "github.com/gitopskit/kit/examples/api/notification/v1"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	"github.com/gitopskit/kit/examples/internal/controller"
	"github.com/gitopskit/kit/examples/internal/controller/helm"
	"github.com/gitopskit/kit/examples/internal/controller/image"
	"github.com/gitopskit/kit/examples/internal/controller/kustomize"
	"github.com/gitopskit/kit/examples/internal/controller/notification"
	"github.com/gitopskit/kit/examples/internal/controller/source"
)

// Name is the operator's name: the user agent of its API requests and the
// prefix of its leader election Lease.
const Name = "gitopsd"

// DefaultStorageAddr is the default bind address of the artifact server.
const DefaultStorageAddr = ":9090"

// PodIPEnv is the environment variable holding the pod's IP (set from the
// downward API). When --storage-adv-addr is not given and the artifact
// server listens on every interface, artifact URLs use this IP, or the
// host name when it is unset.
const PodIPEnv = "POD_IP"

// Options are gitopsd's settings: the options every controller binary
// shares (leader election, concurrency, metrics, health probes, logging)
// and gitopsd's own. Start from DefaultOptions.
type Options struct {
	// Controller holds the shared controller options of runtime/options.
	Controller options.Options
	// Source holds the source reconcilers' options (artifact retention,
	// the Sigstore trusted root).
	Source SourceOptions

	// StoragePath is the folder artifacts are stored in. Required.
	StoragePath string
	// GitCachePath is the folder of the git cache (repositories/: a bare
	// repository per remote URL, which every GitRepository fetch and
	// ImageUpdateAutomation run goes through, so each fetches only new
	// objects), of the GitRepositories' exports (exports/, updated in
	// place) and of the automations' worktrees (worktrees/). It is kept
	// across restarts and must be this gitopsd's own. Empty:
	// DefaultGitCacheDir under StoragePath, a dot folder the artifact
	// server never serves.
	GitCachePath string
	// ImageUpdateBatchWindow is how long an ImageUpdateAutomation waits
	// after an ImagePolicy change for more, so the changes of one burst
	// are one commit (image.DefaultBatchWindow by default; 0: at once).
	ImageUpdateBatchWindow time.Duration
	// StorageAddr is the artifact HTTP server's bind address, e.g. ":9090";
	// port 0 picks a free port (see Operator.StorageAddr).
	StorageAddr string
	// StorageAdvAddr is the host[:port] written into artifact URLs, the
	// address consumers reach the artifact server at, e.g.
	// "gitopsd.gitopskit-system.svc.cluster.local.". Empty derives it from
	// the address the server is bound to (see PodIPEnv).
	StorageAdvAddr string
	// ArtifactHostOverride, when set, replaces the host[:port] of every
	// artifact URL the Kustomization reconciler downloads, so gitopsd
	// running outside a cluster can consume artifacts through a port
	// forward (artifact/fetch WithHostOverride).
	ArtifactHostOverride string

	// NoCrossNamespaceRefs keeps every reference of a Kustomization (its
	// sourceRef, its dependsOn) and of a GitRepository (its include)
	// within its own namespace.
	NoCrossNamespaceRefs bool
	// CrossNamespaceSelector, when set, allows cross-namespace references
	// only from namespaces whose labels match this label selector
	// (runtime/acl AllowNamespaceSelector). Empty allows them from every
	// namespace, as Flux does by default, unless NoCrossNamespaceRefs.
	CrossNamespaceSelector string

	// EventsAddr, when set, is the event hub (an http(s) URL) every event
	// but trace ones is also posted to, in Flux's event format — gitopsd's
	// own hub, or a Flux notification-controller.
	EventsAddr string

	// DefaultServiceAccount is impersonated by every Kustomization of the
	// local cluster without spec.serviceAccountName (multi-tenancy
	// lockdown, as Flux's flag of that name). Empty: gitopsd's own
	// account.
	DefaultServiceAccount string
	// AllowRemoteBases lets Kustomizations' kustomizations load remote
	// bases and files (--no-remote-bases=false). Off, as by default,
	// nothing remote is ever loaded: a reference is a build failure.
	AllowRemoteBases bool
	// BuildCacheBytes bounds the Kustomizations' build cache (their last
	// builds' objects, measured as JSON), which lets a re-check of an
	// unchanged Kustomization skip the download and the build
	// (--build-cache-size). Zero disables it.
	BuildCacheBytes int64

	// RequeueDependency is how often a Kustomization waiting for a
	// dependency checks it again. Zero: the Kustomization's retry interval.
	RequeueDependency time.Duration

	// hubOptions are added to the event hub's (tests: a clock).
	hubOptions []hub.Option

	// ReceiverAddr is the webhook receiver server's bind address, e.g.
	// ":9292"; port 0 picks a free port (see Operator.ReceiverAddr). Empty
	// disables the server. It runs on every replica.
	ReceiverAddr string
}

// DefaultGitCacheDir is the git cache's folder under --storage-path when
// --git-cache-path is not set: a dot folder, which the artifact server
// never serves (no artifact path has an element starting with a dot).
const DefaultGitCacheDir = ".git-cache"

// DefaultOptions returns gitopsd's defaults. StoragePath has no default.
func DefaultOptions() Options {
	return Options{
		Controller:             options.DefaultOptions(Name),
		Source:                 DefaultSourceOptions(),
		StorageAddr:            DefaultStorageAddr,
		ReceiverAddr:           DefaultReceiverAddr,
		ImageUpdateBatchWindow: image.DefaultBatchWindow,
		BuildCacheBytes:        kustomize.DefaultBuildCacheBytes,
	}
}

// gitCachePath returns the git cache's folder the options select.
func (o *Options) gitCachePath() string {
	if o.GitCachePath != "" {
		return o.GitCachePath
	}
	return filepath.Join(o.StoragePath, DefaultGitCacheDir)
}

// BindFlags defines gitopsd's flags on fs, the shared controller flags
// included, with the current values as defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	o.Controller.BindFlags(fs)
	o.Source.BindFlags(fs)
	fs.StringVar(&o.StoragePath, "storage-path", o.StoragePath,
		"The folder artifacts are stored in (required).")
	fs.StringVar(&o.GitCachePath, "git-cache-path", o.GitCachePath,
		"The folder of the git cache, kept across restarts, that every git fetch goes through (default: "+DefaultGitCacheDir+" under --storage-path, never served).")
	fs.DurationVar(&o.ImageUpdateBatchWindow, "image-update-batch-window", o.ImageUpdateBatchWindow,
		"How long an ImageUpdateAutomation waits after an ImagePolicy change for more, so one burst of changes is one commit (0: at once).")
	fs.StringVar(&o.StorageAddr, "storage-addr", o.StorageAddr,
		"The address the artifact HTTP server binds to.")
	fs.StringVar(&o.StorageAdvAddr, "storage-adv-addr", o.StorageAdvAddr,
		"The host[:port] written into artifact URLs (default: derived from the bind address, $"+PodIPEnv+" or the host name).")
	fs.StringVar(&o.ArtifactHostOverride, "artifact-host-override", o.ArtifactHostOverride,
		"Download every artifact from this host[:port] instead of the one in its URL, e.g. localhost:9090 through a port forward.")
	fs.BoolVar(&o.NoCrossNamespaceRefs, "no-cross-namespace-refs", o.NoCrossNamespaceRefs,
		"Refuse references (a Kustomization's sourceRef and dependsOn, a GitRepository's include) to another namespace.")
	fs.StringVar(&o.CrossNamespaceSelector, "cross-namespace-selector", o.CrossNamespaceSelector,
		"Allow references to another namespace only from namespaces whose labels match this selector (default: from every namespace).")
	fs.StringVar(&o.EventsAddr, "events-addr", o.EventsAddr,
		"The event hub URL events are posted to, besides the Kubernetes Events (default: none).")
	fs.StringVar(&o.DefaultServiceAccount, "default-service-account", o.DefaultServiceAccount,
		"The service account, in each Kustomization's namespace, that Kustomizations without spec.serviceAccountName impersonate (default: gitopsd's own).")
	fs.Var(negated{&o.AllowRemoteBases}, "no-remote-bases",
		"Refuse remote bases and files in kustomizations (default true; =false lets kustomize fetch them and run git from inside a tenant's build).")
	fs.Func("build-cache-size", fmt.Sprintf("Bound of the Kustomizations' build cache, as a quantity (their last builds' objects as JSON; default %s; 0 disables it).",
		resource.NewQuantity(o.BuildCacheBytes, resource.BinarySI)), func(v string) error {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return err
		}
		if q.Sign() < 0 {
			return errors.New("must not be negative")
		}
		o.BuildCacheBytes = q.Value()
		return nil
	})
	fs.DurationVar(&o.RequeueDependency, "requeue-dependency", o.RequeueDependency,
		"How often a Kustomization waiting for a dependency checks it again (default: its retry interval).")
	fs.StringVar(&o.ReceiverAddr, "receiver-addr", o.ReceiverAddr,
		"The address the webhook receiver server binds to, on every replica (empty: no receiver server).")
}

// Validate checks the options and returns every problem found, each naming
// its flag.
func (o *Options) Validate() error {
	var errs []error
	if err := o.Controller.Validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, o.Source.Validate()...)
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("invalid --%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if o.StoragePath == "" {
		bad("storage-path", "must be set")
	} else if err := validGitCachePath(o.StoragePath, o.GitCachePath); err != nil {
		bad("git-cache-path", "%v", err)
	}
	if o.ImageUpdateBatchWindow < 0 {
		bad("image-update-batch-window", "must not be negative")
	}
	if _, _, err := net.SplitHostPort(o.StorageAddr); err != nil {
		bad("storage-addr", "want host:port, got %q", o.StorageAddr)
	}
	if err := validHost(o.StorageAdvAddr); err != nil {
		bad("storage-adv-addr", "%v", err)
	}
	if err := validHost(o.ArtifactHostOverride); err != nil {
		bad("artifact-host-override", "%v", err)
	}
	if o.DefaultServiceAccount != "" && len(validation.IsDNS1123Subdomain(o.DefaultServiceAccount)) > 0 {
		bad("default-service-account", "%q is not a valid service account name", o.DefaultServiceAccount)
	}
	if o.EventsAddr != "" {
		if u, err := url.Parse(o.EventsAddr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("events-addr", "want an http or https URL, got %q", o.EventsAddr)
		}
	}
	if o.RequeueDependency < 0 {
		bad("requeue-dependency", "must not be negative")
	}
	if err := validReceiverAddr(o.ReceiverAddr); err != nil {
		errs = append(errs, err)
	}
	if o.CrossNamespaceSelector != "" {
		if o.NoCrossNamespaceRefs {
			bad("cross-namespace-selector", "cannot be combined with --no-cross-namespace-refs")
		}
		if _, err := labels.Parse(o.CrossNamespaceSelector); err != nil {
			bad("cross-namespace-selector", "%v", err)
		}
	}
	return errors.Join(errs...)
}

// validGitCachePath refuses a git cache folder that the artifact server
// would serve: the storage folder itself, or a folder inside it whose
// first element does not start with a dot.
func validGitCachePath(storagePath, cachePath string) error {
	if cachePath == "" {
		return nil
	}
	st, err := filepath.Abs(storagePath)
	if err != nil {
		return err
	}
	c, err := filepath.Abs(cachePath)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(st, c)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil // outside the storage folder
	}
	if first, _, _ := strings.Cut(filepath.ToSlash(rel), "/"); first == "." || !strings.HasPrefix(first, ".") {
		return fmt.Errorf("%q is inside --storage-path %q, where the artifact server would serve it; use a folder outside it, or one whose name starts with a dot", cachePath, storagePath)
	}
	return nil
}

// validHost accepts "" or host[:port] with no scheme, path or user info.
func validHost(s string) error {
	if s == "" {
		return nil
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	if host == "" {
		return fmt.Errorf("want host[:port], got %q", s)
	}
	for _, r := range host {
		if r == '/' || r == '@' || r == '?' || r == '#' || r == ' ' {
			return fmt.Errorf("want host[:port] without scheme or path, got %q", s)
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port in %q", s)
		}
	}
	return nil
}

// Policy returns the cross-namespace reference policy the options select.
func (o *Options) Policy() (acl.Policy, error) {
	switch {
	case o.NoCrossNamespaceRefs:
		return acl.DenyCrossNamespace(), nil
	case o.CrossNamespaceSelector != "":
		sel, err := labels.Parse(o.CrossNamespaceSelector)
		if err != nil {
			return acl.Policy{}, fmt.Errorf("invalid --cross-namespace-selector: %w", err)
		}
		return acl.AllowNamespaceSelector(sel), nil
	default:
		return acl.AllowAll(), nil
	}
}

// NewScheme returns a scheme with client-go's built-in types and gitopsd's
// API groups.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, sourcev1.AddToScheme, kustomizev1.AddToScheme, helmv1.AddToScheme,
		notificationv1.AddToScheme, imagev1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Operator is an assembled gitopsd: a manager with the reconcilers and the
// artifact server registered, ready to Start.
type Operator struct {
	mgr     manager.Manager
	storage *storage.Storage
	ln      net.Listener
	baseURL string
	// hub is the in-process event hub.
	hub *hub.Hub
	// rln is the receiver server's listener; nil when it is disabled.
	rln net.Listener
}

// New validates opts, creates the artifact storage, binds the artifact
// server's listener (so that Operator.StorageAddr is known before Start)
// and builds the manager with every reconciler. The extra functions may
// adjust the manager.Options, as with runtime/options NewManager.
//
// The listener is closed when Start returns; call Start (possibly with an
// already cancelled context) to release it.
func New(cfg *rest.Config, opts Options, extra ...func(*manager.Options)) (*Operator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	policy, err := opts.Policy()
	if err != nil {
		return nil, err
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.StorageAddr)
	if err != nil {
		return nil, fmt.Errorf("artifact server: %w", err)
	}
	rln, err := listenReceiver(opts.ReceiverAddr)
	if err != nil {
		ln.Close()
		return nil, err
	}
	op, err := assemble(cfg, opts, policy, scheme, ln, extra)
	if err == nil && rln != nil {
		op.rln = rln
		err = addReceiverServer(op.mgr, rln, policy, scheme)
	}
	if err != nil {
		ln.Close()
		if rln != nil {
			rln.Close()
		}
		return nil, err
	}
	return op, nil
}

func assemble(cfg *rest.Config, opts Options, policy acl.Policy, scheme *runtime.Scheme, ln net.Listener, extra []func(*manager.Options)) (*Operator, error) {
	adv, err := advertisedAddr(opts.StorageAdvAddr, ln.Addr())
	if err != nil {
		return nil, err
	}
	op := &Operator{ln: ln, baseURL: "http://" + adv}
	op.storage, err = storage.New(opts.StoragePath, storage.WithBaseURL(op.baseURL))
	if err != nil {
		return nil, fmt.Errorf("artifact storage: %w", err)
	}
	gitCache, err := gogit.NewCache(filepath.Join(opts.gitCachePath(), "repositories"))
	if err != nil {
		return nil, fmt.Errorf("git cache: %w", err)
	}
	op.mgr, err = opts.Controller.NewManager(cfg, scheme, append([]func(*manager.Options){uncached}, extra...)...)
	if err != nil {
		return nil, err
	}
	rec, err := registerMetrics(ctrlmetrics.Registry, metrics.NewRecorder(metrics.WithScheme(scheme)))
	if err != nil {
		return nil, err
	}

	// The Alerts and Providers the in-process hub routes events by; the
	// Provider reconciler shares the built providers.
	provs := &notification.Providers{Reader: op.mgr.GetClient()}
	alerts := &notification.Alerts{Client: op.mgr.GetClient(), Providers: provs, ACL: policy}
	h, err := addHub(op.mgr, alerts, opts.hubOptions...)
	if err != nil {
		return nil, err
	}
	op.hub = h
	ev, err := newEventRecorder(op.mgr, cfg, scheme, h, opts.EventsAddr)
	if err != nil {
		return nil, err
	}

	var serving atomic.Bool
	srv := server.New(op.storage)
	if err := op.mgr.Add(&artifactServer{srv: srv, ln: ln, serving: &serving}); err != nil {
		return nil, fmt.Errorf("adding the artifact server: %w", err)
	}
	if err := op.mgr.AddReadyzCheck("artifacts", func(*http.Request) error {
		if !serving.Load() {
			return errors.New("the artifact server is not serving (waiting for leadership)")
		}
		if _, err := os.Stat(op.storage.Root()); err != nil {
			return fmt.Errorf("artifact storage: %w", err)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("adding the artifact readiness check: %w", err)
	}

	var fetchOpts []fetch.Option
	if opts.ArtifactHostOverride != "" {
		fetchOpts = append(fetchOpts, fetch.WithHostOverride(opts.ArtifactHostOverride))
	}
	concurrency := opts.Controller.Concurrency
	trustedRoot, err := opts.Source.TrustedRoot()
	if err != nil {
		return nil, err
	}
	retention := opts.Source.Retention()
	// HelmRepositories and HelmCharts share the parsed indexes.
	indexes := source.NewIndexCache()
	// ImageRepositories' scanned tags, read by ImagePolicies.
	tags := image.NewTagStore(0)
	c := op.mgr.GetClient()
	// The Kustomization reconciler builds its impersonating clients from
	// this config: give them the manager's rate limit and user agent.
	applyCfg := rest.CopyConfig(cfg)
	applyCfg.QPS, applyCfg.Burst, applyCfg.UserAgent = opts.Controller.QPS, opts.Controller.Burst, Name
	setups := []struct {
		name  string
		setup func(manager.Manager) error
	}{
		{"gitrepository", (&source.GitRepositoryReconciler{
			Client: c, Storage: op.storage, ACL: policy, Retention: retention, Concurrency: concurrency, Metrics: rec, Events: ev,
			GitCache: gitCache, WorkDir: filepath.Join(opts.gitCachePath(), "exports"),
		}).SetupWithManager},
		{"ocirepository", (&source.OCIRepositoryReconciler{
			Client: c, Storage: op.storage, TrustedRoot: trustedRoot, Retention: retention, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"bucket", (&source.BucketReconciler{
			Client: c, Storage: op.storage, Retention: retention, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"helmrepository", (&source.HelmRepositoryReconciler{
			Client: c, Storage: op.storage, IndexCache: indexes, Retention: retention, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"helmchart", (&source.HelmChartReconciler{
			Client: c, Storage: op.storage, Fetcher: fetch.New(fetchOpts...), IndexCache: indexes, TrustedRoot: trustedRoot,
			Retention: retention, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"kustomization", (&kustomize.KustomizationReconciler{
			Client: c, Config: applyCfg, Fetcher: fetch.New(fetchOpts...), ACL: policy, Concurrency: concurrency, Metrics: rec, Events: ev,
			DefaultServiceAccount: opts.DefaultServiceAccount, DependencyRequeue: opts.RequeueDependency,
			AllowRemoteBases: opts.AllowRemoteBases, BuildCacheBytes: buildCacheBytes(opts.BuildCacheBytes),
		}).SetupWithManager},
		{"helmrelease", (&helm.HelmReleaseReconciler{
			Client: c, APIReader: op.mgr.GetAPIReader(), Config: applyCfg, Fetcher: fetch.New(fetchOpts...), ACL: policy,
			Concurrency: concurrency, Metrics: rec, Events: ev,
			DefaultServiceAccount: opts.DefaultServiceAccount, DependencyRequeue: opts.RequeueDependency,
		}).SetupWithManager},
		{"provider", (&notification.ProviderReconciler{
			Client: c, Providers: provs, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"alert", (&notification.AlertReconciler{
			Client: c, ACL: policy, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"receiver", (&notification.ReceiverReconciler{
			Client: c, Scheme: scheme, ACL: policy, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"imagerepository", (&image.ImageRepositoryReconciler{
			Client: c, Tags: tags, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"imagepolicy", (&image.ImagePolicyReconciler{
			Client: c, Tags: tags, Concurrency: concurrency, Metrics: rec, Events: ev,
		}).SetupWithManager},
		{"imageupdateautomation", (&image.ImageUpdateAutomationReconciler{
			Client: c, Concurrency: concurrency, Metrics: rec, Events: ev,
			GitCache: gitCache, WorkDir: filepath.Join(opts.gitCachePath(), "worktrees"), BatchWindow: opts.ImageUpdateBatchWindow,
		}).SetupWithManager},
	}
	for _, s := range setups {
		if err := s.setup(op.mgr); err != nil {
			return nil, fmt.Errorf("setting up the %s controller: %w", s.name, err)
		}
	}
	return op, nil
}

// uncached makes the manager's client read controller.UncachedObjects
// straight from the API server.
func uncached(o *manager.Options) {
	o.Client.Cache = &client.CacheOptions{DisableFor: controller.UncachedObjects()}
}

// registerMetrics registers rec on reg and returns the Recorder the
// reconcilers must record on: rec, or the Recorder an earlier gitopsd of
// this process registered there (controller-runtime's registry is
// process-wide and the same series cannot be registered twice, so gitopsds
// sharing a process — tests, the in-process demo — share one Recorder).
func registerMetrics(reg prometheus.Registerer, rec *metrics.Recorder) (*metrics.Recorder, error) {
	err := rec.Register(reg)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(*metrics.Recorder); ok {
			return existing, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	return rec, nil
}

// advertisedAddr returns the host:port artifact URLs use: adv when set,
// else the bound address, with an unspecified IP replaced by $POD_IP or
// the host name.
func advertisedAddr(adv string, bound net.Addr) (string, error) {
	if adv != "" {
		return adv, nil
	}
	host, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", fmt.Errorf("artifact server address %s: %w", bound, err)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = os.Getenv(PodIPEnv)
		if host == "" {
			if host, err = os.Hostname(); err != nil {
				return "", fmt.Errorf("deriving --storage-adv-addr: %w", err)
			}
		}
	}
	return net.JoinHostPort(host, port), nil
}

// Manager returns the operator's manager, for adding runnables or checks
// before Start.
func (o *Operator) Manager() manager.Manager { return o.mgr }

// Storage returns the artifact storage the source reconcilers write to.
func (o *Operator) Storage() *storage.Storage { return o.storage }

// StorageAddr returns the address the artifact server is bound to.
func (o *Operator) StorageAddr() net.Addr { return o.ln.Addr() }

// ArtifactBaseURL returns the URL artifact URLs start with, e.g.
// "http://10.0.0.7:9090".
func (o *Operator) ArtifactBaseURL() string { return o.baseURL }

// Start runs the manager — the reconcilers and the artifact server —
// until ctx ends, then shuts down gracefully. It returns nil after a
// shutdown caused by ctx.
func (o *Operator) Start(ctx context.Context) error {
	defer o.ln.Close()
	if o.rln != nil {
		defer o.rln.Close()
	}
	return o.mgr.Start(ctx)
}

// Run builds an Operator from opts and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	op, err := New(cfg, opts)
	if err != nil {
		return err
	}
	return op.Start(ctx)
}

// artifactServer runs the artifact HTTP server as a manager runnable. It
// needs leader election: the storage is the leader's (an emptyDir per pod),
// so only the leader serves it, and only the leader is ready, which keeps
// the artifact Service pointed at the leader.
type artifactServer struct {
	srv     *server.Server
	ln      net.Listener
	serving *atomic.Bool
}

// NeedLeaderElection reports that only the leader serves artifacts.
func (a *artifactServer) NeedLeaderElection() bool { return true }

// Start serves until ctx ends, then shuts down gracefully.
func (a *artifactServer) Start(ctx context.Context) error {
	a.serving.Store(true)
	defer a.serving.Store(false)
	if err := a.srv.Serve(ctx, a.ln); err != nil {
		return fmt.Errorf("artifact server: %w", err)
	}
	return nil
}

// negated is a boolean flag that sets the negation of *p: --no-x sets
// x to false, so the Options field keeps a zero value that is safe.
type negated struct{ p *bool }

func (n negated) String() string {
	if n.p == nil {
		return "true"
	}
	return strconv.FormatBool(!*n.p)
}

func (n negated) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*n.p = !v
	return nil
}

func (n negated) IsBoolFlag() bool { return true }

// buildCacheBytes maps --build-cache-size to the reconciler's field, where
// zero means the default and a negative value disables.
func buildCacheBytes(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}
