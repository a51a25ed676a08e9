package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/gitopskit/kit/oci"

	"github.com/gitopskit/kit/helmutil/repo"
)

// DependencyOptions say where a chart's dependencies come from. The zero
// value builds file:// dependencies and fetches the others without
// credentials.
type DependencyOptions struct {
	// HTTPRepository returns the repository for a dependency's http(s)
	// repository URL, with the credentials and TLS the caller keeps for
	// it (a matching HelmRepository's Secret, say). Nil, or a nil
	// repository returned: repo.New(url) without credentials.
	HTTPRepository func(ctx context.Context, url string) (*repo.Repository, error)
	// OCIRepository returns the repository for an oci:// repository URL.
	// Nil, or a nil repository returned: an anonymous oci.Client.
	OCIRepository func(ctx context.Context, url string) (*repo.OCIRepository, error)
	// Load bounds each chart loaded.
	Load LoadOptions
	// Parse bounds each repository index read.
	Parse repo.ParseOptions
}

// BuildDependencies adds to ch (loaded with LoadDir from dir of root) the
// dependencies its Chart.yaml declares and its charts/ directory does not
// already hold, as `helm dependency build` does:
//
//   - file://<path> (or an empty repository with a path): the chart at
//     <path> relative to ch's directory, which must stay inside root
//     (lexically, and through symbolic links: ErrUnsafePath), loaded with
//     its own file:// dependencies in turn; a chain leading back to a
//     chart being built is ErrDependencyCycle;
//   - http(s)://: the version the dependency's constraint selects in the
//     repository's index, downloaded through helmutil/repo (credentials to
//     the repository's host only, digest checked, size bounded);
//   - oci://: the version the constraint selects among the tags.
//
// A local chart must satisfy the dependency's version constraint. Helm's
// repository names (@name, alias:name) are not supported: use URLs.
func BuildDependencies(ctx context.Context, ch *chartv2.Chart, root, dir string, o DependencyOptions) error {
	rel, err := cleanRel(dir)
	if err != nil {
		return err
	}
	rootDir, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer rootDir.Close()
	b := &depBuilder{o: o, fsys: rootDir, indexes: map[string]*repo.Index{}}
	return b.build(ctx, ch, rel, []string{rel})
}

type depBuilder struct {
	o       DependencyOptions
	fsys    *os.Root
	indexes map[string]*repo.Index
}

func (b *depBuilder) build(ctx context.Context, ch *chartv2.Chart, dir string, stack []string) error {
	if len(stack) > MaxDepth {
		return newErr(ch.Name(), dir, ErrLimitExceeded, "file:// dependencies nested more than %d deep", MaxDepth)
	}
	have := map[string]bool{}
	for _, d := range ch.Dependencies() {
		have[d.Name()] = true
	}
	for _, dep := range ch.Metadata.Dependencies {
		if dep == nil || have[dep.Name] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var sub *chartv2.Chart
		var err error
		switch r := dep.Repository; {
		case strings.HasPrefix(r, "file://"):
			sub, err = b.local(ctx, ch, dep, dir, strings.TrimPrefix(r, "file://"), stack)
		case strings.HasPrefix(r, "http://"), strings.HasPrefix(r, "https://"):
			sub, err = b.fromHTTP(ctx, ch, dep)
		case strings.HasPrefix(r, "oci://"):
			sub, err = b.fromOCI(ctx, ch, dep)
		case r == "":
			err = newErr(ch.Name(), dep.Name, ErrDependency, "not in charts/ and no repository given")
		default:
			err = newErr(ch.Name(), dep.Name, ErrDependency, "repository names (@name, alias:) are not supported, use a URL")
		}
		if err != nil {
			return err
		}
		ch.AddDependency(sub)
		have[dep.Name] = true
	}
	sortDependencies(ch)
	return nil
}

// local loads the file:// dependency at p (relative to the chart's
// directory dir) and builds its own dependencies.
func (b *depBuilder) local(ctx context.Context, ch *chartv2.Chart, dep *chartv2.Dependency, dir, p string, stack []string) (*chartv2.Chart, error) {
	if strings.ContainsRune(p, '\\') || path.IsAbs(p) || filepath.IsAbs(p) {
		return nil, newErr(ch.Name(), dep.Repository, ErrUnsafePath, "dependency %s: absolute path", dep.Name)
	}
	target, err := cleanRel(path.Join(dir, p))
	if err != nil {
		return nil, newErr(ch.Name(), dep.Repository, ErrUnsafePath, "dependency %s: path leaves the root", dep.Name)
	}
	for k, s := range stack {
		if s == target {
			return nil, newErr(ch.Name(), dep.Repository, ErrDependencyCycle, "dependency %s: %s", dep.Name, strings.Join(append(append([]string(nil), stack[k:]...), target), " -> "))
		}
	}
	sub, err := loadDir(ctx, b.fsys.FS(), target, newBudget(b.o.Load), 0)
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) && errors.Is(err, ErrUnsafePath) {
			return nil, newErr(ch.Name(), dep.Repository, ErrUnsafePath, "dependency %s: %s", dep.Name, ce.Reason)
		}
		return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
	}
	if sub.Name() != dep.Name {
		return nil, newErr(ch.Name(), dep.Repository, ErrDependency, "dependency %s: the chart there is named %q", dep.Name, sub.Name())
	}
	if dep.Version != "" {
		c, err := semver.NewConstraint(dep.Version)
		if err != nil {
			return nil, newErr(ch.Name(), dep.Name, ErrDependency, "version constraint %q does not parse", dep.Version)
		}
		v, err := semver.NewVersion(sub.Metadata.Version)
		if err != nil || !c.Check(v) {
			return nil, newErr(ch.Name(), dep.Name, ErrDependency, "local chart version %s does not satisfy %q", sub.Metadata.Version, dep.Version)
		}
	}
	if err := b.build(ctx, sub, target, append(stack, target)); err != nil {
		return nil, err
	}
	return sub, nil
}

func (b *depBuilder) fromHTTP(ctx context.Context, ch *chartv2.Chart, dep *chartv2.Dependency) (*chartv2.Chart, error) {
	url := strings.TrimSuffix(dep.Repository, "/")
	var r *repo.Repository
	var err error
	if b.o.HTTPRepository != nil {
		if r, err = b.o.HTTPRepository(ctx, url); err != nil {
			return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
		}
	}
	if r == nil {
		if r, err = repo.New(url); err != nil {
			return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
		}
	}
	idx, ok := b.indexes[r.URL()]
	if !ok {
		if idx, _, err = r.LoadIndex(ctx, b.o.Parse); err != nil {
			return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
		}
		b.indexes[r.URL()] = idx
	}
	cv, err := idx.Get(dep.Name, dep.Version)
	if err != nil {
		return nil, &Error{Chart: ch.Name(), Path: dep.Name, Reason: err.Error(), Err: fmt.Errorf("%w: %w", ErrDependency, err)}
	}
	var buf bytes.Buffer
	if _, err := r.FetchChart(ctx, cv, &buf, repo.DownloadOptions{}); err != nil {
		return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
	}
	return b.loadPackage(ctx, ch, dep, &buf)
}

func (b *depBuilder) fromOCI(ctx context.Context, ch *chartv2.Chart, dep *chartv2.Dependency) (*chartv2.Chart, error) {
	var r *repo.OCIRepository
	var err error
	if b.o.OCIRepository != nil {
		if r, err = b.o.OCIRepository(ctx, dep.Repository); err != nil {
			return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
		}
	}
	if r == nil {
		c, err := oci.NewClient()
		if err != nil {
			return nil, err
		}
		if r, err = repo.NewOCIRepository(dep.Repository, c); err != nil {
			return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
		}
	}
	oc, err := r.Resolve(ctx, dep.Name, dep.Version)
	if err != nil {
		return nil, &Error{Chart: ch.Name(), Path: dep.Name, Reason: err.Error(), Err: fmt.Errorf("%w: %w", ErrDependency, err)}
	}
	tmp, err := os.MkdirTemp("", "helmutil-dependency-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dst := filepath.Join(tmp, "chart.tgz")
	if _, err := r.Pull(ctx, oc, dst, repo.OCIPullOptions{}); err != nil {
		return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
	}
	f, err := os.Open(dst)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return b.loadPackage(ctx, ch, dep, f)
}

func (b *depBuilder) loadPackage(ctx context.Context, ch *chartv2.Chart, dep *chartv2.Dependency, r interface{ Read([]byte) (int, error) }) (*chartv2.Chart, error) {
	sub, err := LoadArchive(ctx, r, b.o.Load)
	if err != nil {
		return nil, fmt.Errorf("chart %s: dependency %s: %w", ch.Name(), dep.Name, err)
	}
	if sub.Name() != dep.Name {
		return nil, newErr(ch.Name(), dep.Name, ErrDependency, "the repository's package is named %q", sub.Name())
	}
	return sub, nil
}
