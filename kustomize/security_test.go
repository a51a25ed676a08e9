package kustomize

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const secretMarker = "TOPSECRET-outside-the-root"

// escapeTree lays out outer/{secret.yaml,secret.txt,base/} next to the
// source root outer/src, so that every escape has something to find.
func escapeTree(t *testing.T) (outer, root string) {
	t.Helper()
	outer = t.TempDir()
	writeTree(t, outer, map[string]string{
		"secret.yaml":             cm("stolen", "v", secretMarker),
		"secret.txt":              secretMarker,
		"secret.env":              "K=" + secretMarker,
		"base/kustomization.yaml": "resources:\n- cm.yaml\n",
		"base/cm.yaml":            cm("stolen-base", "v", secretMarker),
		"src/.keep":               "",
	})
	return outer, filepath.Join(outer, "src")
}

func TestPathEscapesRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		files    map[string]string
		dir      string
		opts     Options
		wantPath string // substring of PathEscapeError.Path
	}{
		{
			name:     "absolute resource",
			files:    map[string]string{"kustomization.yaml": "resources:\n- OUTER/secret.yaml\n"},
			wantPath: "secret.yaml",
		},
		{
			name:     "dotdot resource",
			files:    map[string]string{"app/kustomization.yaml": "resources:\n- ../../secret.yaml\n"},
			dir:      "app",
			wantPath: "secret.yaml",
		},
		{
			name:     "base outside root",
			files:    map[string]string{"kustomization.yaml": "resources:\n- ../base\n"},
			wantPath: "base",
		},
		{
			name: "symlinked file",
			files: map[string]string{
				"kustomization.yaml": "resources:\n- link.yaml\n",
				"link.yaml":          "symlink:../secret.yaml",
			},
			wantPath: "link.yaml",
		},
		{
			name: "symlinked file via absolute target",
			files: map[string]string{
				"kustomization.yaml": "resources:\n- link.yaml\n",
				"link.yaml":          "symlink:OUTER/secret.yaml",
			},
			wantPath: "link.yaml",
		},
		{
			name: "symlinked base directory",
			files: map[string]string{
				"kustomization.yaml": "resources:\n- linkdir\n",
				"linkdir":            "symlink:../base",
			},
			wantPath: "linkdir",
		},
		{
			name: "symlinked kustomization",
			files: map[string]string{
				"app/kustomization.yaml": "symlink:../../base/kustomization.yaml",
			},
			dir:      "app",
			wantPath: "kustomization.yaml",
		},
		{
			name: "patch file",
			files: map[string]string{
				"kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: ../secret.yaml\n",
				"cm.yaml":            cm("stolen"),
			},
			wantPath: "secret.yaml",
		},
		{
			name: "strategic merge patch file",
			files: map[string]string{
				"kustomization.yaml": "resources:\n- cm.yaml\npatchesStrategicMerge:\n- OUTER/secret.yaml\n",
				"cm.yaml":            cm("stolen"),
			},
			wantPath: "secret.yaml",
		},
		{
			name: "configMapGenerator file",
			files: map[string]string{
				"kustomization.yaml": "configMapGenerator:\n- name: x\n  files:\n  - ../secret.txt\n",
			},
			wantPath: "secret.txt",
		},
		{
			name: "configMapGenerator keyed file",
			files: map[string]string{
				"kustomization.yaml": "configMapGenerator:\n- name: x\n  files:\n  - key=OUTER/secret.txt\n",
			},
			wantPath: "secret.txt",
		},
		{
			name: "secretGenerator env through symlink",
			files: map[string]string{
				"kustomization.yaml": "secretGenerator:\n- name: x\n  envs:\n  - creds.env\n",
				"creds.env":          "symlink:../secret.env",
			},
			wantPath: "creds.env",
		},
		{
			name: "generator config file",
			files: map[string]string{
				"kustomization.yaml": "generators:\n- ../secret.yaml\n",
			},
			wantPath: "secret.yaml",
		},
		{
			name: "component outside root",
			files: map[string]string{
				"kustomization.yaml": "components:\n- ../base\n",
			},
			wantPath: "base",
		},
		{
			name: "caller component outside root",
			files: map[string]string{
				"kustomization.yaml": "resources:\n- cm.yaml\n",
				"cm.yaml":            cm("x"),
			},
			opts:     Options{Overlay: Overlay{Components: []string{"../base"}}},
			wantPath: "base",
		},
		{
			name: "generator mode symlinked manifest",
			files: map[string]string{
				"manifests/ok.yaml":   cm("ok"),
				"manifests/evil.yaml": "symlink:../../secret.yaml",
			},
			dir:      "manifests",
			wantPath: "evil.yaml",
		},
		{
			name:     "build path outside",
			dir:      "../base",
			wantPath: "../base",
		},
		{
			name:     "build path absolute",
			dir:      "OUTER/base",
			wantPath: "base",
		},
		{
			name:     "build path symlink out",
			files:    map[string]string{"app": "symlink:../base"},
			dir:      "app",
			wantPath: "app",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			outer, root := escapeTree(t)
			files := map[string]string{}
			for k, v := range tt.files {
				files[k] = strings.ReplaceAll(v, "OUTER", outer)
			}
			writeTree(t, root, files)
			dir := strings.ReplaceAll(tt.dir, "OUTER", outer)
			objs, err := Build(context.Background(), root, dir, tt.opts)
			if err == nil {
				t.Fatalf("build succeeded with %v", ids(objs))
			}
			var pe *PathEscapeError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *PathEscapeError: %v", err)
			}
			if !strings.Contains(pe.Path, tt.wantPath) {
				t.Errorf("PathEscapeError.Path = %q, want it to name %q", pe.Path, tt.wantPath)
			}
			if strings.Contains(err.Error(), secretMarker) {
				t.Errorf("error leaks outside content: %v", err)
			}
		})
	}
}

func TestSymlinkInsideRootAllowed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"shared/cm.yaml":         cm("shared"),
		"app/kustomization.yaml": "resources:\n- link.yaml\n- ../shared/cm.yaml\n",
		"app/link.yaml":          "symlink:../shared/cm.yaml",
	})
	// Same object twice via two names: kustomize itself rejects the
	// duplicate id, which proves both paths were read.
	_, err := Build(context.Background(), root, "app", Options{})
	if err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("want kustomize's duplicate id error, got %v", err)
	}
	writeTree(t, root, map[string]string{"app2/kustomization.yaml": "resources:\n- link.yaml\n", "app2/link.yaml": "symlink:../shared/cm.yaml"})
	if got := ids(mustBuild(t, root, "app2", Options{})); len(got) != 1 || got[0] != "ConfigMap//shared" {
		t.Fatalf("got %v", got)
	}
}

func TestPluginsAndFunctionsRefused(t *testing.T) {
	t.Parallel()
	fnExec := `apiVersion: example.com/v1
kind: Gen
metadata:
  name: gen
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: /bin/sh
`
	fnContainer := `apiVersion: example.com/v1
kind: Tr
metadata:
  name: tr
  annotations:
    config.kubernetes.io/function: |
      container:
        image: example.com/evil:latest
`
	legacyExec := "apiVersion: someteam.example.com/v1\nkind: ChartInflator\nmetadata:\n  name: x\n"
	helm := "helmCharts:\n- name: x\n  repo: oci://example.com/charts\n  version: 1.0.0\n"
	tests := map[string]map[string]string{
		"exec function generator":        {"kustomization.yaml": "generators:\n- fn.yaml\n", "fn.yaml": fnExec},
		"container function transformer": {"kustomization.yaml": "transformers:\n- fn.yaml\n", "fn.yaml": fnContainer},
		"exec function validator":        {"kustomization.yaml": "validators:\n- fn.yaml\n", "fn.yaml": fnExec},
		"legacy exec plugin":             {"kustomization.yaml": "generators:\n- p.yaml\n", "p.yaml": legacyExec},
		"inline function generator":      {"kustomization.yaml": "generators:\n- |-\n" + indent(fnExec)},
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeTree(t, root, files)
			_, err := Build(context.Background(), root, "", Options{})
			if !errors.Is(err, ErrPluginDisabled) {
				t.Fatalf("want plugins refused, got %v", err)
			}
		})
	}
	t.Run("helm", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		writeTree(t, root, map[string]string{"kustomization.yaml": helm})
		if _, err := Build(context.Background(), root, "", Options{AllowRemoteBases: true}); err == nil {
			t.Fatal("helm chart inflation must be disabled")
		}
	})
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "    " + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}
