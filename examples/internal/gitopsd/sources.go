package gitopsd

import (
	"flag"
	"fmt"
	"time"

	"github.com/gitopskit/kit/artifact/storage"

	"github.com/gitopskit/kit/examples/internal/controller/source"
)

// Defaults of SourceOptions.
const (
	// DefaultArtifactRetentionRecords keeps a source's current artifact
	// and the one before it, for consumers still downloading it (Flux's
	// default).
	DefaultArtifactRetentionRecords = 2
)

// SourceOptions are the settings of the source reconcilers (GitRepository,
// OCIRepository).
type SourceOptions struct {
	// ArtifactRetentionRecords is how many artifacts of a source are kept
	// when a new one is stored, the new one included (at least 1).
	ArtifactRetentionRecords int
	// ArtifactRetentionTTL, when positive, also deletes the older artifacts
	// last written longer ago than this, even within the records; the
	// current artifact is never deleted. Zero keeps them by count alone.
	ArtifactRetentionTTL time.Duration
	// SigstoreTrustedRoot is the path of a Sigstore trusted_root.json
	// keyless OCIRepository signatures are checked against when
	// spec.verify.secretRef holds none (or is not set). The file is read
	// again whenever it changes (a mounted ConfigMap, say).
	SigstoreTrustedRoot string
}

// DefaultSourceOptions returns the source reconcilers' defaults.
func DefaultSourceOptions() SourceOptions {
	return SourceOptions{ArtifactRetentionRecords: DefaultArtifactRetentionRecords}
}

// BindFlags defines the source reconcilers' flags on fs, with the current
// values as defaults.
func (o *SourceOptions) BindFlags(fs *flag.FlagSet) {
	fs.IntVar(&o.ArtifactRetentionRecords, "artifact-retention-records", o.ArtifactRetentionRecords,
		"How many artifacts of a source are kept when a new one is stored, the new one included.")
	fs.DurationVar(&o.ArtifactRetentionTTL, "artifact-retention-ttl", o.ArtifactRetentionTTL,
		"Also delete a source's older artifacts written longer ago than this, even within --artifact-retention-records (default: by count alone).")
	fs.StringVar(&o.SigstoreTrustedRoot, "sigstore-trusted-root", o.SigstoreTrustedRoot,
		"A Sigstore trusted_root.json file that keyless OCIRepository signatures are checked against when spec.verify.secretRef holds none.")
}

// Validate returns every problem of the options, each naming its flag. The
// trusted root is read and parsed.
func (o *SourceOptions) Validate() []error {
	var errs []error
	if o.ArtifactRetentionRecords < 1 {
		errs = append(errs, fmt.Errorf("invalid --artifact-retention-records: must be at least 1, got %d", o.ArtifactRetentionRecords))
	}
	if o.ArtifactRetentionTTL < 0 {
		errs = append(errs, fmt.Errorf("invalid --artifact-retention-ttl: must not be negative, got %s", o.ArtifactRetentionTTL))
	}
	if o.SigstoreTrustedRoot != "" {
		if _, err := source.NewTrustedRootFile(o.SigstoreTrustedRoot); err != nil {
			errs = append(errs, fmt.Errorf("invalid --sigstore-trusted-root: %w", err))
		}
	}
	return errs
}

// Retention returns the storage garbage collection the options select.
func (o *SourceOptions) Retention() storage.GCOptions {
	return storage.GCOptions{Keep: o.ArtifactRetentionRecords, MaxAge: o.ArtifactRetentionTTL}
}

// TrustedRoot returns the trusted root file, or nil when none is set.
func (o *SourceOptions) TrustedRoot() (*source.TrustedRootFile, error) {
	if o.SigstoreTrustedRoot == "" {
		return nil, nil
	}
	f, err := source.NewTrustedRootFile(o.SigstoreTrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("--sigstore-trusted-root: %w", err)
	}
	return f, nil
}
