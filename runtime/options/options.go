package options

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Log levels and formats accepted by Options.
const (
	LogLevelError = "error"
	LogLevelInfo  = "info"
	LogLevelDebug = "debug" // logr V(1)
	LogLevelTrace = "trace" // every V level

	LogFormatJSON = "json"
	LogFormatText = "text"
)

// Options are the settings every controller binary shares. Start from
// DefaultOptions, bind them to flags with BindFlags, check them with
// Validate.
type Options struct {
	// Name is the controller's name: the default leader election ID is
	// derived from it and it is the API client's user agent.
	Name string

	// LeaderElection makes the manager run its controllers only while it
	// holds a Lease, so that several replicas can run with one active.
	LeaderElection bool
	// LeaderElectionID is the Lease's name.
	LeaderElectionID string
	// LeaderElectionNamespace is the Lease's namespace. Empty means the
	// namespace the pod runs in, which only works in a cluster.
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election:
	// how long a lease lasts, how long the leader keeps trying to renew it,
	// and how often candidates try.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// Concurrency is the number of reconciles each controller runs in
	// parallel.
	Concurrency int

	// QPS and Burst limit the requests to the API server (client-side).
	QPS   float32
	Burst int

	// WatchNamespaces restricts the cache to these namespaces. Empty means
	// every namespace.
	WatchNamespaces []string
	// WatchLabelSelector restricts the cache to objects matching it, in
	// the label selector syntax ("shard=a", "!shard"). Empty means all.
	WatchLabelSelector string

	// MetricsAddr is the metrics endpoint's bind address; "0" disables it.
	MetricsAddr string
	// HealthAddr is the /healthz and /readyz endpoint's bind address; "0"
	// disables it.
	HealthAddr string
	// PprofAddr is the bind address of net/http/pprof's profiling
	// endpoints; "0" (the default) disables them. They reveal the
	// process's memory and stacks: bind them to localhost.
	PprofAddr string

	// LogLevel is error, info, debug or trace; LogFormat is json or text.
	LogLevel  string
	LogFormat string
	// LogOutput is where Logger writes. Nil means os.Stderr. It has no
	// flag.
	LogOutput io.Writer
}

// DefaultOptions returns the defaults for a controller called name.
func DefaultOptions(name string) Options {
	return Options{
		Name:             name,
		LeaderElectionID: name + "-leader-election",
		LeaseDuration:    35 * time.Second,
		RenewDeadline:    30 * time.Second,
		RetryPeriod:      5 * time.Second,
		Concurrency:      4,
		QPS:              50,
		Burst:            300,
		MetricsAddr:      ":8080",
		HealthAddr:       ":9440",
		PprofAddr:        "0",
		LogLevel:         LogLevelInfo,
		LogFormat:        LogFormatJSON,
	}
}

// BindFlags defines the flags on fs, with the current values as defaults.
// For spf13/pflag, bind to a flag.FlagSet and add it with AddGoFlagSet.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.LeaderElection, "enable-leader-election", o.LeaderElection,
		"Enable leader election, so that only one of several replicas reconciles at a time.")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID,
		"The name of the Lease used for leader election.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace,
		"The namespace of the leader election Lease (default: the pod's namespace).")
	fs.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", o.LeaseDuration,
		"How long non-leaders wait before trying to take over an unrenewed lease.")
	fs.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", o.RenewDeadline,
		"How long the leader keeps trying to renew its lease before giving up leadership.")
	fs.DurationVar(&o.RetryPeriod, "leader-election-retry-period", o.RetryPeriod,
		"How often leader election candidates retry.")
	fs.IntVar(&o.Concurrency, "concurrent", o.Concurrency,
		"The number of reconciles each controller runs in parallel.")
	fs.Func("kube-api-qps", fmt.Sprintf("The maximum queries per second to the Kubernetes API server (default %v).", o.QPS),
		func(s string) error {
			var v float32
			if _, err := fmt.Sscan(s, &v); err != nil {
				return errors.New("not a number")
			}
			o.QPS = v
			return nil
		})
	fs.IntVar(&o.Burst, "kube-api-burst", o.Burst,
		"The maximum burst of queries to the Kubernetes API server.")
	fs.Var((*stringList)(&o.WatchNamespaces), "watch-namespaces",
		"Comma-separated namespaces to watch (default: all namespaces).")
	fs.StringVar(&o.WatchLabelSelector, "watch-label-selector", o.WatchLabelSelector,
		"Only watch objects matching this label selector, to shard objects across controller instances.")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", o.MetricsAddr,
		`The address the metrics endpoint binds to; "0" disables it.`)
	fs.StringVar(&o.HealthAddr, "health-addr", o.HealthAddr,
		`The address the /healthz and /readyz endpoints bind to; "0" disables them.`)
	fs.StringVar(&o.PprofAddr, "pprof-addr", o.PprofAddr,
		`The address net/http/pprof's profiling endpoints bind to (keep it on localhost: they reveal memory); "0" disables them.`)
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel,
		"The log level: error, info, debug or trace.")
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat,
		"The log format: json or text.")
}

// stringList is a comma-separated flag value.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(s string) error {
	*l = nil
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// Validate checks the options and returns every problem found, each naming
// its flag.
func (o *Options) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("invalid --%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if o.LeaderElection {
		if o.LeaderElectionID == "" {
			bad("leader-election-id", "must be set when leader election is enabled")
		} else if msgs := validation.IsDNS1123Subdomain(o.LeaderElectionID); len(msgs) > 0 {
			bad("leader-election-id", "%s", strings.Join(msgs, "; "))
		}
		if o.LeaderElectionNamespace != "" {
			if msgs := validation.IsDNS1123Label(o.LeaderElectionNamespace); len(msgs) > 0 {
				bad("leader-election-namespace", "%s", strings.Join(msgs, "; "))
			}
		}
		switch {
		case o.RetryPeriod <= 0:
			bad("leader-election-retry-period", "must be positive")
		case o.RenewDeadline <= o.RetryPeriod*12/10:
			// client-go's own rule: renewDeadline > retryPeriod * JitterFactor (1.2).
			bad("leader-election-renew-deadline", "must be longer than 1.2 × the retry period (%s)", o.RetryPeriod)
		case o.LeaseDuration <= o.RenewDeadline:
			bad("leader-election-lease-duration", "must be longer than the renew deadline (%s)", o.RenewDeadline)
		}
	}
	if o.Concurrency < 1 {
		bad("concurrent", "must be at least 1, got %d", o.Concurrency)
	}
	if o.QPS < 0 {
		bad("kube-api-qps", "must not be negative, got %v", o.QPS)
	}
	if o.Burst < 0 || (o.QPS > 0 && o.Burst < 1) {
		bad("kube-api-burst", "must be at least 1 when a QPS is set, got %d", o.Burst)
	}
	for _, ns := range o.WatchNamespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			bad("watch-namespaces", "%q: %s", ns, strings.Join(msgs, "; "))
		}
	}
	if _, err := labels.Parse(o.WatchLabelSelector); err != nil {
		bad("watch-label-selector", "%v", err)
	}
	for flag, addr := range map[string]string{"metrics-addr": o.MetricsAddr, "health-addr": o.HealthAddr, "pprof-addr": o.PprofAddr} {
		if addr == "0" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(flag, `%q is not host:port (or "0" to disable)`, addr)
		}
	}
	if _, err := slogLevel(o.LogLevel); err != nil {
		bad("log-level", "%v", err)
	}
	if o.LogFormat != LogFormatJSON && o.LogFormat != LogFormatText {
		bad("log-format", "%q is not json or text", o.LogFormat)
	}
	return errors.Join(errs...)
}

func slogLevel(level string) (slog.Level, error) {
	switch level {
	case LogLevelError:
		return slog.LevelError, nil
	case LogLevelInfo:
		return slog.LevelInfo, nil
	case LogLevelDebug:
		// logr's V(n) is slog level -n.
		return slog.Level(-1), nil
	case LogLevelTrace:
		return slog.Level(-127), nil
	}
	return 0, fmt.Errorf("%q is not error, info, debug or trace", level)
}

// Logger returns a logr.Logger writing to LogOutput (os.Stderr when nil) in
// LogFormat at LogLevel, built on log/slog. It sets no global logger: pass it
// to ctrl.SetLogger in main if controller-runtime's own packages should use it.
func (o *Options) Logger() (logr.Logger, error) {
	level, err := slogLevel(o.LogLevel)
	if err != nil {
		return logr.Discard(), fmt.Errorf("invalid --log-level: %w", err)
	}
	w := o.LogOutput
	if w == nil {
		w = os.Stderr
	}
	ho := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch o.LogFormat {
	case LogFormatJSON:
		h = slog.NewJSONHandler(w, ho)
	case LogFormatText:
		h = slog.NewTextHandler(w, ho)
	default:
		return logr.Discard(), fmt.Errorf("invalid --log-format: %q is not json or text", o.LogFormat)
	}
	return logr.FromSlogHandler(h), nil
}

// ManagerOptions returns the manager.Options the options describe: the cache
// restricted to WatchNamespaces and WatchLabelSelector, leader election
// (releasing the lease on a clean shutdown, for a fast hand-over), the
// metrics and health endpoints, the controllers' concurrency, and Logger.
func (o *Options) ManagerOptions(scheme *runtime.Scheme) (manager.Options, error) {
	if err := o.Validate(); err != nil {
		return manager.Options{}, err
	}
	log, err := o.Logger()
	if err != nil {
		return manager.Options{}, err
	}
	lease, renew, retry := o.LeaseDuration, o.RenewDeadline, o.RetryPeriod
	mo := manager.Options{
		Scheme:                        scheme,
		Logger:                        log,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:        o.HealthAddr,
		PprofBindAddress:              o.PprofAddr,
		Controller:                    config.Controller{MaxConcurrentReconciles: o.Concurrency},
	}
	if len(o.WatchNamespaces) > 0 {
		mo.Cache.DefaultNamespaces = make(map[string]cache.Config, len(o.WatchNamespaces))
		for _, ns := range o.WatchNamespaces {
			mo.Cache.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	if o.WatchLabelSelector != "" {
		sel, _ := labels.Parse(o.WatchLabelSelector) // validated above
		mo.Cache.DefaultLabelSelector = sel
	}
	return mo, nil
}

// NewManager validates the options and builds a controller-runtime manager
// from ManagerOptions, with cfg's rate limit and user agent set from QPS,
// Burst and Name (cfg itself is not modified). The extra functions may adjust
// the manager.Options before the manager is built. The manager gets a
// /healthz check that always passes while the process serves, and a /readyz
// check that passes once the informer caches have synced.
func (o *Options) NewManager(cfg *rest.Config, scheme *runtime.Scheme, extra ...func(*manager.Options)) (manager.Manager, error) {
	mo, err := o.ManagerOptions(scheme)
	if err != nil {
		return nil, err
	}
	for _, f := range extra {
		f(&mo)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = o.QPS, o.Burst
	if o.Name != "" {
		cfg.UserAgent = o.Name
	}
	mgr, err := manager.New(cfg, mo)
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("informers", cacheSynced(mgr.GetCache())); err != nil {
		return nil, fmt.Errorf("adding readiness check: %w", err)
	}
	return mgr, nil
}

// cacheSynced is a readiness check passing once the cache has started and
// its informers have synced; each probe waits at most a second.
func cacheSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("informer caches have not synced")
		}
		return nil
	}
}
