package acl

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type mode int

const (
	denyCross mode = iota
	allowAll
	allowSelected
)

// Policy is a cross-namespace reference policy. The zero Policy denies
// cross-namespace references. Policies are immutable and safe for concurrent
// use.
type Policy struct {
	mode     mode
	selector labels.Selector
}

// AllowAll returns a Policy allowing every reference.
func AllowAll() Policy { return Policy{mode: allowAll} }

// DenyCrossNamespace returns a Policy allowing references within a namespace
// only. It is the zero Policy.
func DenyCrossNamespace() Policy { return Policy{mode: denyCross} }

// AllowNamespaceSelector returns a Policy allowing a cross-namespace
// reference when the labels of the referrer's namespace match sel. A nil
// selector matches nothing; labels.Everything() matches every namespace
// (and so behaves as AllowAll, with a Namespace read per check).
func AllowNamespaceSelector(sel labels.Selector) Policy {
	if sel == nil {
		sel = labels.Nothing()
	}
	return Policy{mode: allowSelected, selector: sel}
}

// String describes the policy, for logs and flags' help.
func (p Policy) String() string {
	switch p.mode {
	case allowAll:
		return "allow all"
	case allowSelected:
		return fmt.Sprintf("allow namespaces matching %q", p.selector.String())
	default:
		return "deny cross-namespace"
	}
}

// ErrAccessDenied is matched by every *AccessDeniedError with errors.Is.
var ErrAccessDenied = errors.New("cross-namespace reference denied")

// AccessDeniedError reports a reference the Policy does not allow.
type AccessDeniedError struct {
	// From is the referrer's namespace, To the referenced object's.
	From, To string
	// Reason says which rule denied it.
	Reason string
}

// Error returns a message naming both namespaces and the rule.
func (e *AccessDeniedError) Error() string {
	return fmt.Sprintf("reference from namespace '%s' to namespace '%s' denied: %s", e.From, e.To, e.Reason)
}

// Is reports whether target is ErrAccessDenied.
func (e *AccessDeniedError) Is(target error) bool { return target == ErrAccessDenied }

// Check returns nil when an object in namespace from may reference an object
// in namespace to, and an *AccessDeniedError when the policy denies it.
// References within one namespace are always allowed, and an empty to means
// the referrer's namespace (the usual default of a reference's namespace
// field).
//
// A selector Policy reads the referrer's Namespace through r (a cached
// client needs a Namespace informer, and the controller RBAC to get
// namespaces). A failed read is returned wrapped, not as a denial, so that
// the caller retries.
func (p Policy) Check(ctx context.Context, r client.Reader, from, to string) error {
	if to == "" || to == from {
		return nil
	}
	switch p.mode {
	case allowAll:
		return nil
	case allowSelected:
		var ns corev1.Namespace
		if err := r.Get(ctx, client.ObjectKey{Name: from}, &ns); err != nil {
			return fmt.Errorf("reading namespace '%s' to check a cross-namespace reference: %w", from, err)
		}
		if p.selector.Matches(labels.Set(ns.Labels)) {
			return nil
		}
		return &AccessDeniedError{From: from, To: to,
			Reason: fmt.Sprintf("the labels of namespace '%s' do not match %q", from, p.selector.String())}
	default:
		return &AccessDeniedError{From: from, To: to, Reason: "cross-namespace references are not allowed"}
	}
}
