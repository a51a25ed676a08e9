package config

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/kit/kustomize"
)

// deployment is the folder `kustomize build examples/config` renders,
// samples left out.
//
//go:embed kustomization.yaml namespace.yaml crd rbac manager
var deployment embed.FS

// Render returns gitopsd's deployment: the objects of `kustomize build
// examples/config`, rendered with the kustomize module from the copy of
// this folder embedded in the program, with overlay on top (a different
// image, say), so that a tool installs exactly what this folder holds
// wherever it runs from.
func Render(ctx context.Context, overlay kustomize.Overlay) ([]*unstructured.Unstructured, error) {
	tmp, err := os.MkdirTemp("", "gitopsd-config-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(deployment, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, filepath.FromSlash(p))
		if e.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := deployment.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("writing the embedded config: %w", err)
	}
	objs, err := kustomize.Build(ctx, tmp, ".", kustomize.Options{Overlay: overlay})
	if err != nil {
		return nil, fmt.Errorf("rendering the embedded config: %w", err)
	}
	return objs, nil
}
