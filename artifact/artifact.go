package artifact

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Artifact is the output of a source: a file served over HTTP, identified by
// its revision and digest. The JSON shape is Flux's, so it can be embedded in
// a CRD status and read by Flux tooling.
type Artifact struct {
	// Path is the path of the file relative to the storage root,
	// "<kind>/<namespace>/<name>/<file>".
	// +required
	Path string `json:"path"`

	// URL is the HTTP address the artifact is served at.
	// +required
	URL string `json:"url"`

	// Revision is the source revision the artifact was built from,
	// "<named-pointer>@<algorithm>:<hex>" or "<algorithm>:<hex>".
	// +required
	Revision string `json:"revision"`

	// Digest is the digest of the file, "<algorithm>:<hex>".
	// +optional
	// +kubebuilder:validation:Pattern="^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"
	Digest Digest `json:"digest,omitempty"`

	// LastUpdateTime is when the artifact was last written.
	// +required
	LastUpdateTime metav1.Time `json:"lastUpdateTime"`

	// Size is the size of the file in bytes.
	// +optional
	Size *int64 `json:"size,omitempty"`

	// Metadata holds upstream information such as OCI annotations.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
}

// HasRevision reports whether the artifact was built from revision, with
// legacy forms normalised (see [RevisionsEqual]). A nil artifact has no
// revision.
func (in *Artifact) HasRevision(revision string) bool {
	if in == nil {
		return false
	}
	return RevisionsEqual(in.Revision, revision)
}

// HasDigest reports whether the artifact's digest is d. A nil artifact or an
// empty digest never matches.
func (in *Artifact) HasDigest(d Digest) bool {
	if in == nil || d == "" {
		return false
	}
	return in.Digest == d
}

// DeepCopyInto copies the receiver into out. in must be non-nil.
func (in *Artifact) DeepCopyInto(out *Artifact) {
	*out = *in
	in.LastUpdateTime.DeepCopyInto(&out.LastUpdateTime)
	if in.Size != nil {
		in, out := &in.Size, &out.Size
		*out = new(int64)
		**out = **in
	}
	if in.Metadata != nil {
		in, out := &in.Metadata, &out.Metadata
		*out = make(map[string]string, len(*in))
		for key, val := range *in {
			(*out)[key] = val
		}
	}
}

// DeepCopy returns a deep copy of the receiver, or nil if it is nil.
func (in *Artifact) DeepCopy() *Artifact {
	if in == nil {
		return nil
	}
	out := new(Artifact)
	in.DeepCopyInto(out)
	return out
}
