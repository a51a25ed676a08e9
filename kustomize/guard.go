package kustomize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
)

// errExclusive is returned (and recorded by the filesystem) when a
// kustomization sets an OpenAPI schema while the build does not hold
// kyaml's process-wide schema alone; the build then starts again, alone.
var errExclusive = errors.New("the build sets an OpenAPI schema and must run on its own")

// guard inspects every file the filesystem hands to kustomize. It is where
// remote loading becomes impossible: kustomize's loader fetches a URL or
// clones a git repository only for a string it read from a kustomization
// (resources, components, patches, generator files, openapi...) or from a
// builtin plugin's configuration (PatchTransformer's path, a
// ConfigMapGenerator's files...), and every such file passes through here,
// whatever path kustomize took to it and however deep. A file naming a
// remote reference is never served, so the loader never sees the string.
//
// Plugin configurations are checked as files; a kustomization directory
// listed in generators, transformers or validators could rewrite them with
// patches or replacements first, so such a directory may list resources
// only.
type guard struct {
	fsys        *securefs.FS
	allowRemote bool
	exclusive   bool // the build holds kyaml's OpenAPI schema alone

	mu         sync.Mutex
	pluginDirs map[string]bool // /source/... directories loaded as plugin configuration
}

func newGuard(allowRemote, exclusive bool) *guard {
	return &guard{allowRemote: allowRemote, exclusive: exclusive, pluginDirs: map[string]bool{}}
}

// inspect implements securefs.Inspect.
func (g *guard) inspect(name string, data []byte) error {
	if isKustomizationFile(name) {
		return g.kustomization(name, data)
	}
	if !g.allowRemote && bytes.Contains(data, []byte("builtin")) {
		return checkBuiltinConfigs(display(name), string(data))
	}
	return nil
}

// display names a file of the virtual namespace for errors: relative to the
// source root for source files.
func display(name string) string {
	if rel, ok := strings.CutPrefix(name, securefs.SourceMount+"/"); ok {
		return rel
	}
	return name
}

func (g *guard) kustomization(name string, data []byte) error {
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return nil // kustomize parses it the same way and refuses it itself
	}
	k.FixKustomization()
	if len(k.OpenAPI) > 0 && !g.exclusive {
		return errExclusive
	}
	if g.allowRemote {
		return nil
	}
	file, dir := display(name), path.Dir(name)
	remote := func(ref string) error { return &RemoteBaseError{Kustomization: file, Ref: ref} }
	for _, r := range pathRefs(&k) {
		if isRemoteRef(r) {
			return remote(r)
		}
	}
	for _, r := range append(append([]string{}, k.Resources...), k.Components...) {
		if isRemoteRef(r) {
			return remote(r)
		}
	}
	if g.isPluginDir(dir) {
		if err := onlyResources(k); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, r := range k.Resources {
			g.markDir(dir, r)
		}
	}
	for _, list := range [][]string{k.Generators, k.Transformers, k.Validators} {
		for _, e := range list {
			if isInlineConfig(e) {
				// kustomize parses it as configuration, not a path.
				if hasRemotePrefix(e) {
					return remote(e)
				}
				if err := checkBuiltinConfigs(file, e); err != nil {
					return err
				}
				continue
			}
			if isRemoteRef(e) {
				return remote(e)
			}
			g.markDir(dir, e)
		}
	}
	return nil
}

// markDir records that the directory entry (relative to dir) is loaded as
// plugin configuration, by the canonical name kustomize will load it by.
func (g *guard) markDir(dir, entry string) {
	p := path.Join(dir, entry)
	if !g.fsys.IsDir(p) {
		return
	}
	d, _, err := g.fsys.CleanedAbs(p)
	if err != nil {
		return // refused and recorded by the filesystem
	}
	g.mu.Lock()
	g.pluginDirs[string(d)] = true
	g.mu.Unlock()
}

func (g *guard) isPluginDir(dir string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pluginDirs[dir]
}

// onlyResources refuses a plugin-configuration kustomization that would
// transform the configurations it lists.
func onlyResources(k types.Kustomization) error {
	k.TypeMeta, k.MetaData, k.Resources = types.TypeMeta{}, nil, nil
	rest, err := json.Marshal(k)
	if err != nil || string(rest) != "{}" {
		return errors.New("a kustomization loaded by generators, transformers or validators may only list resources: " +
			"transformed plugin configurations cannot be checked for remote references")
	}
	return nil
}

// pathRefs lists the file references of a kustomization other than the
// resource-like lists.
func pathRefs(k *types.Kustomization) []string {
	var out []string
	add := func(s ...string) { out = append(out, s...) }
	for _, p := range k.PatchesStrategicMerge {
		if !strings.Contains(string(p), "\n") {
			add(string(p))
		}
	}
	for _, p := range k.Patches {
		add(p.Path)
	}
	for _, p := range k.PatchesJson6902 {
		add(p.Path)
	}
	for _, r := range k.Replacements {
		add(r.Path)
	}
	add(k.Crds...)
	add(k.Configurations...)
	add(k.OpenAPI["path"])
	gens := func(src types.KvPairSources) {
		for _, f := range src.FileSources {
			if _, p, ok := strings.Cut(f, "="); ok {
				f = p
			}
			add(f)
		}
		add(src.EnvSources...)
		add(src.EnvSource)
	}
	for _, g := range k.ConfigMapGenerator {
		gens(g.KvPairSources)
	}
	for _, g := range k.SecretGenerator {
		gens(g.KvPairSources)
	}
	for _, h := range k.HelmCharts {
		add(h.Repo, h.ValuesFile)
		add(h.AdditionalValuesFiles...)
	}
	if h := k.HelmGlobals; h != nil {
		add(h.ChartHome, h.ConfigHome)
	}
	return out
}

// isInlineConfig reports whether kustomize takes a generators (or
// transformers, validators) entry as inline configuration rather than a
// path: it parses as objects with a kind.
func isInlineConfig(e string) (inline bool) {
	defer func() {
		if recover() != nil {
			inline = false // kyaml cannot read it: take it as a path
		}
	}()
	nodes, err := kio.FromBytes([]byte(e))
	if err != nil || len(nodes) == 0 {
		return false
	}
	for _, n := range nodes {
		if n.YNode().Kind != kyaml.MappingNode || n.GetKind() == "" {
			return false
		}
	}
	return true
}

// pathKeys are the fields of builtin plugin configurations that name files
// kustomize loads (PatchTransformer path, PatchStrategicMergeTransformer
// paths, ConfigMapGenerator files and envs, ReplacementTransformer
// replacements[].path, ValueAddTransformer targetFilePath, the Helm
// generator's values files and repository).
var pathKeys = map[string]bool{
	"path": true, "paths": true, "files": true, "envs": true, "env": true,
	"targetFilePath": true, "additionalValuesFiles": true, "valuesFile": true,
	"repo": true, "chartHome": true,
}

// checkBuiltinConfigs refuses builtin plugin configurations (objects of
// apiVersion "builtin", which is how kustomize recognises them) in text
// that name a remote file.
func checkBuiltinConfigs(file, text string) (err error) {
	defer func() {
		if recover() != nil {
			// kyaml panics on it: so would kustomize loading it.
			err = fmt.Errorf("%s: kustomize's YAML reader fails on this file", file)
		}
	}()
	nodes, err := kio.FromBytes([]byte(text))
	if err != nil {
		return nil // not YAML that kustomize could load as configuration
	}
	for _, n := range nodes {
		if n.YNode().Kind != kyaml.MappingNode {
			continue
		}
		group, version, found := strings.Cut(n.GetApiVersion(), "/")
		if !found {
			group, version = "", group
		}
		if group != "" || version != "builtin" {
			continue
		}
		if ref := remoteInPathKeys(n.YNode(), false, 0); ref != "" {
			return &RemoteBaseError{Kustomization: file, Ref: ref}
		}
	}
	return nil
}

// remoteInPathKeys returns the first remote reference in a string under one
// of pathKeys, at any depth.
func remoteInPathKeys(n *kyaml.Node, underPathKey bool, depth int) string {
	if n == nil || depth > 100 {
		return ""
	}
	switch n.Kind {
	case kyaml.ScalarNode:
		if underPathKey {
			// ConfigMapGenerator files may be written key=path.
			_, p, _ := strings.Cut(n.Value, "=")
			if isRemoteRef(n.Value) || isRemoteRef(p) {
				return n.Value
			}
		}
	case kyaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if r := remoteInPathKeys(n.Content[i+1], pathKeys[n.Content[i].Value], depth+1); r != "" {
				return r
			}
		}
	case kyaml.SequenceNode, kyaml.DocumentNode:
		for _, c := range n.Content {
			if r := remoteInPathKeys(c, underPathKey, depth+1); r != "" {
				return r
			}
		}
	}
	return ""
}
