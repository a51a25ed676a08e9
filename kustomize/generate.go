package kustomize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-logr/logr"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
)

// IgnoreFile is the name of the .gitignore-syntax file, in the source root
// or any folder, listing files the generator skips.
const IgnoreFile = ".sourceignore"

// discover lists what a generated kustomization in dir should hold, as
// paths relative to the source root: Kubernetes manifest files in dir and
// below, and folders below that have a kustomization of their own (which
// are built as they are instead of being descended into). Hidden folders
// and files, ignored paths, Helm charts (folders with a Chart.yaml) and
// YAML files without Kubernetes objects are skipped; a YAML file the
// generator cannot classify safely is a *ManifestError (see classifyYAML).
func discover(ctx context.Context, fsys *securefs.FS, dir string, extra []string) ([]string, error) {
	log := logr.FromContextOrDiscard(ctx)
	root := fsys.Root().FS()
	var patterns []gitignore.Pattern
	loadIgnore := func(d string) error {
		f := path.Join(d, IgnoreFile)
		st, err := fsys.Root().Lstat(f)
		if err != nil || !st.Mode().IsRegular() {
			return nil
		}
		data, err := fsys.ReadRaw(f)
		if err != nil {
			return err
		}
		patterns = append(patterns, parseIgnore(string(data), split(d))...)
		return nil
	}
	// Ignore files of the folders above dir apply as well.
	for d := "."; ; {
		if err := loadIgnore(d); err != nil {
			return nil, err
		}
		if d == dir {
			break
		}
		rest := strings.TrimPrefix(dir, d+"/")
		if d == "." {
			rest = dir
		}
		first, _, _ := strings.Cut(rest, "/")
		d = path.Join(d, first)
	}
	for _, p := range extra {
		patterns = append(patterns, gitignore.ParsePattern(p, split(dir)))
	}

	var out []string
	err := fs.WalkDir(root, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		isDir := d.IsDir()
		if p != dir && gitignore.NewMatcher(patterns).Match(split(p), isDir) {
			log.V(1).Info("generator skips ignored path", "path", p)
			if isDir {
				return fs.SkipDir
			}
			return nil
		}
		if isDir {
			if p == dir {
				return nil
			}
			if err := loadIgnore(p); err != nil {
				return err
			}
			if kf, err := findKustomization(fsys, p); err != nil {
				return err
			} else if kf != "" {
				out = append(out, p)
				return fs.SkipDir
			}
			// A Helm chart's templates are not manifests (nor, often,
			// valid YAML): the chart is a HelmRelease's business.
			if st, err := fsys.Root().Lstat(path.Join(p, "Chart.yaml")); err == nil && st.Mode().IsRegular() {
				log.V(1).Info("generator skips Helm chart", "path", p)
				return fs.SkipDir
			}
			return nil
		}
		ext := strings.ToLower(path.Ext(p))
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// Let the build read it: a link leaving the root is refused
			// there with a *PathEscapeError.
			out = append(out, p)
			return nil
		}
		data, err := fsys.ReadRaw(p)
		if err != nil {
			return err
		}
		kind, why, err := classifyYAML(data)
		switch {
		case err != nil:
			return &ManifestError{Path: p, Err: err}
		case kind == manifestObjects:
			out = append(out, p)
		default:
			log.V(1).Info("generator skips file", "path", p, "reason", why)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning %s for manifests: %w", dir, err)
	}
	return out, nil
}

func parseIgnore(text string, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps
}

func split(p string) []string {
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// manifestKind classifies a YAML file for the generator.
type manifestKind int

const (
	// manifestObjects: every document is a Kubernetes object.
	manifestObjects manifestKind = iota
	// manifestOther: no document is a Kubernetes object (values files, CI
	// configuration, kustomize configuration, empty files).
	manifestOther
)

// classifyYAML tells Kubernetes manifests from other YAML. It fails for a
// file the generator must not silently skip, because skipping it would drop
// objects from the build and a pruning caller would delete them from the
// cluster: a file that is not valid YAML, a document that has only one of
// apiVersion and kind, or a file mixing Kubernetes objects with other
// documents. The reason never quotes the file's content.
func classifyYAML(data []byte) (manifestKind, string, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	objects, other := 0, 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// yaml.v3 syntax errors name the line, not the content.
			return 0, "", fmt.Errorf("not valid YAML: %w", err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
			continue // an empty document, as after a trailing "---"
		}
		av, kind := scalarField(doc.Content[0], "apiVersion"), scalarField(doc.Content[0], "kind")
		switch {
		case av != "" && kind != "" && strings.HasPrefix(av, "kustomize.config.k8s.io/"):
			other++
		case av != "" && kind != "":
			objects++
		case av != "" || kind != "":
			return 0, "", fmt.Errorf("document %d has apiVersion or kind but not both", objects+other+1)
		default:
			other++
		}
	}
	switch {
	case objects > 0 && other > 0:
		return 0, "", errors.New("mixes Kubernetes objects with other YAML documents")
	case objects > 0:
		return manifestObjects, "", nil
	case other > 0:
		return manifestOther, "no Kubernetes objects", nil
	}
	return manifestOther, "no documents", nil
}

// scalarField returns the string value of key in a mapping node, or "".
func scalarField(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == key && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}
