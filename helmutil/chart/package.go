package chart

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/artifact"
)

// PackageOptions are the knobs of Package. The zero value packages the
// chart as it is.
type PackageOptions struct {
	// Version, when set, is the version written into the package's
	// Chart.yaml and file name instead of the chart's (see
	// VersionWithMetadata).
	Version string
}

// PackageResult describes a package.
type PackageResult struct {
	// Name and Version are the packaged chart's.
	Name, Version string
	// FileName is <name>-<version>.tgz, the name Helm gives the package.
	FileName string
	// Digest is the SHA-256 of the package, sha256:<hex>.
	Digest artifact.Digest
	// Size is the package's size in bytes.
	Size int64
}

// VersionWithMetadata returns version with meta added to its build
// metadata ("1.2.3" + "values.ab12" = "1.2.3+values.ab12"; "1.2.3+x" gives
// "1.2.3+x.values.ab12"), the convention for a chart repackaged with merged
// values files (meta from ValuesResult.BuildMetadata).
func VersionWithMetadata(version, meta string) (string, error) {
	if meta == "" {
		return version, nil
	}
	sep := "+"
	if strings.Contains(version, "+") {
		sep = "."
	}
	v := version + sep + meta
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v")); err != nil {
		return "", fmt.Errorf("%w: version %q with build metadata %q is not a semantic version", ErrInvalidChart, version, meta)
	}
	return v, nil
}

// epoch is the modification time of every entry of a package.
var epoch = time.Unix(0, 0).UTC()

// Package writes ch as a chart package (.tgz) to w, in the layout `helm
// package` writes (Chart.yaml, Chart.lock, values.yaml, values.schema.json,
// templates, other files, then subcharts as directories under charts/),
// byte for byte reproducible: files in name order, subcharts by name,
// every entry with mode 0644, owner 0 and the Unix epoch as its time, a
// gzip header without name nor time. The same chart content and values
// give the same bytes, whatever the order, times or permissions of the
// files it was loaded from, and so the same digest.
func Package(ctx context.Context, ch *chartv2.Chart, w io.Writer, o PackageOptions) (PackageResult, error) {
	if ch == nil || ch.Metadata == nil {
		return PackageResult{}, newErr("", "", ErrInvalidChart, "no metadata")
	}
	md := *ch.Metadata
	if o.Version != "" {
		md.Version = o.Version
	}
	if err := md.Validate(); err != nil {
		return PackageResult{}, wrapErr(ch.Name(), "Chart.yaml", ErrInvalidChart, err, "invalid metadata")
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestCompression)
	if err != nil {
		return PackageResult{}, err
	}
	zw.Header = gzip.Header{OS: 255}
	tw := tar.NewWriter(zw)
	if err := writeChart(ctx, tw, ch, &md, ""); err != nil {
		return PackageResult{}, err
	}
	if err := tw.Close(); err != nil {
		return PackageResult{}, err
	}
	if err := zw.Close(); err != nil {
		return PackageResult{}, err
	}
	return PackageResult{
		Name:     md.Name,
		Version:  md.Version,
		FileName: md.Name + "-" + md.Version + ".tgz",
		Digest:   artifact.NewDigest(artifact.SHA256, h),
		Size:     cw.n,
	}, nil
}

// PackageFile writes the package to the file dst atomically (a temporary
// file next to it, renamed when complete; removed on error).
func PackageFile(ctx context.Context, ch *chartv2.Chart, dst string, o PackageOptions) (PackageResult, error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return PackageResult{}, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	res, err := Package(ctx, ch, f, o)
	if err != nil {
		return res, err
	}
	if err := f.Sync(); err != nil {
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return res, err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return res, err
	}
	ok = true
	return res, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeChart(ctx context.Context, tw *tar.Writer, ch *chartv2.Chart, md *chartv2.Metadata, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := md.Name
	if name == "" || name != path.Base(name) || name == "." || name == ".." {
		return newErr(name, "Chart.yaml", ErrInvalidChart, "chart name is not a file name")
	}
	base := path.Join(prefix, name)
	m := *md
	if m.APIVersion == chartv2.APIVersionV1 {
		// A v1 chart's dependencies live in requirements.yaml, as Helm writes it.
		m.Dependencies = nil
	}
	cdata, err := yaml.Marshal(&m)
	if err != nil {
		return wrapErr(name, "Chart.yaml", ErrInvalidChart, err, "does not encode")
	}
	if err := writeEntry(tw, path.Join(base, "Chart.yaml"), cdata); err != nil {
		return err
	}
	if m.APIVersion == chartv2.APIVersionV2 && ch.Lock != nil {
		ldata, err := yaml.Marshal(ch.Lock)
		if err != nil {
			return wrapErr(name, "Chart.lock", ErrInvalidChart, err, "does not encode")
		}
		if err := writeEntry(tw, path.Join(base, "Chart.lock"), ldata); err != nil {
			return err
		}
	}
	for _, f := range ch.Raw {
		if f.Name == "values.yaml" {
			if err := writeEntry(tw, path.Join(base, "values.yaml"), f.Data); err != nil {
				return err
			}
			break
		}
	}
	if ch.Schema != nil {
		if !json.Valid(ch.Schema) {
			return newErr(name, "values.schema.json", ErrInvalidChart, "not valid JSON")
		}
		if err := writeEntry(tw, path.Join(base, "values.schema.json"), ch.Schema); err != nil {
			return err
		}
	}
	for _, group := range [][]*common.File{ch.Templates, ch.Files} {
		files := append([]*common.File(nil), group...)
		sort.SliceStable(files, func(i, j int) bool { return files[i].Name < files[j].Name })
		for _, f := range files {
			if _, err := cleanRel(f.Name); err != nil || f.Name == "" {
				return newErr(name, f.Name, ErrUnsafePath, "file name leaves the chart")
			}
			if err := writeEntry(tw, path.Join(base, f.Name), f.Data); err != nil {
				return err
			}
		}
	}
	deps := append([]*chartv2.Chart(nil), ch.Dependencies()...)
	sort.SliceStable(deps, func(i, j int) bool {
		if deps[i].Name() != deps[j].Name() {
			return deps[i].Name() < deps[j].Name()
		}
		return deps[i].Metadata.Version < deps[j].Metadata.Version
	})
	for _, d := range deps {
		if d.Metadata == nil {
			return newErr(name, "charts/", ErrInvalidChart, "subchart without metadata")
		}
		if err := writeChart(ctx, tw, d, d.Metadata, path.Join(base, "charts")); err != nil {
			return err
		}
	}
	return nil
}

func writeEntry(tw *tar.Writer, name string, data []byte) error {
	h := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o644,
		Size:     int64(len(data)),
		ModTime:  epoch,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
