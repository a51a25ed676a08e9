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
// and files, ignored paths and YAML that is not Kubernetes objects are
// skipped.
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
		if ok, why := isKubernetesYAML(data); ok {
			out = append(out, p)
		} else {
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

// isKubernetesYAML reports whether every document in data is a Kubernetes
// object (a mapping with string apiVersion and kind) other than a
// kustomization, with at least one such document.
func isKubernetesYAML(data []byte) (bool, string) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, "not YAML mappings"
		}
		if doc == nil {
			continue
		}
		av, _ := doc["apiVersion"].(string)
		kind, _ := doc["kind"].(string)
		if av == "" || kind == "" {
			return false, "a document has no apiVersion or kind"
		}
		if strings.HasPrefix(av, "kustomize.config.k8s.io/") {
			return false, "a kustomization"
		}
		n++
	}
	if n == 0 {
		return false, "no documents"
	}
	return true, ""
}
