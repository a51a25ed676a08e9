package source

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/kit/artifact"
	"github.com/gitopskit/kit/artifact/storage"
	"github.com/gitopskit/kit/examples/api/meta"
	"github.com/gitopskit/kit/runtime/conditions"
)

// Finalizer is the finalizer both source reconcilers put on their objects, so
// that an object's artifacts are removed from storage before it goes.
const Finalizer = "source.gitopskit.dev/finalizer"

// Storage kinds: the first element of an artifact's path.
const (
	gitStorageKind = "gitrepository"
	ociStorageKind = "ocirepository"
)

// Condition reasons of the source reconcilers, besides runtime/conditions'.
const (
	// reasonAuthFailed: the credentials could not be read or were refused.
	reasonAuthFailed = "AuthenticationFailed"
	// reasonFetchFailed: the remote could not be read.
	reasonFetchFailed = "FetchFailed"
	// reasonInvalidSpec: the spec cannot work whatever is retried.
	reasonInvalidSpec = "InvalidSpec"
	// reasonVerificationFailed: the signature did not verify.
	reasonVerificationFailed = "VerificationFailed"
	// reasonVerified: the signature verified.
	reasonVerified = "Succeeded"
	// reasonStorageFailed: the artifact could not be written or checked.
	reasonStorageFailed = "StorageOperationFailed"
	// reasonArtifactStored: the artifact is in storage.
	reasonArtifactStored = "Succeeded"
	// reasonNoArtifact: there is no artifact yet.
	reasonNoArtifact = "NoArtifact"
)

const (
	artifactInStorage = meta.ArtifactInStorageCondition
	sourceVerified    = meta.SourceVerifiedCondition
)

// ownedConditions are the condition types the source reconcilers write.
var ownedConditions = []string{
	conditions.Ready, conditions.Reconciling, conditions.Stalled,
	artifactInStorage, sourceVerified,
}

// summaryOwned are the positive-polarity conditions Ready is computed from.
var summaryOwned = []string{sourceVerified, artifactInStorage}

// getSecret reads the Secret name in namespace. A missing Secret is an error
// naming it (never its content), which the caller reports as Ready=False and
// retries: the Secret may be created later.
func getSecret(ctx context.Context, c client.Client, namespace, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if err := c.Get(ctx, key, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s' not found", key)
		}
		return nil, fmt.Errorf("reading secret '%s': %w", key, err)
	}
	return s, nil
}

// basicCredentials is the base64 user:password of an HTTP Basic
// Authorization header, which a server echoing the request would quote:
// masked with the password itself. Empty without a password.
func basicCredentials(user, password string) string {
	if password == "" {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// ignorePatterns splits spec.ignore into lines for archive.Options.Ignore.
func ignorePatterns(ignore *string) []string {
	if ignore == nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(*ignore, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// sameIgnore reports whether two optional ignore specs are equal.
func sameIgnore(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// reusable reports whether the stored artifact cur was built from revision
// and can be kept: its file exists and still matches its digest and size.
func reusable(ctx context.Context, st *storage.Storage, cur *artifact.Artifact, revision string) bool {
	if cur == nil || revision == "" || !cur.HasRevision(revision) || !st.Exists(*cur) {
		return false
	}
	return st.Verify(ctx, *cur) == nil
}

// collectGarbage deletes the older artifacts of a's object that retention
// does not keep (by default all but a and the one before it, for consumers
// still downloading it).
func collectGarbage(ctx context.Context, st *storage.Storage, a artifact.Artifact, retention storage.GCOptions) error {
	if _, err := st.GC(ctx, a, retention); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// verifiedAtGeneration reports whether SourceVerified is True for the
// object's current generation, so a changed verification spec is checked
// again even when the revision did not move.
func verifiedAtGeneration(obj conditions.Getter) bool {
	c := conditions.Get(obj, sourceVerified)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration()
}

// explainTimeout says which setting ended a fetch that ran out of time:
// Go's "context deadline exceeded" alone does not tell the user that
// spec.timeout is what to raise. ctx is the reconcile's own context, whose
// end (a shutdown) is not a timeout.
func explainTimeout(ctx context.Context, timeout time.Duration, err error) error {
	if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("timed out after %s (spec.timeout): %w", timeout, err)
}
