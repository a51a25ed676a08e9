package gitopsctl

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

type convertOptions struct {
	from   string
	output string
}

func (a *app) convertCommand() *cobra.Command {
	var o convertOptions
	cmd := &cobra.Command{
		Use:   "convert --from-flux <file|dir|->",
		Short: "Rewrite Flux manifests into gitopsd's kinds",
		Long: `convert --from-flux reads Flux manifests (a file, every .yaml/.yml file of
a folder, or - for stdin) and rewrites them for gitopsd: the
source.toolkit.fluxcd.io and kustomize.toolkit.fluxcd.io kinds become
gitopsd's (source.gitopskit.dev/v1, kustomize.gitopskit.dev/v1), references
to them (sourceRef.apiVersion) follow, and Flux's annotations and labels on
any object become gitopsd's (kustomize.toolkit.fluxcd.io/prune: disabled →
ssa.gitopskit.dev/prune: disabled, reconcile.fluxcd.io/requestedAt →
reconcile.gitopskit.dev/requestedAt, ...). Comments and the order of
fields are kept; documents with nothing to rewrite are written as they
were.

Every field of a converted object is checked against gitopsd's CRD: a
field gitopsd does not have is dropped, a value it does not take is kept,
and each is reported on stderr, as is every Flux kind gitopsd has no
equivalent for (left out). The exit code is 1 when anything could not be
carried over, so a migration script stops there.

The result goes to stdout, or with --output into a folder, mirroring the
input's files.`,
		Example: "  gitopsctl convert --from-flux ./clusters/production > converted.yaml\n  gitopsctl convert --from-flux ./clusters --output ./clusters-gitopsd",
		Args:    exactArgs(0, "no arguments (the input is --from-flux)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.from == "" {
				return usageErrorf("convert: --from-flux <file|dir|-> is required")
			}
			return a.convert(o)
		},
	}
	cmd.Flags().StringVar(&o.from, "from-flux", "", "The Flux manifests: a file, a folder (every .yaml and .yml file below it) or - for stdin.")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "Write the converted files into this folder instead of stdout.")
	return cmd
}

// inputFile is a file to convert.
type inputFile struct {
	rel  string // path relative to the input (the file's name for a file)
	data []byte
}

// readInputs reads the files convert works on, within the limits.
func (a *app) readInputs(from string) ([]inputFile, error) {
	if from == "-" {
		data, err := readAllBounded(a.stdin, "stdin", maxInputFile)
		if err != nil {
			return nil, err
		}
		return []inputFile{{rel: "stdin.yaml", data: data}}, nil
	}
	fi, err := os.Stat(from)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		data, err := readBounded(from, maxInputFile)
		if err != nil {
			return nil, err
		}
		return []inputFile{{rel: filepath.Base(from), data: data}}, nil
	}
	var files []inputFile
	total := int64(0)
	err = filepath.WalkDir(from, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != from && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		// Regular files only: a link could point anywhere.
		if !e.Type().IsRegular() {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if len(files) >= maxInputFiles {
			return fmt.Errorf("%s: %w: more than %d YAML files", from, errTooLarge, maxInputFiles)
		}
		data, err := readBounded(p, maxInputFile)
		if err != nil {
			return err
		}
		if total += int64(len(data)); total > maxInputTotal {
			return fmt.Errorf("%s: %w: more than %d bytes of YAML", from, errTooLarge, maxInputTotal)
		}
		rel, _ := filepath.Rel(from, p)
		files = append(files, inputFile{rel: filepath.ToSlash(rel), data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, nil
}

// convertFile converts every document of a file and returns the file as
// it is to be written, with the file's issues prefixed by its name.
func convertFile(cv *converter, f inputFile) ([]byte, []issue, int, error) {
	docs := splitDocuments(f.data)
	if len(docs) > maxDocuments {
		return nil, nil, 0, fmt.Errorf("%s: %w: more than %d YAML documents", f.rel, errTooLarge, maxDocuments)
	}
	var out bytes.Buffer
	var issues []issue
	fluxObjects := 0
	written := 0
	for _, d := range docs {
		res, err := cv.convertDocument(d.text)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%s:%d: %w", f.rel, d.line, err)
		}
		for _, is := range res.issues {
			is.Object = fmt.Sprintf("%s:%d: %s", f.rel, d.line+max(is.Line, 1)-1, is.Object)
			issues = append(issues, is)
		}
		if res.flux {
			fluxObjects++
		}
		if res.text == nil {
			continue
		}
		if written > 0 || len(d.sep) > 0 {
			sep := d.sep
			if len(sep) == 0 || !bytes.HasSuffix(sep, []byte("\n")) {
				sep = []byte("---\n")
			}
			if written > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
				out.WriteByte('\n')
			}
			out.Write(sep)
		}
		out.Write(res.text)
		written++
	}
	return out.Bytes(), issues, fluxObjects, nil
}

func (a *app) convert(o convertOptions) error {
	cv, err := newConverter()
	if err != nil {
		return err
	}
	files, err := a.readInputs(o.from)
	if err != nil {
		return err
	}
	var all []issue
	objects := 0
	for i, f := range files {
		text, issues, n, err := convertFile(cv, f)
		if err != nil {
			return err
		}
		all = append(all, issues...)
		objects += n
		if o.output != "" {
			dst := filepath.Join(o.output, filepath.FromSlash(f.rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(dst, text, 0o644); err != nil {
				return err
			}
			continue
		}
		if len(files) > 1 {
			if i > 0 {
				fmt.Fprintln(a.stdout, "---")
			}
			fmt.Fprintf(a.stdout, "# Source: %s\n", f.rel)
		}
		if _, err := a.stdout.Write(text); err != nil {
			return err
		}
		if len(text) > 0 && !bytes.HasSuffix(text, []byte("\n")) {
			fmt.Fprintln(a.stdout)
		}
	}
	for _, is := range all {
		a.err.warn("%s", is)
	}
	summary := fmt.Sprintf("converted %d Flux %s in %d %s", objects, plural(objects, "object"), len(files), plural(len(files), "file"))
	if len(all) > 0 {
		what := "fields or objects"
		if len(all) == 1 {
			what = "field or object"
		}
		return failedf("%s; %d %s could not be carried over (see above)", summary, len(all), what)
	}
	a.err.success("%s", summary)
	return nil
}
