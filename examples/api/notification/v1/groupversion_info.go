package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of this package.
var GroupVersion = schema.GroupVersion{Group: "notification.gitopskit.dev", Version: "v1"}

// AddToScheme registers this package's types with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&Provider{}, &ProviderList{},
		&Alert{}, &AlertList{},
		&Receiver{}, &ReceiverList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
