package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/action"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	rel "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/gitopskit/kit/helmutil/internal/mask"
)

// Helm's release statuses, as Snapshot.Status holds them.
const (
	statusDeployed        = string(rcommon.StatusDeployed)
	statusFailed          = string(rcommon.StatusFailed)
	statusSuperseded      = string(rcommon.StatusSuperseded)
	statusUninstalled     = string(rcommon.StatusUninstalled)
	statusUninstalling    = string(rcommon.StatusUninstalling)
	statusPendingInstall  = string(rcommon.StatusPendingInstall)
	statusPendingUpgrade  = string(rcommon.StatusPendingUpgrade)
	statusPendingRollback = string(rcommon.StatusPendingRollback)
	hookSucceeded         = string(rel.HookPhaseSucceeded)
	hookFailed            = string(rel.HookPhaseFailed)
)

var (
	gkPod = schema.GroupKind{Kind: "Pod"}
	gkJob = schema.GroupKind{Group: "batch", Kind: "Job"}
	gkCRD = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
)

// ConfigDigestLabel is the label helmutil puts on each release record it
// makes: the ConfigDigest of the request, so that a later Step knows, from
// the record alone, whether the release is what is desired.
const ConfigDigestLabel = "helmutil.gitopskit.dev/config-digest"

// validateName applies Helm's rule for release names.
func validateName(name string) error {
	if len(name) > 53 {
		return fmt.Errorf("%w: %q is %d characters, more than 53", ErrInvalidName, name, len(name))
	}
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return fmt.Errorf("%w: %q must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit", ErrInvalidName, name)
	}
	return nil
}

// env is what one action runs with.
type env struct {
	cfg     *action.Configuration
	kube    *kubeClient
	store   *storage.Storage
	mask    *mask.Masker
	reached *atomic.Bool // Helm asked for capabilities: preparation reached rendering
	built   *atomic.Bool // Helm built the rendered manifest: rendering succeeded
}

// capsGetter is the Configuration's RESTClientGetter. Helm asks it for
// discovery right before rendering and for a rest.Config (for the template
// function lookup) when rendering starts, which is how a failure is known
// to be a render failure.
type capsGetter struct {
	*getter
	reached *atomic.Bool
}

func (g *capsGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.reached.Store(true)
	return g.getter.ToDiscoveryClient()
}

// newEnv prepares an action on ref. ctx bounds every request the action
// sends to the cluster, except the release records' own writes, which go
// through the Runner's client so that Helm can still mark a cancelled
// action's release failed.
func (r *Runner) newEnv(ctx context.Context, ref Ref, spec Spec, sensitive []string) *env {
	m := mask.New(sensitive...)
	log := m.Handler(logr.ToSlogHandler(logr.FromContextOrDiscard(ctx)))
	e := &env{mask: m, reached: &atomic.Bool{}}
	e.kube = r.newKubeClient(ctx, ref.Namespace, spec.HealthRules, log)
	e.built = e.kube.built
	e.store = r.storage(ref, spec.maxHistory(), log)
	e.cfg = action.NewConfiguration(action.ConfigurationSetLogger(log))
	e.cfg.RESTClientGetter = &capsGetter{getter: e.kube.getter, reached: e.reached}
	e.cfg.KubeClient = e.kube
	e.cfg.Releases = e.store
	e.cfg.HookOutputFunc = func(_, _, _ string) io.Writer { return io.Discard }
	return e
}

// storage returns the release records of ref's storage namespace, read and
// written with the Runner's own client (never cut short by an action's
// context). maxHistory 0 keeps every record.
func (r *Runner) storage(ref Ref, maxHistory int, log slog.Handler) *storage.Storage {
	d := driver.NewSecrets(r.clientset.CoreV1().Secrets(ref.storageNamespace()))
	if log == nil {
		log = slog.DiscardHandler
	}
	d.SetLogger(log)
	s := storage.Init(d)
	s.MaxHistory = maxHistory
	return s
}

// history reads the release's records, oldest first.
func history(store *storage.Storage, name string) ([]*rel.Release, error) {
	list, err := store.History(name)
	if err != nil {
		if errors.Is(err, driver.ErrReleaseNotFound) {
			return nil, nil
		}
		return nil, err
	}
	out := make([]*rel.Release, 0, len(list))
	for _, r := range list {
		if v, err := asRelease(r); err == nil {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *rel.Release) int { return a.Version - b.Version })
	return out, nil
}

func asRelease(r ri.Releaser) (*rel.Release, error) {
	switch v := r.(type) {
	case *rel.Release:
		return v, nil
	case rel.Release:
		return &v, nil
	}
	return nil, fmt.Errorf("release record of unknown type %T", r)
}

// snapshot describes a release record.
func snapshot(r *rel.Release) *Snapshot {
	if r == nil {
		return nil
	}
	s := &Snapshot{Name: r.Name, Namespace: r.Namespace, Version: r.Version, ConfigDigest: r.Labels[ConfigDigestLabel]}
	if r.Info != nil {
		s.Status = string(r.Info.Status)
		s.FirstDeployed = metav1.NewTime(r.Info.FirstDeployed)
		s.LastDeployed = metav1.NewTime(r.Info.LastDeployed)
		if !r.Info.Deleted.IsZero() {
			t := metav1.NewTime(r.Info.Deleted)
			s.Deleted = &t
		}
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		s.ChartName, s.ChartVersion, s.AppVersion = r.Chart.Metadata.Name, r.Chart.Metadata.Version, r.Chart.Metadata.AppVersion
	}
	for _, h := range r.Hooks {
		if !slices.Contains(h.Events, rel.HookTest) {
			continue
		}
		if s.TestHooks == nil {
			s.TestHooks = map[string]TestHook{}
		}
		th := TestHook{}
		// A run counts for this revision only if it started after the
		// revision was deployed: a rollback copies the hooks, and their
		// runs, of the revision it restores.
		run := h.LastRun
		if !run.StartedAt.IsZero() && (r.Info == nil || !run.StartedAt.Before(r.Info.LastDeployed)) {
			th.Phase = string(run.Phase)
			started := metav1.NewTime(run.StartedAt)
			th.LastStarted = &started
			if !run.CompletedAt.IsZero() {
				completed := metav1.NewTime(run.CompletedAt)
				th.LastCompleted = &completed
			}
		}
		s.TestHooks[h.Name] = th
	}
	return s
}

// rollbackTarget is the newest deployed or superseded revision older than
// the newest one.
func rollbackTarget(hist []*rel.Release) int {
	for i := len(hist) - 2; i >= 0; i-- {
		if st := hist[i].Info.Status; st == rcommon.StatusDeployed || st == rcommon.StatusSuperseded {
			return hist[i].Version
		}
	}
	return 0
}

func waitStrategy(disable bool) kube.WaitStrategy {
	if disable {
		return kube.HookOnlyStrategy
	}
	return kube.StatusWatcherStrategy
}
