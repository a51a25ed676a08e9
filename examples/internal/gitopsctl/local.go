package gitopsctl

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	ksctl "github.com/gitopskit/kit/examples/internal/controller/kustomize"
)

// localOptions are the flags of diff and build: the local folder that
// stands for the Kustomization's spec.path.
type localOptions struct {
	path, root string
}

func (o *localOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.path, "path", "", "The local folder to build in place of the Kustomization's spec.path (required).")
	f.StringVar(&o.root, "root", "", "The folder the build is confined to, as the controller confines it to the artifact (default: the git work tree holding --path, else --path).")
}

// sopsMask stands for a value encrypted with SOPS, which a preview does
// not decrypt.
const sopsMask = "**SOPS**"

// secretMask stands for a Secret value in build's output.
const secretMask = "***"

// built is a local build of a Kustomization.
type built struct {
	objs []*unstructured.Unstructured
	// encrypted are the objects that were SOPS-encrypted (their values
	// are still encrypted).
	encrypted map[*unstructured.Unstructured]bool
}

// buildLocal builds the folder o names with ks's settings through the
// reconciler's own build (ksctl.Build). Decryption is skipped: encrypted
// values stay encrypted and are masked. c reads the substituteFrom
// ConfigMaps and Secrets; nil (no cluster) leaves them out, with a
// warning.
func (a *app) buildLocal(ctx context.Context, c client.Client, ks *kustomizev1.Kustomization, o localOptions) (*built, error) {
	if o.path == "" {
		return nil, usageErrorf("--path is required: the local folder that stands for spec.path %q", ks.Spec.Path)
	}
	path, err := filepath.Abs(o.path)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--path %s is not a folder", o.path)
	}
	root := o.root
	if root == "" {
		root = workTree(path)
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, usageErrorf("--path %s is not inside --root %s", o.path, root)
	}
	ks = ks.DeepCopy()
	ks.Spec.Path = filepath.ToSlash(rel)
	if ks.Spec.Decryption != nil {
		a.err.warn("SOPS decryption is skipped: encrypted values stay masked as %s", sopsMask)
		ks.Spec.Decryption = nil
	}
	if c == nil && ks.Spec.PostBuild != nil && len(ks.Spec.PostBuild.SubstituteFrom) > 0 {
		a.err.warn("without a cluster, postBuild.substituteFrom is not read: only spec.postBuild.substitute is substituted")
		ks.Spec.PostBuild.SubstituteFrom = nil
	}
	objs, err := ksctl.Build(ctx, c, ks, root)
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", o.path, err)
	}
	b := &built{objs: objs, encrypted: map[*unstructured.Unstructured]bool{}}
	for _, obj := range objs {
		if _, ok := obj.Object["sops"].(map[string]any); ok {
			delete(obj.Object, "sops")
			b.encrypted[obj] = true
		}
	}
	return b, nil
}

// workTree returns the git work tree holding dir, or dir.
func workTree(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// isEncrypted reports whether a SOPS value is still encrypted.
func isEncrypted(v any) bool {
	s, ok := v.(string)
	return ok && strings.HasPrefix(s, "ENC[")
}

// keepLiveSecretValues prepares an encrypted Secret for a diff: a value
// that cannot be decrypted is compared by key only, so an encrypted key
// the live Secret has takes the live value, and a new one a mask. The
// diff masks every value anyway.
func keepLiveSecretValues(obj *unstructured.Unstructured, live *corev1.Secret) {
	for _, field := range []string{"data", "stringData"} {
		m, ok := obj.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range m {
			if !isEncrypted(v) {
				continue
			}
			lv, has := []byte(nil), false
			if live != nil {
				lv, has = live.Data[k]
			}
			switch {
			case has && field == "data":
				m[k] = base64.StdEncoding.EncodeToString(lv)
			case has:
				m[k] = string(lv)
			case field == "data":
				m[k] = base64.StdEncoding.EncodeToString([]byte(sopsMask))
			default:
				m[k] = sopsMask
			}
		}
	}
}

// maskSecretValues replaces every value of a Secret, for build's output.
func maskSecretValues(obj *unstructured.Unstructured, encrypted bool) {
	mask := secretMask
	if encrypted {
		mask = sopsMask
	}
	for _, field := range []string{"data", "stringData"} {
		if m, ok := obj.Object[field].(map[string]any); ok {
			for k := range m {
				m[k] = mask
			}
		}
	}
}

// isSecret reports whether obj is a core Secret.
func isSecret(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// kustomizationFromFile reads a Kustomization from a YAML file (build
// --dry-run), the one named name when the file holds several documents.
func kustomizationFromFile(file, name string) (*kustomizev1.Kustomization, error) {
	data, err := readBounded(file, maxInputFile)
	if err != nil {
		return nil, err
	}
	for _, doc := range splitDocuments(data) {
		var probe struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc.text, &probe); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if probe.APIVersion != kustomizev1.GroupVersion.String() || probe.Kind != kustomizev1.KustomizationKind || probe.Metadata.Name != name {
			continue
		}
		ks := &kustomizev1.Kustomization{}
		if err := yaml.UnmarshalStrict(doc.text, ks); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if ks.Namespace == "" {
			ks.Namespace = DefaultNamespace
		}
		return ks, nil
	}
	return nil, fmt.Errorf("%s holds no %s %s named %q", file, kustomizev1.GroupVersion, kustomizev1.KustomizationKind, name)
}

// errNoPath is returned when a Kustomization-only command is given another
// kind.
var errNotKustomization = errors.New("only Kustomizations are built: want kustomization <name>")
