package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of this package.
var GroupVersion = schema.GroupVersion{Group: "image.gitopskit.dev", Version: "v1"}

// Kinds of this group.
const (
	ImageRepositoryKind       = "ImageRepository"
	ImagePolicyKind           = "ImagePolicy"
	ImageUpdateAutomationKind = "ImageUpdateAutomation"
)

// DefaultTimeout bounds one scan or one automation run when spec.timeout
// is not set.
const DefaultTimeout = time.Minute

// AddToScheme registers this package's types with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&ImageRepository{}, &ImageRepositoryList{},
		&ImagePolicy{}, &ImagePolicyList{},
		&ImageUpdateAutomation{}, &ImageUpdateAutomationList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

func timeoutOr(d *metav1.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return DefaultTimeout
	}
	return d.Duration
}
