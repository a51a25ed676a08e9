package image

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitopskit/kit/runtime/conditions"
)

// Finalizer is kept on every image automation object until its reconciler
// finalized it.
const Finalizer = "image.gitopskit.dev/finalizer"

// Ready=False and Stalled reasons of the image reconcilers.
const (
	reasonInvalidImage        = "InvalidImage"
	reasonInvalidExclusion    = "InvalidExclusionList"
	reasonAuthFailed          = "AuthenticationFailed"
	reasonScanFailed          = "ScanFailed"
	reasonInvalidPolicy       = "InvalidPolicy"
	reasonRepositoryNotFound  = "ImageRepositoryNotFound"
	reasonScanPending         = "ScanPending"
	reasonNoMatchingTag       = "NoMatchingTag"
	reasonDigestFailed        = "DigestReflectionFailed"
	reasonSourceNotFound      = "SourceNotFound"
	reasonInvalidSource       = "InvalidSourceRef"
	reasonInvalidTemplate     = "InvalidTemplate"
	reasonInvalidSigningKey   = "InvalidSigningKey"
	reasonInvalidUpdatePath   = "InvalidUpdatePath"
	reasonGitFailed           = "GitOperationFailed"
	reasonPolicyNotFound      = "PolicyNotFound"
	reasonInvalidPolicySelect = "InvalidPolicySelector"
)

// ownedConditions are the conditions every image reconciler writes.
var ownedConditions = []string{conditions.Ready, conditions.Reconciling, conditions.Stalled}

// explainTimeout rewrites an error that ended with ctx's deadline into one
// naming the timeout.
func explainTimeout(ctx context.Context, what string, timeout time.Duration, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, errTimeout) {
		return fmt.Errorf("%w: %s did not finish within %s: %w", errTimeout, what, timeout, err)
	}
	return err
}

// errTimeout marks an error explained by explainTimeout.
var errTimeout = errors.New("timeout")
