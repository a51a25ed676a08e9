package helmtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	repov1 "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

// LargeIndexOptions shapes a synthetic index. The zero value writes about
// 100 MiB: charts of 100 versions each, about 1.4 KB per version.
type LargeIndexOptions struct {
	// Bytes is the size to reach (approximately: the last chart is
	// complete); 0 means 100 MiB. Ignored when Charts is set.
	Bytes int64
	// Charts is the number of charts; 0 means as many as Bytes needs.
	Charts int
	// VersionsPerChart is the number of versions of each chart (default 100).
	VersionsPerChart int
	// Seed makes the content reproducible; the same options write the same
	// bytes.
	Seed uint64
	// BaseURL, when set, makes chart URLs absolute (BaseURL/<file>).
	BaseURL string
	// Unsorted writes each chart's versions in a shuffled order instead of
	// newest first as Helm writes them.
	Unsorted bool
}

// LargeIndexStats describes what WriteLargeIndex wrote.
type LargeIndexStats struct {
	Bytes    int64
	Charts   int
	Versions int
}

// WriteLargeIndex writes a synthetic index.yaml to w, chart by chart, in
// the layout Helm's own writer produces (sigs.k8s.io/yaml of
// repo.IndexFile), without holding the index in memory. Entries look like
// those of public repositories: Artifact Hub annotations with multi-line
// block scalars, dependencies, maintainers, keywords, descriptions with
// quotes and colons; about one version in eight is a prerelease, some
// share a version but for build metadata, one chart in twenty is
// deprecated.
func WriteLargeIndex(w io.Writer, o LargeIndexOptions) (LargeIndexStats, error) {
	if o.Bytes == 0 {
		o.Bytes = 100 << 20
	}
	if o.VersionsPerChart <= 0 {
		o.VersionsPerChart = 100
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	var st LargeIndexStats
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	if _, err := io.WriteString(cw, "apiVersion: v1\nentries:\n"); err != nil {
		return st, err
	}
	for i := 0; ; i++ {
		if o.Charts > 0 && i >= o.Charts {
			break
		}
		if o.Charts == 0 && cw.n >= o.Bytes {
			break
		}
		name := chartName(i)
		vs := syntheticVersions(r, name, o.VersionsPerChart, i%20 == 7, o.BaseURL)
		if o.Unsorted {
			r.Shuffle(len(vs), func(a, b int) { vs[a], vs[b] = vs[b], vs[a] })
		} else {
			repov1.IndexFile{Entries: map[string]repov1.ChartVersions{name: vs}}.SortEntries()
		}
		// Marshalled at the depth it has in the index, so long lines fold
		// where Helm's writer folds them.
		b, err := yaml.Marshal(map[string]map[string]repov1.ChartVersions{"entries": {name: vs}})
		if err != nil {
			return st, err
		}
		if _, err := cw.Write(bytes.TrimPrefix(b, []byte("entries:\n"))); err != nil {
			return st, err
		}
		st.Charts++
		st.Versions += len(vs)
	}
	gen := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339Nano)
	if _, err := io.WriteString(cw, "generated: \""+gen+"\"\n"); err != nil {
		return st, err
	}
	st.Bytes = cw.n
	return st, bw.Flush()
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

var nameParts = []string{"api", "web", "redis", "kafka", "nginx", "operator", "gateway", "metrics", "db", "cache", "ingress", "auth"}

func chartName(i int) string {
	// Numbered first, so generation order is the sorted order Helm writes.
	return fmt.Sprintf("c%06d-%s-%s", i, nameParts[i%len(nameParts)], nameParts[(i/len(nameParts))%len(nameParts)])
}

// syntheticVersions returns n versions of a chart, increasing, with
// prereleases, build metadata twins and an occasional "v" prefix.
func syntheticVersions(r *rand.Rand, name string, n int, deprecated bool, baseURL string) repov1.ChartVersions {
	out := make(repov1.ChartVersions, 0, n)
	major, minor, patch := 0, 1, 0
	created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for len(out) < n {
		switch x := r.IntN(20); {
		case x == 0:
			major, minor, patch = major+1, 0, 0
		case x < 5:
			minor, patch = minor+1, 0
		default:
			patch++
		}
		v := fmt.Sprintf("%d.%d.%d", major, minor, patch)
		switch x := r.IntN(16); {
		case x < 2:
			v += fmt.Sprintf("-rc.%d", r.IntN(5))
		case x == 2:
			v += "-beta"
		case x == 3:
			// A twin differing only in build metadata: equal in semver order.
			out = append(out, syntheticVersion(r, name, v+"+build.1", deprecated, baseURL, created))
			v += "+build.2"
		case x == 4:
			v = "v" + v
		}
		created = created.Add(time.Duration(1+r.IntN(72)) * time.Hour)
		out = append(out, syntheticVersion(r, name, v, deprecated, baseURL, created))
	}
	return out[:n]
}

var words = strings.Fields(`deploys a scalable highly available cluster with metrics tracing and
	automatic failover for production "workloads": includes dashboards, alerts # and runbooks
	it's maintained by the community under the Apache license`)

func sentence(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

func hexString(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func syntheticVersion(r *rand.Rand, name, version string, deprecated bool, baseURL string, created time.Time) *repov1.ChartVersion {
	file := name + "-" + strings.TrimPrefix(version, "v") + ".tgz"
	u := file
	if baseURL != "" {
		u = strings.TrimSuffix(baseURL, "/") + "/" + file
	}
	app := fmt.Sprintf("%d.%d.%d", r.IntN(10), r.IntN(30), r.IntN(10))
	changes := fmt.Sprintf("- kind: changed\n  description: %s\n- kind: fixed\n  description: \"%s\"\n",
		sentence(r, 6), sentence(r, 5))
	images := fmt.Sprintf("- name: %s\n  image: registry.example.com/%s:%s\n- name: sidecar\n  image: registry.example.com/sidecar:1.%d\n",
		name, name, app, r.IntN(40))
	return &repov1.ChartVersion{
		Metadata: &chartv2.Metadata{
			APIVersion:  chartv2.APIVersionV2,
			Name:        name,
			Version:     version,
			AppVersion:  app,
			Description: sentence(r, 12),
			Home:        "https://example.com/charts/" + name,
			Icon:        "https://example.com/icons/" + name + ".svg",
			Sources:     []string{"https://github.com/example/" + name},
			Keywords:    []string{nameParts[r.IntN(len(nameParts))], "cloud-native", "kubernetes"},
			Maintainers: []*chartv2.Maintainer{{Name: "Example Maintainers", Email: "charts@example.com", URL: "https://example.com"}},
			KubeVersion: ">=1.23.0-0",
			Type:        "application",
			Deprecated:  deprecated,
			Annotations: map[string]string{
				"artifacthub.io/changes":    changes,
				"artifacthub.io/images":     images,
				"artifacthub.io/license":    "Apache-2.0",
				"artifacthub.io/prerelease": fmt.Sprint(strings.Contains(version, "-")),
				"category":                  "Infrastructure",
			},
			Dependencies: []*chartv2.Dependency{{
				Name:       "common",
				Version:    "2.x.x",
				Repository: "oci://registry.example.com/charts",
				Tags:       []string{"example-common"},
			}},
		},
		URLs:    []string{u},
		Created: created,
		Digest:  hexString(r, 64),
	}
}
