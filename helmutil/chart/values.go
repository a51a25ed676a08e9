package chart

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"sigs.k8s.io/yaml"
)

// DefaultMaxValuesFileBytes bounds one values file.
const DefaultMaxValuesFileBytes int64 = 10 << 20

// ValuesFilesOptions are the knobs of MergeValuesFiles. The zero value
// reads the files from the chart itself and fails on a missing one.
type ValuesFilesOptions struct {
	// Root, when set, is the directory the paths are relative to (a
	// GitRepository, OCIRepository or Bucket artifact the chart was loaded
	// from with LoadDir), read through an os.Root. Empty: the paths are
	// files of the chart itself (a chart from a repository).
	Root string
	// IgnoreMissing skips files that do not exist instead of failing.
	IgnoreMissing bool
	// MaxFileBytes bounds one file (default 10 MiB).
	MaxFileBytes int64
}

// ValuesResult describes merged values.
type ValuesResult struct {
	// Files are the files merged, in order (missing ones left out under
	// IgnoreMissing).
	Files []string
	// Digest is the SHA-256 of the values.yaml written into the chart,
	// sha256:<hex>; empty when nothing was merged.
	Digest string
}

// BuildMetadata returns the build metadata that marks a chart whose
// values files were merged: "values." and the first 12 hex digits of the
// merged values.yaml's SHA-256. It depends on the values' content only, so
// the same chart and values files package to the same bytes (see
// VersionWithMetadata).
func (r ValuesResult) BuildMetadata() string {
	if r.Digest == "" {
		return ""
	}
	return "values." + strings.TrimPrefix(r.Digest, "sha256:")[:12]
}

// MergeValuesFiles makes the merge of files, in order, the chart's default
// values, as Flux's HelmChart valuesFiles do: each file (YAML, possibly of
// several documents) is deep-merged over the previous ones (maps merge,
// anything else is replaced), and the result replaces the chart's
// values.yaml; list values.yaml first to build on the chart's own
// defaults. A missing file is an error (ErrValuesFileNotFound) unless
// o.IgnoreMissing; paths that leave the root (or the chart) are refused
// (ErrUnsafePath). With no file, or only the chart's own values.yaml, the
// chart is left as it is.
func MergeValuesFiles(ch *chartv2.Chart, files []string, o ValuesFilesOptions) (ValuesResult, error) {
	var res ValuesResult
	if len(files) == 0 || (o.Root == "" && len(files) == 1 && path.Clean(files[0]) == "values.yaml") {
		return res, nil
	}
	limit := o.MaxFileBytes
	if limit <= 0 {
		limit = DefaultMaxValuesFileBytes
	}
	var root *os.Root
	if o.Root != "" {
		r, err := os.OpenRoot(o.Root)
		if err != nil {
			return res, err
		}
		defer r.Close()
		root = r
	}
	merged := map[string]any{}
	for _, f := range files {
		rel, err := cleanRel(f)
		if err != nil {
			return res, &Error{Chart: ch.Name(), Path: f, Reason: "values file path leaves the root", Err: ErrUnsafePath}
		}
		var data []byte
		if root != nil {
			data, err = readSmall(root.FS(), rel, limit)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				if strings.Contains(err.Error(), "escapes") {
					return res, newErr(ch.Name(), f, ErrUnsafePath, "values file leaves the root")
				}
				return res, wrapErr(ch.Name(), f, ErrInvalidChart, err, "values file cannot be read")
			}
		} else {
			data, err = rawFile(ch, rel, limit)
		}
		if errors.Is(err, fs.ErrNotExist) {
			if o.IgnoreMissing {
				continue
			}
			return res, newErr(ch.Name(), f, ErrValuesFileNotFound, "values file does not exist")
		}
		if err != nil {
			return res, err
		}
		vals, err := loader.LoadValues(bytes.NewReader(data))
		if err != nil {
			return res, wrapErr(ch.Name(), f, ErrInvalidChart, err, "values file does not parse")
		}
		merged = loader.MergeMaps(merged, vals)
		res.Files = append(res.Files, f)
	}
	if len(res.Files) == 0 {
		return res, nil
	}
	out, err := yaml.Marshal(merged)
	if err != nil {
		return res, wrapErr(ch.Name(), "values.yaml", ErrInvalidChart, err, "merged values do not encode")
	}
	ch.Values = merged
	setRaw(ch, "values.yaml", out)
	sum := sha256.Sum256(out)
	res.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return res, nil
}

// rawFile returns a file of the chart as it was loaded.
func rawFile(ch *chartv2.Chart, name string, limit int64) ([]byte, error) {
	for _, f := range ch.Raw {
		if f.Name == name {
			if int64(len(f.Data)) > limit {
				return nil, newErr(ch.Name(), name, ErrLimitExceeded, "values file larger than %d bytes", limit)
			}
			return f.Data, nil
		}
	}
	return nil, fs.ErrNotExist
}

func setRaw(ch *chartv2.Chart, name string, data []byte) {
	for _, f := range ch.Raw {
		if f.Name == name {
			f.Data = data
			return
		}
	}
	ch.Raw = append(ch.Raw, &common.File{Name: name, Data: data})
}
