package chart

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// Defaults of LoadOptions.
const (
	// DefaultMaxBytes bounds the uncompressed size of a chart, its
	// subcharts included (Helm's own default).
	DefaultMaxBytes int64 = 100 << 20
	// DefaultMaxFiles bounds the number of files of a chart, its subcharts
	// included.
	DefaultMaxFiles = 10_000
	// MaxDepth bounds the nesting of subcharts and of directories.
	MaxDepth = 32
)

// LoadOptions bounds a chart load. The zero value applies the defaults; a
// negative value removes a limit.
type LoadOptions struct {
	// MaxBytes bounds the bytes of all files, subcharts included.
	MaxBytes int64
	// MaxFileBytes bounds one file; 0 means MaxBytes.
	MaxFileBytes int64
	// MaxFiles bounds the number of files, subcharts included.
	MaxFiles int
}

// budget is what is left of the limits while a chart and its subcharts load.
type budget struct {
	bytes, fileBytes int64
	files            int
	maxBytes         int64
	maxFiles         int
}

func newBudget(o LoadOptions) *budget {
	b := &budget{bytes: o.MaxBytes, fileBytes: o.MaxFileBytes, files: o.MaxFiles}
	switch {
	case b.bytes == 0:
		b.bytes = DefaultMaxBytes
	case b.bytes < 0:
		b.bytes = 1<<63 - 1
	}
	switch {
	case b.fileBytes == 0:
		b.fileBytes = b.bytes
	case b.fileBytes < 0:
		b.fileBytes = 1<<63 - 1
	}
	switch {
	case b.files == 0:
		b.files = DefaultMaxFiles
	case b.files < 0:
		b.files = int(^uint(0) >> 1)
	}
	b.maxBytes, b.maxFiles = b.bytes, b.files
	return b
}

// take accounts for one file of n bytes (n < 0: size not known yet).
func (b *budget) takeFile(chart, name string) error {
	if b.files <= 0 {
		return newErr(chart, name, ErrLimitExceeded, "more than %d files", b.maxFiles)
	}
	b.files--
	return nil
}

// read reads one file from r within the budget.
func (b *budget) read(chart, name string, r io.Reader) ([]byte, error) {
	limit := min(b.bytes, b.fileBytes)
	n := limit
	if n < 1<<63-1 {
		n++ // one byte more tells a file at the limit from one over it
	}
	data, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil {
		return nil, wrapErr(chart, name, ErrInvalidChart, err, "read")
	}
	if int64(len(data)) > limit {
		if limit == b.fileBytes && b.fileBytes < b.bytes {
			return nil, newErr(chart, name, ErrLimitExceeded, "file larger than %d bytes", b.fileBytes)
		}
		return nil, newErr(chart, name, ErrLimitExceeded, "chart larger than %d bytes", b.maxBytes)
	}
	b.bytes -= int64(len(data))
	return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), nil
}

// LoadArchiveFile loads the chart package (.tgz) at path; see LoadArchive.
func LoadArchiveFile(ctx context.Context, path string, o LoadOptions) (*chartv2.Chart, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	defer f.Close()
	return LoadArchive(ctx, f, o)
}

// LoadArchive loads a chart package (a gzip-compressed tar whose entries
// are under one directory, as `helm package` writes it), with the archive
// treated as hostile: the limits of o hold for the chart and every
// subchart package inside it together; absolute names, names with "..",
// backslashes, symbolic and hard links, devices and repeated names are
// refused (ErrUnsafePath, ErrInvalidChart), as is Chart.yaml outside the
// chart's directory. Only apiVersion v1 and v2 charts load.
func LoadArchive(ctx context.Context, r io.Reader, o LoadOptions) (*chartv2.Chart, error) {
	return loadArchive(ctx, r, newBudget(o), "", 0)
}

func loadArchive(ctx context.Context, r io.Reader, b *budget, parent string, depth int) (*chartv2.Chart, error) {
	if depth > MaxDepth {
		return nil, newErr(parent, "", ErrLimitExceeded, "subcharts nested more than %d deep", MaxDepth)
	}
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, wrapErr(parent, "", ErrInvalidChart, err, "not a gzip-compressed archive")
	}
	zr.Multistream(false)
	tr := tar.NewReader(zr)
	var files []*archive.BufferedFile
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, wrapErr(parent, "", ErrInvalidChart, err, "archive does not read")
		}
		switch h.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader, tar.TypeXHeader:
			continue
		case tar.TypeReg, tar.TypeRegA:
		case tar.TypeSymlink, tar.TypeLink:
			return nil, newErr(parent, h.Name, ErrUnsafePath, "links are not allowed in a chart archive")
		default:
			return nil, newErr(parent, h.Name, ErrUnsafePath, "entry of type %q is not allowed in a chart archive", h.Typeflag)
		}
		name, err := archiveName(parent, h.Name)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, newErr(parent, name, ErrInvalidChart, "file appears twice in the archive")
		}
		seen[name] = true
		if err := b.takeFile(parent, name); err != nil {
			return nil, err
		}
		data, err := b.read(parent, name, tr)
		if err != nil {
			return nil, err
		}
		files = append(files, &archive.BufferedFile{Name: name, ModTime: h.ModTime, Data: data})
	}
	if len(files) == 0 {
		return nil, newErr(parent, "", ErrInvalidChart, "no files in the archive")
	}
	return fromFiles(ctx, files, b, parent, depth)
}

// archiveName checks an entry's name and returns it relative to the
// chart's directory (its first element removed).
func archiveName(chart, name string) (string, error) {
	if strings.ContainsRune(name, '\\') {
		return "", newErr(chart, name, ErrUnsafePath, "backslash in the name")
	}
	if path.IsAbs(name) {
		return "", newErr(chart, name, ErrUnsafePath, "absolute name")
	}
	for _, e := range strings.Split(name, "/") {
		if e == ".." {
			return "", newErr(chart, name, ErrUnsafePath, "name contains ..")
		}
	}
	top, rest, ok := strings.Cut(path.Clean(name), "/")
	if !ok || rest == "" || rest == "." {
		if top == "Chart.yaml" {
			return "", newErr(chart, name, ErrInvalidChart, "Chart.yaml outside the chart's directory")
		}
		return "", newErr(chart, name, ErrInvalidChart, "file outside the chart's directory")
	}
	return rest, nil
}

// fromFiles builds the chart from its files with Helm's loader. Subcharts
// (charts/<name>/... and charts/*.tgz) are split off as Helm's loader
// splits them and loaded here, recursively, within the same budget (Helm's
// loader would load nested packages with its own limits); they are ordered
// by name so a chart's layout never depends on map order.
func fromFiles(ctx context.Context, files []*archive.BufferedFile, b *budget, parent string, depth int) (*chartv2.Chart, error) {
	if depth > MaxDepth {
		return nil, newErr(parent, "", ErrLimitExceeded, "subcharts nested more than %d deep", MaxDepth)
	}
	var keep, packaged []*archive.BufferedFile
	dirs := map[string][]*archive.BufferedFile{}
	for _, f := range files {
		rest, ok := strings.CutPrefix(f.Name, "charts/")
		if !ok || path.Ext(f.Name) == ".prov" {
			keep = append(keep, f)
			continue
		}
		cname, sub, nested := strings.Cut(rest, "/")
		switch {
		case cname == "" || cname[0] == '_' || cname[0] == '.':
			// Helm's loader leaves these out.
		case path.Ext(cname) == ".tgz" && !nested:
			packaged = append(packaged, f)
		case !nested || path.Ext(cname) == ".tgz":
			return nil, newErr(parent, f.Name, ErrInvalidChart, "file in charts/ that is not a subchart")
		default:
			dirs[cname] = append(dirs[cname], &archive.BufferedFile{Name: sub, ModTime: f.ModTime, Data: f.Data})
		}
	}
	if err := checkAPIVersion(keep, parent); err != nil {
		return nil, err
	}
	ch, err := loader.LoadFiles(keep)
	if err != nil {
		return nil, wrapErr(chartName(ch, parent), "", ErrInvalidChart, err, "helm's loader refuses it")
	}
	names := make([]string, 0, len(dirs))
	for n := range dirs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sub, err := fromFiles(ctx, dirs[n], b, ch.Name()+"/charts/"+n, depth+1)
		if err != nil {
			return nil, err
		}
		ch.AddDependency(sub)
	}
	for _, f := range packaged {
		sub, err := loadArchive(ctx, bytes.NewReader(f.Data), b, ch.Name()+"/"+f.Name, depth+1)
		if err != nil {
			return nil, err
		}
		ch.AddDependency(sub)
	}
	sortDependencies(ch)
	return ch, nil
}

func chartName(ch *chartv2.Chart, fallback string) string {
	if ch != nil && ch.Metadata != nil && ch.Metadata.Name != "" {
		return ch.Metadata.Name
	}
	return fallback
}

// checkAPIVersion refuses charts Helm v4 would not read as chart/v2 (its
// generic loader sends apiVersion v3 to chart/v3).
func checkAPIVersion(files []*archive.BufferedFile, chart string) error {
	for _, f := range files {
		if f.Name != "Chart.yaml" {
			continue
		}
		var md struct {
			APIVersion string `json:"apiVersion"`
		}
		if err := yamlUnmarshal(f.Data, &md); err != nil {
			return wrapErr(chart, "Chart.yaml", ErrInvalidChart, err, "does not parse")
		}
		switch md.APIVersion {
		case "", chartv2.APIVersionV1, chartv2.APIVersionV2:
			return nil
		}
		return newErr(chart, "Chart.yaml", ErrUnsupportedAPIVersion, "apiVersion %q (v1 and v2 are supported)", md.APIVersion)
	}
	return nil
}

// sortDependencies orders every level of subcharts by name and version.
func sortDependencies(ch *chartv2.Chart) {
	deps := append([]*chartv2.Chart(nil), ch.Dependencies()...)
	sort.SliceStable(deps, func(i, j int) bool {
		if deps[i].Name() != deps[j].Name() {
			return deps[i].Name() < deps[j].Name()
		}
		return deps[i].Metadata.Version < deps[j].Metadata.Version
	})
	for _, d := range deps {
		sortDependencies(d)
	}
	ch.SetDependencies(deps...)
}
