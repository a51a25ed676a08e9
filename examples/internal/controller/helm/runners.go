package helm

import (
	"fmt"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/kit/helmutil/release"
	"github.com/gitopskit/kit/ssa"
)

// FieldManager is the field manager of every write Helm's actions and
// drift correction make. Helm keeps it in a process-wide variable, so
// every HelmRelease reconciler of a process uses this one.
const FieldManager = "gitopsd-helm"

// runners keeps one release.Runner per identity — gitopsd itself, or an
// impersonated service account — since a Runner caches discovery and is
// safe for concurrent reconciles of different releases.
type runners struct {
	mu      sync.Mutex
	base    *rest.Config
	schemas *ssa.Schemas
	byUser  map[string]*release.Runner
}

// get returns the Runner acting as user ("" for gitopsd itself),
// making it on first use.
func (rs *runners) get(user string) (*release.Runner, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r, ok := rs.byUser[user]; ok {
		return r, nil
	}
	cfg := rest.CopyConfig(rs.base)
	if user != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	}
	r, err := release.NewRunner(cfg, release.WithFieldManager(FieldManager), release.WithSchemas(rs.schemas))
	if err != nil {
		if user != "" {
			return nil, fmt.Errorf("building the Helm client for %s: %w", user, err)
		}
		return nil, fmt.Errorf("building the Helm client: %w", err)
	}
	if rs.byUser == nil {
		rs.byUser = map[string]*release.Runner{}
	}
	rs.byUser[user] = r
	return r, nil
}

// serviceAccountUser is the user name the API server gives a service
// account.
func serviceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}
