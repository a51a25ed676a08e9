package gitopsctl

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitopskit/kit/oci"
)

// credsEnv holds registry credentials, user:password, when --creds is not
// given (a flag's value shows in the process list; the environment does
// not).
const credsEnv = "GITOPSCTL_OCI_CREDS"

// registryOptions are the flags every artifact command shares.
type registryOptions struct {
	creds, dockerConfig, caFile string
	insecure                    bool
	timeout                     time.Duration
}

func (o *registryOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.creds, "creds", "", "Registry credentials, <user>:<password> (default: $"+credsEnv+").")
	f.StringVar(&o.dockerConfig, "docker-config", "", "A docker config.json to read registry credentials from (credential helpers are not run).")
	f.StringVar(&o.caFile, "ca-file", "", "A PEM file of CA certificates to trust for the registry.")
	f.BoolVar(&o.insecure, "insecure", false, "Talk plain HTTP to the registry.")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "How long the command may take.")
}

// client returns an oci client with the flags' settings. Credentials never
// appear in its errors (the oci module masks them).
func (o *registryOptions) client(a *app) (*oci.Client, error) {
	opts := []oci.Option{oci.WithUserAgent("gitopsctl/" + version()), oci.WithTimeout(o.timeout)}
	creds := o.creds
	if creds == "" {
		creds = a.opts.Getenv(credsEnv)
	}
	if creds != "" {
		user, pass, ok := strings.Cut(creds, ":")
		if !ok || user == "" {
			return nil, usageErrorf("--creds wants <user>:<password>")
		}
		opts = append(opts, oci.WithBasicAuth(user, pass))
	}
	if o.dockerConfig != "" {
		data, err := readBounded(o.dockerConfig, 1<<20)
		if err != nil {
			return nil, err
		}
		opts = append(opts, oci.WithDockerConfig(data))
	}
	if o.caFile != "" {
		pem, err := readBounded(o.caFile, 1<<20)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", o.caFile)
		}
		opts = append(opts, oci.WithRootCAs(pool))
	}
	if o.insecure {
		opts = append(opts, oci.WithInsecure(true))
	}
	return oci.NewClient(opts...)
}

// ociRef strips the oci:// scheme: the oci module takes host/repo[:tag].
func ociRef(s string) (string, error) {
	ref, ok := strings.CutPrefix(s, "oci://")
	if !ok {
		return "", usageErrorf("want an oci://<host>/<repository> URL, got %q", s)
	}
	return ref, nil
}

func (a *app) artifactCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artifact",
		Short: "Push, pull, tag and list OCI artifacts in Flux's format",
		Long: `artifact works with configuration artifacts in OCI registries, in the
format Flux uses (an OCIRepository pulls them, and flux push artifact
pushes the same): a reproducible tar.gz layer with the source and revision
annotations.`,
	}
	cmd.AddCommand(a.artifactPushCommand(), a.artifactPullCommand(), a.artifactTagCommand(), a.artifactListCommand())
	return cmd
}

func (a *app) artifactPushCommand() *cobra.Command {
	var (
		ro                     registryOptions
		path, source, revision string
		annotations            []string
	)
	cmd := &cobra.Command{
		Use:     "push oci://<host>/<repository>:<tag> --path <dir|file>",
		Short:   "Push a folder (or a file) as an artifact",
		Example: "  gitopsctl artifact push oci://ghcr.io/org/app-config:v1.2.0 --path ./deploy --source https://github.com/org/app --revision main@sha1:$(git rev-parse HEAD)",
		Args:    exactArgs(1, "oci://<host>/<repository>:<tag>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := ociRef(args[0])
			if err != nil {
				return err
			}
			if path == "" {
				return usageErrorf("artifact push: --path is required")
			}
			po := oci.PushOptions{Source: source, Revision: revision, Annotations: map[string]string{}}
			for _, kv := range annotations {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErrorf("--annotation wants <key>=<value>, got %q", kv)
				}
				po.Annotations[k] = v
			}
			c, err := ro.client(a)
			if err != nil {
				return err
			}
			fi, err := os.Stat(path)
			if err != nil {
				return fmt.Errorf("--path: %w", err)
			}
			a.err.step("pushing %s to %s", path, args[0])
			var digest string
			if fi.IsDir() {
				digest, err = c.Push(cmd.Context(), ref, path, po)
			} else {
				digest, err = c.PushFile(cmd.Context(), ref, path, po)
			}
			if err != nil {
				return err
			}
			repo := ref
			if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
				repo = ref[:i]
			}
			a.err.success("pushed %s", digest)
			fmt.Fprintf(a.stdout, "oci://%s@%s\n", repo, digest)
			return nil
		},
	}
	ro.bind(cmd)
	f := cmd.Flags()
	f.StringVar(&path, "path", "", "The folder (or file) to push (required).")
	f.StringVar(&source, "source", "", "The org.opencontainers.image.source annotation: where the content comes from.")
	f.StringVar(&revision, "revision", "", "The org.opencontainers.image.revision annotation, e.g. main@sha1:<commit>.")
	f.StringArrayVar(&annotations, "annotation", nil, "A further manifest annotation, <key>=<value> (repeatable).")
	return cmd
}

func (a *app) artifactPullCommand() *cobra.Command {
	var (
		ro     registryOptions
		output string
		semver string
	)
	cmd := &cobra.Command{
		Use:     "pull oci://<host>/<repository>[:<tag>|@<digest>] --output <dir>",
		Short:   "Pull an artifact into a folder",
		Example: "  gitopsctl artifact pull oci://ghcr.io/org/app-config:v1.2.0 --output ./out\n  gitopsctl artifact pull oci://ghcr.io/org/app-config --semver '1.x' --output ./out",
		Args:    exactArgs(1, "oci://<host>/<repository>:<tag>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := ociRef(args[0])
			if err != nil {
				return err
			}
			if output == "" {
				return usageErrorf("artifact pull: --output is required")
			}
			c, err := ro.client(a)
			if err != nil {
				return err
			}
			md, err := c.Pull(cmd.Context(), ref, output, oci.PullOptions{SemVer: semver})
			if err != nil {
				return err
			}
			a.err.success("pulled %s into %s", md.Revision, output)
			if md.SourceRevision != "" {
				a.err.line(plain, "  source %s at %s", orDash(md.Source), md.SourceRevision)
			}
			fmt.Fprintln(a.stdout, md.Revision)
			return nil
		},
	}
	ro.bind(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "The folder to extract into (required; replaced whole).")
	cmd.Flags().StringVar(&semver, "semver", "", "Without a tag: pull the highest tag in this semver range.")
	return cmd
}

func (a *app) artifactTagCommand() *cobra.Command {
	var (
		ro   registryOptions
		tags []string
	)
	cmd := &cobra.Command{
		Use:     "tag oci://<host>/<repository>:<tag> --tag <new tag>",
		Short:   "Point further tags at an artifact",
		Example: "  gitopsctl artifact tag oci://ghcr.io/org/app-config:v1.2.0 --tag latest --tag stable",
		Args:    exactArgs(1, "oci://<host>/<repository>:<tag>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := ociRef(args[0])
			if err != nil {
				return err
			}
			if len(tags) == 0 {
				return usageErrorf("artifact tag: --tag is required")
			}
			c, err := ro.client(a)
			if err != nil {
				return err
			}
			for _, t := range tags {
				if err := c.Tag(cmd.Context(), ref, t); err != nil {
					return err
				}
				a.err.success("tagged %s as %s", args[0], t)
			}
			return nil
		},
	}
	ro.bind(cmd)
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "The new tag (repeatable).")
	return cmd
}

func (a *app) artifactListCommand() *cobra.Command {
	var (
		ro            registryOptions
		semver, regex string
	)
	cmd := &cobra.Command{
		Use:     "list oci://<host>/<repository>",
		Short:   "List an artifact repository's tags with their digests",
		Example: "  gitopsctl artifact list oci://ghcr.io/org/app-config --semver '>=1.0.0'",
		Args:    exactArgs(1, "oci://<host>/<repository>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := ociRef(args[0])
			if err != nil {
				return err
			}
			c, err := ro.client(a)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), ro.timeout)
			defer cancel()
			tags, err := c.List(ctx, repo, oci.ListOptions{SemVer: semver, TagRegexp: regex})
			if err != nil {
				return err
			}
			t := a.out.table("ARTIFACT", "DIGEST")
			for _, tag := range tags {
				d, err := c.Resolve(ctx, repo+":"+tag)
				if err != nil {
					if errors.Is(err, context.DeadlineExceeded) {
						return err
					}
					d = "(" + err.Error() + ")"
				}
				t.row("oci://"+repo+":"+tag, d)
			}
			t.flush()
			return nil
		},
	}
	ro.bind(cmd)
	cmd.Flags().StringVar(&semver, "semver", "", "Only the tags in this semver range, highest first.")
	cmd.Flags().StringVar(&regex, "filter-regex", "", "Only the tags this regular expression matches.")
	return cmd
}
