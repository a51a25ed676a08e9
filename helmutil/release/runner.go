package release

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"helm.sh/helm/v4/pkg/kube"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/ssa"
)

// DefaultFieldManager is the field manager of a Runner made without
// WithFieldManager.
const DefaultFieldManager = "helmutil"

// Runner runs the actions of releases on one cluster, as one identity: the
// rest.Config it was made with (impersonating a HelmRelease's
// serviceAccountName, say). It is safe for concurrent use by many
// reconciles, each on its own release; make one per identity and keep it,
// since it caches discovery.
type Runner struct {
	cfg          *rest.Config
	fieldManager string
	concurrency  int
	clock        func() time.Time
	schemas      *ssa.Schemas

	client    client.WithWatch
	ssa       *ssa.Manager
	clientset kubernetes.Interface
	discovery discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
}

// Option configures a Runner.
type Option func(*Runner)

// WithFieldManager sets the field manager of every write: Helm's
// server-side applies, drift correction and CRDs. Helm keeps its field
// manager in a package variable (kube.ManagedFieldsManager), so a process
// has one: the first Runner sets it and a Runner asking for another fails
// with ErrFieldManager. Default DefaultFieldManager.
func WithFieldManager(name string) Option {
	return func(r *Runner) { r.fieldManager = name }
}

// WithConcurrency sets how many objects drift detection, drift correction
// and CRD application handle at once (ssa.WithConcurrency); default 8.
func WithConcurrency(n int) Option {
	return func(r *Runner) { r.concurrency = n }
}

// WithSchemas shares one ssa.Schemas (made with the controller's own
// identity, once per cluster) between Runners, so that drift detection and
// correction decide unchanged objects locally without fetching the
// server's schemas again per Runner. By default each Runner makes its own
// from its rest.Config.
func WithSchemas(s *ssa.Schemas) Option {
	return func(r *Runner) { r.schemas = s }
}

// WithClock sets the clock Plan compares RetryOnFailure intervals with;
// time.Now by default.
func WithClock(now func() time.Time) Option {
	return func(r *Runner) { r.clock = now }
}

// NewRunner returns a Runner acting as cfg. It sends no request.
func NewRunner(cfg *rest.Config, opts ...Option) (*Runner, error) {
	if cfg == nil {
		return nil, errors.New("release: no rest.Config")
	}
	r := &Runner{cfg: rest.CopyConfig(cfg), fieldManager: DefaultFieldManager, concurrency: 8, clock: time.Now}
	for _, o := range opts {
		o(r)
	}
	if r.fieldManager == "" {
		return nil, fmt.Errorf("%w: empty field manager", ErrFieldManager)
	}
	if err := useFieldManager(r.fieldManager); err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(r.cfg)
	if err != nil {
		return nil, fmt.Errorf("release: discovery client: %w", err)
	}
	r.discovery = memory.NewMemCacheClient(dc)
	r.mapper = restmapper.NewDeferredDiscoveryRESTMapper(r.discovery)
	httpClient, err := rest.HTTPClientFor(r.cfg)
	if err != nil {
		return nil, fmt.Errorf("release: http client: %w", err)
	}
	r.client, err = client.NewWithWatch(r.cfg, client.Options{HTTPClient: httpClient})
	if err != nil {
		return nil, fmt.Errorf("release: client: %w", err)
	}
	r.clientset, err = kubernetes.NewForConfigAndClient(r.cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("release: clientset: %w", err)
	}
	// No ownership labels: Helm's annotations say which release owns an
	// object, and labels stamped by drift correction alone would be drift.
	if r.schemas == nil {
		if r.schemas, err = ssa.NewSchemas(r.cfg); err != nil {
			return nil, err
		}
	}
	r.ssa, err = ssa.NewManager(r.client, ssa.Owner{Field: r.fieldManager},
		ssa.WithConcurrency(r.concurrency), ssa.WithWatchClient(r.client), ssa.WithSchemas(r.schemas))
	if err != nil {
		return nil, err
	}
	return r, nil
}

// FieldManager returns the field manager of the Runner's writes.
func (r *Runner) FieldManager() string { return r.fieldManager }

// fieldManagerMu guards kube.ManagedFieldsManager, Helm's package variable,
// which this package sets once per process (see WithFieldManager).
var fieldManagerMu sync.Mutex

func useFieldManager(name string) error {
	fieldManagerMu.Lock()
	defer fieldManagerMu.Unlock()
	switch kube.ManagedFieldsManager {
	case name:
		return nil
	case "":
		kube.ManagedFieldsManager = name
		return nil
	}
	return fmt.Errorf("%w: Helm's field manager is already %q in this process, not %q", ErrFieldManager, kube.ManagedFieldsManager, name)
}

// resetMapping forgets cached discovery, after CRDs were created.
func (r *Runner) resetMapping() {
	r.discovery.Invalidate()
	r.mapper.Reset()
}

// getter is the genericclioptions.RESTClientGetter Helm builds its clients
// from: the Runner's discovery and mapper, and a rest.Config whose
// requests end with the action's context (see actionConfig).
type getter struct {
	cfg       *rest.Config
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
	namespace string
}

func (g *getter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

func (g *getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.discovery, nil
}

func (g *getter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

func (g *getter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return &namespaceConfig{cfg: g.cfg, namespace: g.namespace}
}

// namespaceConfig is a clientcmd.ClientConfig that is only a rest.Config
// and a namespace: Helm reads the default namespace through it.
type namespaceConfig struct {
	cfg       *rest.Config
	namespace string
}

func (c *namespaceConfig) RawConfig() (clientcmdapi.Config, error) { return clientcmdapi.Config{}, nil }
func (c *namespaceConfig) ClientConfig() (*rest.Config, error)     { return rest.CopyConfig(c.cfg), nil }
func (c *namespaceConfig) Namespace() (string, bool, error)        { return c.namespace, true, nil }
func (c *namespaceConfig) ConfigAccess() clientcmd.ConfigAccess {
	return clientcmd.NewDefaultClientConfigLoadingRules()
}
