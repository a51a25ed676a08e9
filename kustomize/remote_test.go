package kustomize

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// countingServer is a loopback HTTP server that counts every request and
// answers with an object, so that a fetch would succeed if attempted.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(cm("remote")))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// chain returns kustomizations d00 -> d01 -> ... -> d<n>, the last holding
// last, under dir: deeper than any pre-scan would follow.
func chain(dir string, n int, last string) map[string]string {
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("%s/d%02d/kustomization.yaml", dir, i)] = fmt.Sprintf("resources:\n- ../d%02d\n", i+1)
	}
	files[fmt.Sprintf("%s/d%02d/kustomization.yaml", dir, n)] = last
	return files
}

type remoteCase struct {
	files map[string]string
	dir   string
	// wantFile is the file the *RemoteBaseError must name; "" means a
	// different refusal (any error) is expected.
	wantFile string
}

// remoteCases hide a reference to u (a loopback URL) or to a git
// repository in every place kustomize would load it from, reached by every
// route: deep nesting, "../" out of the build folder and back, symlinked
// folders, plugin configurations in files, inline and in folders.
func remoteCases(u string) map[string]remoteCase {
	res := func(ref string) string { return "resources:\n- " + ref + "\n" }
	builtin := func(kind, body string) string {
		return "apiVersion: builtin\nkind: " + kind + "\nmetadata:\n  name: x\n" + body
	}
	cases := map[string]remoteCase{
		"nested 70 deep":             {files: chain("chain", 70, res(u+"/cm.yaml")), dir: "chain/d00", wantFile: "chain/d70/kustomization.yaml"},
		"out and back in":            {files: map[string]string{"app/kustomization.yaml": res("../shared/x"), "shared/x/kustomization.yaml": res(u + "/cm.yaml")}, dir: "app", wantFile: "shared/x/kustomization.yaml"},
		"out and back twice":         {files: map[string]string{"app/kustomization.yaml": res("../app/../shared/./x/"), "shared/x/kustomization.yaml": res(u + "/cm.yaml")}, dir: "app", wantFile: "shared/x/kustomization.yaml"},
		"symlinked folder":           {files: map[string]string{"app/kustomization.yaml": res("link"), "app/link": "symlink:../shared/x", "shared/x/kustomization.yaml": res(u + "/cm.yaml")}, dir: "app", wantFile: "shared/x/kustomization.yaml"},
		"capitalised key":            {files: map[string]string{"kustomization.yaml": "Resources:\n- " + u + "/cm.yaml\n"}, wantFile: "kustomization.yaml"},
		"Kustomization file":         {files: map[string]string{"Kustomization": res(u + "/cm.yaml")}, wantFile: "Kustomization"},
		"kustomization.yml":          {files: map[string]string{"kustomization.yml": res(u + "/cm.yaml")}, wantFile: "kustomization.yml"},
		"component":                  {files: map[string]string{"kustomization.yaml": "components:\n- c\n", "c/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n" + res(u+"/cm.yaml")}, wantFile: "c/kustomization.yaml"},
		"git prefix":                 {files: map[string]string{"kustomization.yaml": res("git::" + u + "/repo.git")}, wantFile: "kustomization.yaml"},
		"git over http":              {files: map[string]string{"kustomization.yaml": res(u + "/org/repo.git//deploy?ref=main")}, wantFile: "kustomization.yaml"},
		"scp-like":                   {files: map[string]string{"kustomization.yaml": res("git@127.0.0.1:org/repo.git")}, wantFile: "kustomization.yaml"},
		"ssh":                        {files: map[string]string{"kustomization.yaml": res("ssh://git@127.0.0.1/org/repo.git")}, wantFile: "kustomization.yaml"},
		"github shorthand":           {files: map[string]string{"kustomization.yaml": res("github.com/org/repo/deploy?ref=v1")}, wantFile: "kustomization.yaml"},
		"upper-case scheme":          {files: map[string]string{"kustomization.yaml": res("HTTP://127.0.0.1/x.yaml")}, wantFile: "kustomization.yaml"},
		"scheme, no slashes":         {files: map[string]string{"kustomization.yaml": res("https:127.0.0.1/x.yaml")}, wantFile: "kustomization.yaml"},
		"trailing newline":           {files: map[string]string{"kustomization.yaml": "resources:\n- \"github.com/org/repo\\n\"\n"}, wantFile: "kustomization.yaml"},
		"openapi nested":             {files: map[string]string{"app/kustomization.yaml": res("../base"), "base/kustomization.yaml": "openapi:\n  path: " + u + "/schema.json\n"}, dir: "app", wantFile: "base/kustomization.yaml"},
		"patch path":                 {files: map[string]string{"kustomization.yaml": "patches:\n- path: " + u + "/p.yaml\n"}, wantFile: "kustomization.yaml"},
		"patchesJson6902":            {files: map[string]string{"kustomization.yaml": "patchesJson6902:\n- path: " + u + "/p.yaml\n  target: {kind: ConfigMap}\n"}, wantFile: "kustomization.yaml"},
		"strategic merge":            {files: map[string]string{"kustomization.yaml": "patchesStrategicMerge:\n- " + u + "/p.yaml\n"}, wantFile: "kustomization.yaml"},
		"crds":                       {files: map[string]string{"kustomization.yaml": "crds:\n- " + u + "/crd.yaml\n"}, wantFile: "kustomization.yaml"},
		"configurations":             {files: map[string]string{"kustomization.yaml": "configurations:\n- " + u + "/c.yaml\n"}, wantFile: "kustomization.yaml"},
		"replacements file":          {files: map[string]string{"kustomization.yaml": "replacements:\n- path: " + u + "/r.yaml\n"}, wantFile: "kustomization.yaml"},
		"generator envs":             {files: map[string]string{"kustomization.yaml": "secretGenerator:\n- name: s\n  envs:\n  - " + u + "/s.env\n"}, wantFile: "kustomization.yaml"},
		"generator file":             {files: map[string]string{"kustomization.yaml": "generators:\n- gen.yaml\n", "gen.yaml": builtin("ConfigMapGenerator", "files:\n- k="+u+"/data\n")}, wantFile: "gen.yaml"},
		"transformer file":           {files: map[string]string{"kustomization.yaml": "transformers:\n- t.yaml\n", "t.yaml": builtin("PatchTransformer", "path: "+u+"/p.yaml\n")}, wantFile: "t.yaml"},
		"transformer, /builtin":      {files: map[string]string{"kustomization.yaml": "transformers:\n- t.yaml\n", "t.yaml": strings.Replace(builtin("PatchTransformer", "path: "+u+"/p.yaml\n"), "apiVersion: builtin", "apiVersion: /builtin", 1)}, wantFile: "t.yaml"},
		"replacement config":         {files: map[string]string{"kustomization.yaml": "transformers:\n- t.yaml\n", "t.yaml": builtin("ReplacementTransformer", "replacements:\n- path: "+u+"/r.yaml\n")}, wantFile: "t.yaml"},
		"value-add config":           {files: map[string]string{"kustomization.yaml": "transformers:\n- t.yaml\n", "t.yaml": builtin("ValueAddTransformer", "targetFilePath: "+u+"/t.yaml\n")}, wantFile: "t.yaml"},
		"inline transformer":         {files: map[string]string{"kustomization.yaml": "transformers:\n- |\n" + indent(builtin("PatchStrategicMergeTransformer", "paths:\n- "+u+"/p.yaml\n"))}, wantFile: "kustomization.yaml"},
		"validator file":             {files: map[string]string{"kustomization.yaml": "validators:\n- v.yaml\n", "v.yaml": builtin("PatchTransformer", "path: "+u+"/p.yaml\n")}, wantFile: "v.yaml"},
		"transformer folder":         {files: map[string]string{"kustomization.yaml": "transformers:\n- t\n", "t/kustomization.yaml": res("pt.yaml"), "t/pt.yaml": builtin("PatchTransformer", "path: "+u+"/p.yaml\n")}, wantFile: "t/pt.yaml"},
		"file scheme":                {files: map[string]string{"kustomization.yaml": res("file:///etc")}, wantFile: "kustomization.yaml"},
		"transformer folder, nested": {files: map[string]string{"kustomization.yaml": "generators:\n- t\n", "t/kustomization.yaml": res("inner"), "t/inner/kustomization.yaml": res("pt.yaml"), "t/inner/pt.yaml": builtin("ConfigMapGenerator", "envs:\n- "+u+"/e.env\n")}, wantFile: "t/inner/pt.yaml"},
		// A kustomization loaded as plugin configuration could rewrite a
		// local path into a remote one (here with a replacement from a
		// ConfigMap): it may only list resources.
		"transformer folder rewriting its configurations": {files: map[string]string{
			"kustomization.yaml":   "resources:\n- cm.yaml\ntransformers:\n- t\n",
			"cm.yaml":              cm("x"),
			"t/kustomization.yaml": "resources:\n- pt.yaml\n- src.yaml\nreplacements:\n- source: {kind: ConfigMap, name: src, fieldPath: data.url}\n  targets:\n  - select: {kind: PatchTransformer}\n    fieldPaths: [path]\n",
			"t/pt.yaml":            builtin("PatchTransformer", "path: local.yaml\n"),
			"t/src.yaml":           cm("src", "url", u+"/p.yaml"),
		}},
	}
	return cases
}

// TestRemoteReferencesNeverLoaded checks, against a loopback server that
// counts requests, that no remote reference is loaded, whatever the route
// to it: each build fails with a *RemoteBaseError naming the file that
// holds it, and the server sees no request at all.
func TestRemoteReferencesNeverLoaded(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t)
	for name, tc := range remoteCases(srv.URL) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeTree(t, root, tc.files)
			_, err := Build(context.Background(), root, tc.dir, Options{})
			if err == nil {
				t.Fatal("the build succeeded")
			}
			t.Log(err)
			if tc.wantFile == "" {
				return
			}
			var re *RemoteBaseError
			if !errors.As(err, &re) {
				t.Fatalf("want *RemoteBaseError, got %v", err)
			}
			if re.Kustomization != tc.wantFile {
				t.Errorf("RemoteBaseError names %q, want %q (ref %q)", re.Kustomization, tc.wantFile, re.Ref)
			}
		})
	}
	t.Cleanup(func() {
		if n := hits.Load(); n != 0 {
			t.Errorf("the server was contacted %d times", n)
		}
	})
}

// Plugin configurations that merely mention URLs, and plugin folders that
// only list resources, still build.
func TestRemoteCheckHasNoFalsePositives(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"kustomization.yaml":        "resources:\n- cm.yaml\ntransformers:\n- |\n" + indent("apiVersion: builtin\nkind: AnnotationsTransformer\nmetadata:\n  name: docs\nannotations:\n  docs: https://example.com/runbook\nfieldSpecs:\n- path: metadata/annotations\n  create: true\n") + "- labels\n",
		"cm.yaml":                   cm("x", "url", "https://example.com/api"),
		"labels/kustomization.yaml": "resources:\n- l.yaml\n",
		"labels/l.yaml":             "apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  team: a\nfieldSpecs:\n- path: metadata/labels\n  create: true\n",
	})
	objs := mustBuild(t, root, "", Options{})
	if got := objs[0].GetAnnotations()["docs"]; got != "https://example.com/runbook" {
		t.Errorf("annotation = %q", got)
	}
	if got := objs[0].GetLabels()["team"]; got != "a" {
		t.Errorf("label = %q", got)
	}
}

func init() {
	// Runs the git-flavoured cases with a fake git first on PATH and a
	// $TMPDIR of the parent's choosing.
	childScenarios["remote-git"] = func() error {
		u := os.Getenv("REMOTE_URL")
		var errs childErrors
		for name, tc := range remoteCases(u) {
			root, err := os.MkdirTemp(os.Getenv("ROOTS"), "root-")
			if err != nil {
				return err
			}
			if err := writeFiles(root, tc.files); err != nil {
				return err
			}
			_, err = Build(context.Background(), root, tc.dir, Options{})
			var re *RemoteBaseError
			if err == nil || (tc.wantFile != "" && !errors.As(err, &re)) {
				errs.add("%s: want *RemoteBaseError, got %v", name, err)
			}
		}
		return errs.err()
	}
	// The control: with remote bases allowed, kustomize does run git.
	childScenarios["remote-git-allowed"] = func() error {
		root, err := os.MkdirTemp(os.Getenv("ROOTS"), "root-")
		if err != nil {
			return err
		}
		if err := writeFiles(root, map[string]string{"kustomization.yaml": "resources:\n- git::" + os.Getenv("REMOTE_URL") + "/repo.git\n"}); err != nil {
			return err
		}
		if _, err := Build(context.Background(), root, "", Options{AllowRemoteBases: true}); err == nil {
			return errors.New("the fake git cannot have cloned anything")
		}
		return nil
	}
}

// TestRemoteBasesRunNoGit runs every remote case in a child process whose
// PATH starts with a fake git that records being run and whose $TMPDIR is
// empty: no git is run, nothing is left in $TMPDIR (kustomize clones into
// $TMPDIR/kustomize-*), no request reaches the server. The control run,
// with remote bases allowed, shows the fake git is found and run.
func TestRemoteBasesRunNoGit(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t)
	dir := t.TempDir()
	bin, tmp, roots := filepath.Join(dir, "bin"), filepath.Join(dir, "tmp"), filepath.Join(dir, "roots")
	marker := filepath.Join(dir, "git-was-run")
	for _, d := range []string{bin, tmp, roots} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\necho \"$@\" >> " + marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "TMPDIR=" + tmp, "REMOTE_URL=" + srv.URL, "ROOTS=" + roots}
	runInChild(t, "remote-git", env...)
	if _, err := os.Stat(marker); err == nil {
		data, _ := os.ReadFile(marker)
		t.Errorf("git was run: %s", data)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("left in $TMPDIR: %v", ents)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server was contacted %d times", n)
	}

	runInChild(t, "remote-git-allowed", env...)
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("control: kustomize did not run the fake git, so the check above proves nothing: %v", err)
	}
}

func TestRemoteFileAllowedByOption(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"kustomization.yaml": "resources:\n- " + srv.URL + "/cm.yaml\n"})
	objs := mustBuild(t, root, "", Options{AllowRemoteBases: true})
	if got := ids(objs); len(got) != 1 || got[0] != "ConfigMap//remote" {
		t.Fatalf("got %v", got)
	}
}
