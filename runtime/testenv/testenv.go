package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// KubernetesVersion is the Kubernetes release whose binaries Start looks for in
// the cache folder. It matches the version `make controlplane` builds.
const KubernetesVersion = "v1.37.2"

// ErrBinariesNotFound is returned by Start when kube-apiserver or etcd cannot
// be found. The error text says where Start looked and how to build them.
var ErrBinariesNotFound = errors.New("control-plane binaries not found")

// Environment is a running kube-apiserver and etcd. One Environment serves a
// whole test binary; its methods are safe for concurrent use by parallel tests.
type Environment struct {
	env    *envtest.Environment
	cfg    *rest.Config
	scheme *runtime.Scheme
	client client.WithWatch
	binDir string
	// certDir holds the API server's certificates; it is the
	// Environment's own so that a restarted API server keeps them.
	certDir string
	// restartMu serialises RestartAPIServer.
	restartMu sync.Mutex
}

// Option configures Start.
type Option func(*options)

type options struct {
	scheme       *runtime.Scheme
	crdPaths     []string
	crds         []*apiextensionsv1.CustomResourceDefinition
	binDir       string
	startTimeout time.Duration
	apiArgs      map[string][]string
	logger       *logr.Logger
}

// WithLogger sets the logger Main installs as controller-runtime's
// process-wide logger (default: one that discards). Start ignores it.
func WithLogger(l logr.Logger) Option {
	return func(o *options) { o.logger = &l }
}

// WithScheme sets the scheme of the Environment's clients. It must know every
// typed object the tests use; client-go's built-in types and apiextensions/v1
// are added to it. The default is a new scheme with just those.
func WithScheme(s *runtime.Scheme) Option {
	return func(o *options) { o.scheme = s }
}

// WithCRDPaths installs, at start, the CustomResourceDefinitions found in the
// given YAML or JSON files and folders (not recursive). A missing path is an
// error.
func WithCRDPaths(paths ...string) Option {
	return func(o *options) { o.crdPaths = append(o.crdPaths, paths...) }
}

// WithCRDs installs the given CustomResourceDefinitions at start.
func WithCRDs(crds ...*apiextensionsv1.CustomResourceDefinition) Option {
	return func(o *options) { o.crds = append(o.crds, crds...) }
}

// WithBinaryDir sets the folder holding kube-apiserver and etcd, overriding
// KUBEBUILDER_ASSETS and the cache folder.
func WithBinaryDir(dir string) Option {
	return func(o *options) { o.binDir = dir }
}

// WithStartTimeout bounds how long each control-plane process may take to
// start. The default is 60 seconds, generous for a loaded 2-core machine.
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// WithAPIServerArg sets a kube-apiserver flag (name without the leading
// dashes), for example WithAPIServerArg("feature-gates", "MyGate=true").
func WithAPIServerArg(name string, values ...string) Option {
	return func(o *options) {
		if o.apiArgs == nil {
			o.apiArgs = map[string][]string{}
		}
		o.apiArgs[name] = values
	}
}

// Start starts a kube-apiserver and etcd and returns the Environment once the
// API server serves requests and the requested CRDs are Established. Stop it
// with Stop.
//
// The binaries are looked up in this order: WithBinaryDir, the
// KUBEBUILDER_ASSETS environment variable, then the cache folder
// ${XDG_CACHE_HOME:-$HOME/.cache}/gitopskit/controlplane/<KubernetesVersion>
// that `make controlplane` fills.
func Start(opts ...Option) (*Environment, error) {
	o := options{startTimeout: 60 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}

	binDir, err := findBinaries(o.binDir)
	if err != nil {
		return nil, err
	}

	sch := o.scheme
	if sch == nil {
		sch = runtime.NewScheme()
	}
	utilruntime.Must(clientgoscheme.AddToScheme(sch))
	utilruntime.Must(apiextensionsv1.AddToScheme(sch))

	env := &envtest.Environment{
		Scheme:                   sch,
		BinaryAssetsDirectory:    binDir,
		CRDDirectoryPaths:        o.crdPaths,
		CRDs:                     o.crds,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: o.startTimeout,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// Both paths are set explicitly so that envtest's own lookup
	// (TEST_ASSET_* variables) cannot pair binaries of different releases.
	apiServer := env.ControlPlane.GetAPIServer()
	apiServer.Path = filepath.Join(binDir, "kube-apiserver")
	// A folder of ours rather than envtest's: envtest forgets its own on
	// Stop, and a restarted API server would serve new certificates that
	// no existing kubeconfig trusts.
	certDir, err := os.MkdirTemp("", "testenv-apiserver-")
	if err != nil {
		return nil, fmt.Errorf("creating the API server's certificate folder: %w", err)
	}
	apiServer.CertDir = certDir
	args := apiServer.Configure()
	for name, values := range o.apiArgs {
		args.Set(name, values...)
	}
	env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(binDir, "etcd")}

	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		os.RemoveAll(certDir)
		return nil, fmt.Errorf("starting control plane from %s: %w", binDir, err)
	}
	cfg = rest.CopyConfig(cfg)
	// Tests hammer one local API server; client-side throttling would only
	// make them slow and flaky. A negative QPS disables client-go's limiter.
	cfg.QPS = -1
	cfg.Burst = 0

	c, err := client.NewWithWatch(cfg, client.Options{Scheme: sch})
	if err != nil {
		_ = env.Stop()
		os.RemoveAll(certDir)
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return &Environment{env: env, cfg: cfg, scheme: sch, client: c, binDir: binDir, certDir: certDir}, nil
}

// RestartAPIServer stops the kube-apiserver and starts it again on the
// same address, certificates and etcd, and returns once it serves requests
// (within the start timeout, WithStartTimeout). It is sent SIGTERM and,
// if it has not exited after 30s (an open watch holds a graceful
// shutdown), SIGKILL. Stored objects, Config, KubeConfig and Client stay
// valid; requests in flight fail and watches end, as when an API server
// restarts, so that a test can check that a controller reconnects. It is
// meant for an Environment of the test's own: parallel tests sharing one
// see the outage too.
func (e *Environment) RestartAPIServer() error {
	e.restartMu.Lock()
	defer e.restartMu.Unlock()
	s := e.env.ControlPlane.GetAPIServer()
	stopErr := s.Stop()
	// Stop kills the process when SIGTERM was not enough, and then reports
	// a timeout without waiting for it: wait until its port is free.
	addr := net.JoinHostPort(s.SecureServing.Address, s.SecureServing.Port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("stopping the API server: still serving on %s: %v", addr, stopErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("starting the API server again: %w", err)
	}
	return nil
}

// Stop stops the API server and etcd and removes etcd's data.
func (e *Environment) Stop() error {
	if e == nil || e.env == nil {
		return nil
	}
	err := e.env.Stop()
	if e.certDir != "" {
		os.RemoveAll(e.certDir)
	}
	return err
}

// Config returns a copy of the admin rest.Config (member of system:masters),
// with client-side throttling off.
func (e *Environment) Config() *rest.Config { return rest.CopyConfig(e.cfg) }

// Client returns an uncached admin client that can also watch. It is shared
// and safe for concurrent use.
func (e *Environment) Client() client.WithWatch { return e.client }

// Scheme returns the scheme of the Environment's clients.
func (e *Environment) Scheme() *runtime.Scheme { return e.scheme }

// KubeConfig returns a kubeconfig file's contents for the admin user, for
// tools that take a kubeconfig (kubectl, helm).
func (e *Environment) KubeConfig() []byte { return append([]byte(nil), e.env.KubeConfig...) }

// BinaryDir returns the folder the control-plane binaries were started from.
func (e *Environment) BinaryDir() string { return e.binDir }

func findBinaries(explicit string) (string, error) {
	var tried []string
	candidates := []string{}
	if explicit != "" {
		candidates = append(candidates, explicit)
	} else {
		if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
			candidates = append(candidates, dir)
		}
		if dir, err := DefaultBinaryDir(); err == nil {
			candidates = append(candidates, dir)
		}
	}
	for _, dir := range candidates {
		missing := ""
		for _, bin := range []string{"kube-apiserver", "etcd"} {
			if fi, err := os.Stat(filepath.Join(dir, bin)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				missing = bin
				break
			}
		}
		if missing == "" {
			return dir, nil
		}
		tried = append(tried, fmt.Sprintf("%s (no %s)", dir, missing))
	}
	return "", fmt.Errorf("%w: looked in %v; run `make controlplane` in the gitopskit repository "+
		"to build kube-apiserver and etcd %s from source, or point KUBEBUILDER_ASSETS at a folder holding them",
		ErrBinariesNotFound, tried, KubernetesVersion)
}

// DefaultBinaryDir returns the cache folder `make controlplane` builds into:
// ${XDG_CACHE_HOME:-$HOME/.cache}/gitopskit/controlplane/<KubernetesVersion>.
func DefaultBinaryDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache folder: %w", err)
	}
	return filepath.Join(cache, "gitopskit", "controlplane", KubernetesVersion), nil
}

// waitTimeout bounds the waits of the helpers (CRDs Established, discovery).
const waitTimeout = 30 * time.Second

func withWaitTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, waitTimeout)
}
