package gitopsctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/kit/git"
	"github.com/gitopskit/kit/git/gogit"
	"github.com/gitopskit/kit/ssa"

	kustomizev1 "github.com/gitopskit/kit/examples/api/kustomize/v1"
	"github.com/gitopskit/kit/examples/api/meta"
	sourcev1 "github.com/gitopskit/kit/examples/api/source/v1"
	ksctl "github.com/gitopskit/kit/examples/internal/controller/kustomize"
)

// Environment variables holding git credentials, read when the matching
// file flag is not given (a flag's value shows in the process list).
const (
	gitPasswordEnv = "GITOPSCTL_GIT_PASSWORD"
	gitTokenEnv    = "GITOPSCTL_GIT_TOKEN"
)

// syncName names the GitRepository, Kustomization, Secret and folder of a
// bootstrap, as Flux's flux-system does.
const syncName = systemNamespace

// Files bootstrap writes into <path>/gitopskit-system/.
const (
	componentsFile = "gitopsd.yaml"
	syncFile       = "sync.yaml"
	kustomizeFile  = "kustomization.yaml"
)

type bootstrapOptions struct {
	url, branch, path                      string
	username, passwordFile, tokenFile      string
	privateKeyFile, knownHostsFile, caFile string
	allowInsecureHTTP                      bool
	interval                               time.Duration
	image, authorName, authorEmail         string
	wait                                   bool
	timeout                                time.Duration
}

func (a *app) bootstrapCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Install gitopsd from a git repository it then keeps in sync, itself included",
	}
	cmd.AddCommand(a.bootstrapGitCommand())
	return cmd
}

func (a *app) bootstrapGitCommand() *cobra.Command {
	var o bootstrapOptions
	cmd := &cobra.Command{
		Use:   "git --url <repository> --branch <branch> --path <dir>",
		Short: "Bootstrap gitopsd from a git repository (HTTPS or SSH)",
		Long: `bootstrap git commits gitopsd's manifests (` + componentsFile + `), a GitRepository and a
Kustomization that sync --path of the repository (` + syncFile + `), and a
kustomization.yaml into <path>/` + syncName + `/ of the branch, pushes them,
applies them to the cluster (with the credentials in a Secret ` + syncName + `,
never committed), and waits until gitopsd has applied that commit itself:
from then on gitopsd manages itself from the repository.

Run again, it changes nothing unless the manifests changed (a new
gitopsctl, another --image): no commit, no write to the cluster.

Credentials: HTTPS with --username and a password from --password-file
or $` + gitPasswordEnv + `, or a bearer token from --token-file or $` + gitTokenEnv + `;
SSH with --private-key-file and --known-hosts-file (a key passphrase from
$` + gitPasswordEnv + `). --ca-file trusts a CA for HTTPS. No credential is ever
printed.`,
		Example: `  GITOPSCTL_GIT_PASSWORD=$TOKEN gitopsctl bootstrap git --url https://github.com/org/fleet --username git --branch main --path clusters/production
  gitopsctl bootstrap git --url ssh://git@github.com/org/fleet --private-key-file ~/.ssh/fleet --known-hosts-file ./known_hosts --path clusters/staging`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.bootstrap(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "The repository: https://, http:// or ssh:// (required).")
	f.StringVar(&o.branch, "branch", "main", "The branch to commit to and sync (created when missing).")
	f.StringVar(&o.path, "path", "", "The folder of the repository gitopsd syncs, e.g. clusters/production (required).")
	f.StringVar(&o.username, "username", "", "The HTTPS user name.")
	f.StringVar(&o.passwordFile, "password-file", "", "A file holding the HTTPS password (or $"+gitPasswordEnv+").")
	f.StringVar(&o.tokenFile, "token-file", "", "A file holding an HTTPS bearer token (or $"+gitTokenEnv+").")
	f.StringVar(&o.privateKeyFile, "private-key-file", "", "The SSH private key.")
	f.StringVar(&o.knownHostsFile, "known-hosts-file", "", "The SSH known_hosts of the server (required with SSH).")
	f.StringVar(&o.caFile, "ca-file", "", "A PEM file of CA certificates to trust for HTTPS.")
	f.BoolVar(&o.allowInsecureHTTP, "allow-insecure-http", false, "Send credentials over plain http://.")
	f.DurationVar(&o.interval, "interval", time.Minute, "How often gitopsd looks for a new commit.")
	f.StringVar(&o.image, "image", "", "The gitopsd image (default "+DefaultImage+":latest).")
	f.StringVar(&o.authorName, "author-name", "gitopsctl", "The author of the commit.")
	f.StringVar(&o.authorEmail, "author-email", "gitopsctl@gitopskit.dev", "The author's email.")
	f.BoolVar(&o.wait, "wait", true, "Wait until gitopsd has applied the commit itself.")
	f.DurationVar(&o.timeout, "timeout", DefaultTimeout, "How long to wait for gitopsd.")
	return cmd
}

// gitCredentials reads the credentials the flags name: the AuthOptions of
// the push and the data of the Secret gitopsd fetches with.
func (a *app) gitCredentials(o bootstrapOptions) (git.AuthOptions, map[string][]byte, error) {
	auth := git.AuthOptions{AllowInsecureHTTP: o.allowInsecureHTTP}
	data := map[string][]byte{}
	read := func(file, env string) ([]byte, error) {
		if file != "" {
			b, err := readBounded(file, 64<<10)
			return bytes.TrimRight(b, "\r\n"), err
		}
		if env != "" {
			return []byte(a.opts.Getenv(env)), nil
		}
		return nil, nil
	}
	scheme, err := git.Scheme(o.url)
	if err != nil {
		return auth, nil, usageErrorf("--url: %v", err)
	}
	password, err := read(o.passwordFile, gitPasswordEnv)
	if err != nil {
		return auth, nil, err
	}
	if scheme == "ssh" {
		if o.privateKeyFile == "" || o.knownHostsFile == "" {
			return auth, nil, usageErrorf("an ssh:// repository needs --private-key-file and --known-hosts-file")
		}
		if auth.Identity, err = read(o.privateKeyFile, ""); err != nil {
			return auth, nil, err
		}
		auth.Identity = append(auth.Identity, '\n')
		if auth.KnownHosts, err = read(o.knownHostsFile, ""); err != nil {
			return auth, nil, err
		}
		auth.Password = string(password)
		data[git.SecretIdentity], data[git.SecretKnownHosts] = auth.Identity, auth.KnownHosts
		if len(password) > 0 {
			data[git.SecretPassword] = password
		}
	} else {
		token, err := read(o.tokenFile, gitTokenEnv)
		if err != nil {
			return auth, nil, err
		}
		switch {
		case len(token) > 0:
			auth.BearerToken = string(token)
			data[git.SecretBearerToken] = token
		case o.username != "" || len(password) > 0:
			auth.Username, auth.Password = o.username, string(password)
			data[git.SecretUsername], data[git.SecretPassword] = []byte(o.username), password
		}
	}
	if o.caFile != "" {
		if auth.CA, err = readBounded(o.caFile, 1<<20); err != nil {
			return auth, nil, err
		}
		data[git.SecretCA] = auth.CA
	}
	if err := auth.Validate(o.url); err != nil {
		return auth, nil, usageErrorf("%v", err)
	}
	return auth, data, nil
}

// syncPath cleans --path into the repository folder gitopsd syncs.
func syncPath(p string) (string, error) {
	clean := path.Clean("/" + filepath.ToSlash(p))[1:]
	if p == "" || strings.Contains(filepath.ToSlash(p), "..") || clean == "" || strings.Contains(clean, "\\") {
		return "", usageErrorf("--path %q: want a folder of the repository, e.g. clusters/production", p)
	}
	return clean, nil
}

// syncObjects are the GitRepository and Kustomization of a bootstrap.
func syncObjects(o bootstrapOptions, dir string, withSecret bool) (*sourcev1.GitRepository, *kustomizev1.Kustomization) {
	repo := &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Name: syncName, Namespace: systemNamespace},
		Spec: sourcev1.GitRepositorySpec{
			URL:       o.url,
			Reference: &sourcev1.GitRepositoryRef{Branch: o.branch},
			Interval:  metav1.Duration{Duration: o.interval},
		},
	}
	if withSecret {
		repo.Spec.SecretRef = &meta.LocalObjectReference{Name: syncName}
	}
	ks := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Name: syncName, Namespace: systemNamespace},
		Spec: kustomizev1.KustomizationSpec{
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: syncName},
			Path:      "./" + dir,
			Interval:  metav1.Duration{Duration: 10 * time.Minute},
			Prune:     true,
		},
	}
	return repo, ks
}

// manifestFiles renders the files bootstrap commits.
func manifestFiles(dir string, components []*unstructured.Unstructured, sync ...client.Object) (map[string][]byte, []*unstructured.Unstructured, error) {
	var comp bytes.Buffer
	comp.WriteString("# gitopsd's components, written by gitopsctl bootstrap (" + version() + "): gitopsd keeps them applied.\n")
	if err := writeManifests(&comp, components); err != nil {
		return nil, nil, err
	}
	var syncDoc bytes.Buffer
	syncDoc.WriteString("# The repository and folder gitopsd keeps this cluster in sync with, written by gitopsctl bootstrap.\n")
	var syncObjs []*unstructured.Unstructured
	for _, o := range sync {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, nil, err
		}
		u := &unstructured.Unstructured{Object: m}
		c := clean(u)
		data, err := yaml.Marshal(c)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(&syncDoc, "---\n%s", data)
		syncObjs = append(syncObjs, &unstructured.Unstructured{Object: c})
	}
	kz := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + componentsFile + "\n  - " + syncFile + "\n"
	base := dir + "/" + syncName + "/"
	return map[string][]byte{
		base + componentsFile: comp.Bytes(),
		base + syncFile:       syncDoc.Bytes(),
		base + kustomizeFile:  []byte(kz),
	}, syncObjs, nil
}

func (a *app) bootstrap(ctx context.Context, o bootstrapOptions) error {
	if o.url == "" {
		return usageErrorf("bootstrap git: --url is required")
	}
	dir, err := syncPath(o.path)
	if err != nil {
		return err
	}
	auth, secretData, err := a.gitCredentials(o)
	if err != nil {
		return err
	}
	cl, err := a.cluster()
	if err != nil {
		return err
	}
	components, err := a.components(ctx, o.image)
	if err != nil {
		return err
	}
	repoObj, ksObj := syncObjects(o, dir, len(secretData) > 0)
	files, syncObjs, err := manifestFiles(dir, components, repoObj, ksObj)
	if err != nil {
		return err
	}

	rev, err := a.commitManifests(ctx, o, auth, files)
	if err != nil {
		return err
	}

	// Applied with gitopsd's own field manager and ownership labels, so
	// that gitopsd finds them unchanged when it takes over.
	mgr, err := ksctl.NewApplyManager(cl.c, ksObj)
	if err != nil {
		return err
	}
	if err := a.applySet(ctx, mgr, components, "gitopsd's components"); err != nil {
		return err
	}
	if len(secretData) > 0 {
		sec := &unstructured.Unstructured{}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: syncName, Namespace: systemNamespace},
			Data:       secretData,
		})
		if err != nil {
			return err
		}
		sec.Object = m
		unstructured.RemoveNestedField(sec.Object, "metadata", "creationTimestamp")
		smgr, err := ssa.NewManager(cl.c, ssa.Owner{Field: fieldManager})
		if err != nil {
			return err
		}
		if err := a.applySet(ctx, smgr, []*unstructured.Unstructured{sec}, "the git credentials Secret "+systemNamespace+"/"+syncName); err != nil {
			return err
		}
	}
	if err := a.applySet(ctx, mgr, syncObjs, "the sync objects"); err != nil {
		return err
	}
	if !o.wait {
		return nil
	}
	return a.waitSelfManaged(ctx, cl, rev, o.timeout)
}

// commitManifests clones the branch, writes the files, and commits and
// pushes them when they changed. It returns the branch's revision.
func (a *app) commitManifests(ctx context.Context, o bootstrapOptions, auth git.AuthOptions, files map[string][]byte) (string, error) {
	remote, err := gogit.New(o.url, gogit.WithAuth(auth))
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "gitopsctl-bootstrap-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	work := filepath.Join(tmp, "repo")
	display := git.RedactURL(o.url)
	a.err.step("cloning branch %s of %s", o.branch, display)
	head := ""
	res, err := remote.Clone(ctx, work, gogit.CloneOptions{Reference: git.Reference{Branch: o.branch}})
	switch {
	case err == nil:
		head = res.Commit.Hash
	case errors.Is(err, git.ErrEmptyRepository):
		a.err.line(plain, "  the repository is empty: starting branch %s", o.branch)
		if err := os.RemoveAll(work); err != nil {
			return "", err
		}
		if err := remote.Init(ctx, work, o.branch); err != nil {
			return "", err
		}
	case errors.Is(err, git.ErrReferenceNotFound):
		a.err.line(plain, "  no branch %s yet: starting it from the default branch", o.branch)
		if err := os.RemoveAll(work); err != nil {
			return "", err
		}
		if _, err := remote.Clone(ctx, work, gogit.CloneOptions{}); err != nil {
			return "", fmt.Errorf("cloning %s: %w", display, err)
		}
		if err := remote.SwitchBranch(ctx, work, o.branch, true); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("cloning %s: %w", display, err)
	}
	changed := map[string][]byte{}
	for name, data := range files {
		old, err := os.ReadFile(filepath.Join(work, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(old, data) {
			changed[name] = data
		}
	}
	if len(changed) == 0 && head != "" {
		rev := git.Revision(o.branch, head)
		a.err.success("the repository already holds these manifests at %s", rev)
		return rev, nil
	}
	msg := "Add gitopsd's manifests"
	if head != "" {
		msg = "Update gitopsd's manifests"
	}
	hash, err := remote.Commit(ctx, work, gogit.CommitOptions{
		Author:  git.Signature{Name: o.authorName, Email: o.authorEmail},
		Message: msg + " (gitopsctl bootstrap)",
		Files:   changed,
	})
	if err != nil {
		return "", err
	}
	refspec := "refs/heads/" + o.branch + ":refs/heads/" + o.branch
	if err := remote.Push(ctx, work, gogit.PushOptions{RefSpecs: []string{refspec}}); err != nil {
		return "", fmt.Errorf("pushing to %s: %w", display, err)
	}
	rev := git.Revision(o.branch, hash)
	a.err.success("committed and pushed %d %s as %s", len(changed), plural(len(changed), "file"), rev)
	return rev, nil
}

// waitSelfManaged waits until the bootstrap Kustomization has applied rev:
// gitopsd then manages itself. It asks for a reconcile first, unless the
// Kustomization is there already.
func (a *app) waitSelfManaged(ctx context.Context, cl *cluster, rev string, timeout time.Duration) error {
	ksKind, _ := kindByName(kustomizev1.KustomizationKind)
	repoKind, _ := kindByName(sourcev1.GitRepositoryKind)
	key := client.ObjectKey{Namespace: systemNamespace, Name: syncName}
	done := func(u *unstructured.Unstructured) bool {
		s := ksKind.statusOf(u)
		return s.Current && s.Ready == metav1.ConditionTrue && s.Revision == rev
	}
	if obj, err := cl.get(ctx, ksKind, key); err == nil && done(obj) {
		a.err.success("gitopsd manages itself: Kustomization %s applied %s", displayKey(key), rev)
		return nil
	}
	if _, _, err := requestReconcile(ctx, cl, repoKind, key, false, false, nil); err != nil {
		return err
	}
	a.err.waiting("waiting for gitopsd to apply %s", rev)
	start := a.opts.Now()
	final, err := a.waitFor(ctx, cl, ksKind, key, "", timeout, done, start)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			last := ""
			if final != nil {
				s := ksKind.statusOf(final)
				last = fmt.Sprintf(" (Ready=%s %s: %s)", orUnknown(s.Ready), s.Reason, oneLine(s.Message))
			}
			return failedf("gitopsd did not apply %s within %s%s: is the gitopsd Deployment running? (gitopsctl check)", rev, timeout, last)
		}
		return err
	}
	a.err.success("gitopsd manages itself: Kustomization %s applied %s in %s", displayKey(key), rev, elapsed(a.opts.Now().Sub(start)))
	return nil
}
