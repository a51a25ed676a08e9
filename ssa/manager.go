package ssa

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Annotations and labels the Manager reads. The policy annotations are set by
// the author of a manifest; DependsOnAnnotation is the cli-utils annotation.
const (
	// ApplyPolicyAnnotation selects how an object is applied:
	//   - "Ignore": the object is neither applied nor pruned (action Skipped);
	//   - "IfNotPresent": the object is created when absent and otherwise left
	//     alone (action Skipped when it exists);
	//   - "Merge": the object is applied without force, leaving out the fields
	//     that other field managers own, so their values are kept.
	// Any other value is an error naming the object.
	ApplyPolicyAnnotation = "ssa.gitopskit.dev/apply"
	// RecreateAnnotation set to "enabled" allows the Manager to delete and
	// re-create this object when an update changes an immutable field, even
	// when ApplyOptions.Recreate is false.
	RecreateAnnotation = "ssa.gitopskit.dev/recreate"
	// PruneAnnotation set to "disabled" keeps an object on the cluster when
	// it leaves the set (Prune reports it Skipped).
	PruneAnnotation = "ssa.gitopskit.dev/prune"
	// DependsOnAnnotation lists the objects that must be applied before this
	// one, in the cli-utils format (see ParseDependsOn).
	DependsOnAnnotation = "config.kubernetes.io/depends-on"
	// LastAppliedAnnotation is kubectl client-side apply's annotation; it is
	// removed when the Manager takes over kubectl's fields.
	LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
)

// Values of ApplyPolicyAnnotation, RecreateAnnotation and PruneAnnotation.
const (
	PolicyIgnore       = "Ignore"
	PolicyIfNotPresent = "IfNotPresent"
	PolicyMerge        = "Merge"
	Enabled            = "enabled"
	Disabled           = "disabled"
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrInvalidID reports a malformed object reference or inventory ID.
	ErrInvalidID = errors.New("invalid object id")
	// ErrInvalidObject reports an object the Manager refuses before any
	// request: no kind or name, a namespace on a cluster-scoped object,
	// an unknown kind, a duplicate, a bad policy annotation.
	ErrInvalidObject = errors.New("invalid object")
	// ErrDependency reports an unknown dependency or a dependency cycle.
	ErrDependency = errors.New("invalid dependency")
	// ErrTimeout reports that Wait gave up before every object was Current.
	ErrTimeout = errors.New("timed out waiting for objects")
	// ErrFailed reports that Wait saw an object Failed.
	ErrFailed = errors.New("object failed")
)

// Owner identifies who applies a set of objects.
type Owner struct {
	// Field is the field-manager name used for every apply. Required.
	Field string
	// Group is the prefix of the ownership labels <Group>/name and
	// <Group>/namespace, for example "kustomize.gitopskit.dev". With a
	// Group, Apply stamps these labels on every object and Prune refuses to
	// delete objects whose labels name another owner. A Group needs a Name
	// (the labels would name no owner): NewManager refuses a Group without
	// one, and a Group, Name or Namespace that cannot be a label. Without a
	// Group no label is stamped, whatever Name says.
	Group string
	// Name and Namespace identify the owning object (a Kustomization, say);
	// they are the values of the ownership labels. Namespace may be empty
	// for a cluster-scoped owner.
	Name      string
	Namespace string
}

func (o Owner) labels() map[string]string {
	if o.Group == "" || o.Name == "" {
		return nil
	}
	return map[string]string{o.Group + "/name": o.Name, o.Group + "/namespace": o.Namespace}
}

// TakeoverManager names a field manager whose fields the Manager takes over.
// An empty Operation matches every operation.
type TakeoverManager struct {
	Name      string
	Operation string // "Update", "Apply" or empty for both
}

// DefaultTakeoverManagers are the field managers of kubectl's client-side
// tools, whose fields a GitOps owner takes over by default.
func DefaultTakeoverManagers() []TakeoverManager {
	return []TakeoverManager{
		{Name: "kubectl", Operation: "Update"},
		{Name: "kubectl-client-side-apply"},
		{Name: "before-first-apply"},
		{Name: "kubectl-edit"},
		{Name: "kubectl-patch"},
		{Name: "kubectl-create"},
		{Name: "kubectl-replace"},
	}
}

// Manager applies, diffs, waits for and prunes sets of objects with
// server-side apply. It is safe for concurrent use.
type Manager struct {
	client      client.Client
	mapper      meta.RESTMapper
	owner       Owner
	concurrency int
	takeover    []TakeoverManager
	watcher     client.WithWatch
	schemas     *Schemas
}

// Option configures a Manager.
type Option func(*Manager)

// WithConcurrency sets how many objects are dry-run, applied, diffed or
// deleted at the same time. The default is 8; values below 1 mean 1.
func WithConcurrency(n int) Option {
	return func(m *Manager) {
		if n < 1 {
			n = 1
		}
		m.concurrency = n
	}
}

// WithTakeoverManagers replaces the list of field managers whose fields move
// to the owner (DefaultTakeoverManagers). An empty list turns takeover off.
func WithTakeoverManagers(managers ...TakeoverManager) Option {
	return func(m *Manager) { m.takeover = append([]TakeoverManager(nil), managers...) }
}

// WithWatchClient sets the client Wait uses to list and watch, for a
// Manager whose main client cannot watch (a controller-runtime cached client,
// say). By default the main client is used when it implements
// client.WithWatch.
func WithWatchClient(w client.WithWatch) Option {
	return func(m *Manager) { m.watcher = w }
}

// WithSchemas lets the Manager decide locally, without a request, that an
// object is unchanged (see the package documentation, "The local
// decision"). One Schemas is meant to be shared by every Manager of a
// process: a Manager created per reconcile then finds the schemas already
// fetched. It must read the API server the Manager's client talks to.
// Without it, every existing object is dry-run on the API server.
//
// The local decision also needs the Manager's identity to list the kinds
// of a set (it reads objects one by one where it may not), and the
// Schemas' identity to list MutatingWebhookConfigurations and
// MutatingAdmissionPolicies (without that, every object is dry-run).
func WithSchemas(s *Schemas) Option {
	return func(m *Manager) { m.schemas = s }
}

// NewManager returns a Manager that talks to the cluster through c and maps
// kinds with c.RESTMapper(). c should read from the API server, not from a
// cache: the Manager lists and reads live objects with it and must see every
// write that completed before a call (a cached client's informers may lag,
// and would be started for every kind the Manager lists). Wait and
// the waits inside Apply and Prune need a client that implements
// client.WithWatch (client.NewWithWatch returns one): c itself, or the one
// given WithWatchClient.
func NewManager(c client.Client, owner Owner, opts ...Option) (*Manager, error) {
	if c == nil {
		return nil, errors.New("ssa: nil client")
	}
	if strings.TrimSpace(owner.Field) == "" {
		return nil, errors.New("ssa: owner field manager is empty")
	}
	if owner.Group != "" {
		if owner.Name == "" {
			return nil, fmt.Errorf("ssa: owner group %q set without an owner name", owner.Group)
		}
		// The labels would be refused on every object: say so once.
		if errs := validation.IsDNS1123Subdomain(owner.Group); len(errs) > 0 {
			return nil, fmt.Errorf("ssa: owner group %q is not a label prefix: %s", truncate(owner.Group), strings.Join(errs, "; "))
		}
		for _, v := range []string{owner.Name, owner.Namespace} {
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				return nil, fmt.Errorf("ssa: owner %q is not a label value: %s", truncate(v), strings.Join(errs, "; "))
			}
		}
	}
	m := &Manager{
		client:      c,
		mapper:      c.RESTMapper(),
		owner:       owner,
		concurrency: 8,
		takeover:    DefaultTakeoverManagers(),
	}
	if m.mapper == nil {
		return nil, errors.New("ssa: client has no RESTMapper")
	}
	for _, o := range opts {
		o(m)
	}
	if m.watcher == nil {
		m.watcher, _ = c.(client.WithWatch)
	}
	return m, nil
}

// Owner returns the Manager's owner.
func (m *Manager) Owner() Owner { return m.owner }
