package v1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact"
)

// Source is what every source kind offers its consumers.
// +kubebuilder:object:generate=false
type Source interface {
	client.Object
	// GetArtifact returns the latest artifact, or nil when there is none
	// yet.
	GetArtifact() *artifact.Artifact
}

// DefaultTimeout bounds one fetch when spec.timeout is not set.
const DefaultTimeout = 60 * time.Second

// Kinds of this group, as sourceRef.kind names them.
const (
	GitRepositoryKind = "GitRepository"
	OCIRepositoryKind = "OCIRepository"
)

func timeoutOr(d *metav1.Duration) time.Duration {
	if d == nil || d.Duration <= 0 {
		return DefaultTimeout
	}
	return d.Duration
}

// OCIProviderGeneric is the only spec.provider of an OCIRepository:
// credentials from spec.secretRef and spec.serviceAccountName.
const OCIProviderGeneric = "generic"
