package kustomize

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Defaults of SetImagesOptions.
const (
	// DefaultSetterMaxFiles is the number of YAML files SetImages reads
	// when SetImagesOptions.MaxFiles is zero.
	DefaultSetterMaxFiles = 10_000
	// DefaultSetterMaxFileSize is the size of the largest YAML file
	// SetImages reads when SetImagesOptions.MaxFileSize is zero.
	DefaultSetterMaxFileSize = 4 << 20
)

// ImagePolicyMarker is the key of the comment that marks a field for
// SetImages, as Flux's image automation writes it:
//
//	image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "apps:app"}
//	tag: 1.0.0                  # {"$imagepolicy": "apps:app:tag"}
const ImagePolicyMarker = "$imagepolicy"

// maxMarker bounds the comment parsed as a marker.
const maxMarker = 1024

// ImageRef is the image an image policy chose.
type ImageRef struct {
	// Name is the image's name, e.g. "ghcr.io/org/app".
	Name string
	// Tag is the chosen tag, e.g. "1.2.0".
	Tag string
	// Digest, when set, is the tag's manifest digest ("sha256:<hex>"):
	// a marker without a suffix then gets "name:tag@digest".
	Digest string
}

// SetImagesOptions are the knobs of SetImages.
type SetImagesOptions struct {
	// Policies are the chosen images by policy, keyed "namespace:name".
	Policies map[string]ImageRef
	// MaxFiles bounds the YAML files read (DefaultSetterMaxFiles when 0).
	MaxFiles int
	// MaxFileSize bounds one YAML file (DefaultSetterMaxFileSize when 0).
	MaxFileSize int64
	// DryRun reports what would change and writes nothing.
	DryRun bool
}

// SetImagesResult is what SetImages changed and what it could not.
type SetImagesResult struct {
	// Files are the files changed (or that would change, with DryRun),
	// sorted by path.
	Files []FileChange
	// Unresolved are the markers that name a policy not in
	// SetImagesOptions.Policies.
	Unresolved []Marker
	// Warnings are markers SetImages saw but could not apply (inside a
	// string or a block scalar, on a value that is not a single-line
	// scalar) and files it skipped (symlinks, files over MaxFileSize,
	// YAML that does not parse). Nothing is changed for them.
	Warnings []string
}

// Changed reports whether any file changed.
func (r *SetImagesResult) Changed() bool { return len(r.Files) > 0 }

// FileChange lists the fields changed in one file.
type FileChange struct {
	// Path is the file's slash-separated path relative to the root.
	Path string
	// Fields are the changed fields in file order.
	Fields []FieldChange
}

// FieldChange is one changed field.
type FieldChange struct {
	Marker
	// Object is the object the field belongs to.
	Object ObjectRef
	// Old and New are the field's values before and after.
	Old, New string
}

// Marker is a $imagepolicy marker in a file.
type Marker struct {
	// Path is the file's slash-separated path relative to the root.
	Path string
	// Line is the marker's 1-based line.
	Line int
	// Policy is "namespace:name".
	Policy string
	// Field is "", "tag", "name" or "digest": the part of the image the
	// marked value holds.
	Field string
}

// ObjectRef names an object of a YAML stream.
type ObjectRef struct {
	APIVersion, Kind, Namespace, Name string
}

// SetImages rewrites the fields marked with an ImagePolicyMarker comment
// in the YAML files under dir, a slash-separated folder inside root (""
// for root itself), to the images of o.Policies: the whole reference
// ("name:tag", "name:tag@digest" with a digest), or with a ":tag",
// ":name" or ":digest" suffix that part alone.
//
// Only the marked values change: every other byte of a file — comments,
// order, quoting, indentation, line ends — stays as it was, and a
// rewritten value keeps its quoting style. A file is written only when a
// value in it changes, atomically (a temporary file renamed over it) and
// with its mode kept, so a run that changes nothing writes nothing; and
// only once every file was read and planned, so an error (a limit crossed,
// a cancelled context) leaves every file as it was.
//
// SetImages stays inside root: files are opened through os.Root, symlinks
// are skipped (reported in Warnings) whatever they point to, and dir may
// not leave root (*PathEscapeError). A marker that cannot be applied
// safely — text inside a string or a block scalar that looks like a
// marker, a multi-line value — is reported in Warnings, never guessed at.
// A value to write must be a plain image reference (no spaces, quotes,
// newlines or YAML syntax), so a hostile tag cannot inject YAML. Files
// other than *.yaml and *.yml and folders starting with "." are ignored.
func SetImages(ctx context.Context, root, dir string, o SetImagesOptions) (*SetImagesResult, error) {
	for key, ref := range o.Policies {
		if err := checkImageRef(ref); err != nil {
			return nil, fmt.Errorf("policy %q: %w", key, err)
		}
	}
	rel, err := relativeDir(root, dir)
	if err != nil {
		return nil, err
	}
	dir = rel
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("opening root: %w", err)
	}
	defer r.Close()
	if fi, err := r.Lstat(dir); err != nil {
		return nil, fmt.Errorf("update path %q: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("update path %q is not a folder", dir)
	}
	maxFiles := o.MaxFiles
	if maxFiles <= 0 {
		maxFiles = DefaultSetterMaxFiles
	}
	maxSize := o.MaxFileSize
	if maxSize <= 0 {
		maxSize = DefaultSetterMaxFileSize
	}
	res := &SetImagesResult{}
	var writes []pendingWrite
	files := 0
	err = fs.WalkDir(r.FS(), dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		ext := path.Ext(p)
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: a symlink, skipped", p))
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if files++; files > maxFiles {
			return fmt.Errorf("%w: more than %d YAML files under %q", ErrLimit, maxFiles, dir)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > maxSize {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %d bytes, over the limit of %d, skipped", p, info.Size(), maxSize))
			return nil
		}
		w, err := planFile(r, p, info.Mode().Perm(), maxSize, o, res)
		if w != nil {
			writes = append(writes, *w)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// Nothing is written unless the whole walk succeeded: a limit crossed
	// or a cancelled context leaves every file as it was.
	if !o.DryRun {
		for _, w := range writes {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := w.apply(r, maxSize); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Path < res.Files[j].Path })
	return res, nil
}

// pendingWrite is a file to rewrite once the walk is over.
type pendingWrite struct {
	path  string
	mode  fs.FileMode
	sum   [sha256.Size]byte
	edits []edit
}

// apply reads the file again, checks it is the one planned on, and
// writes it with the edits made.
func (w pendingWrite) apply(r *os.Root, maxSize int64) error {
	data, err := readBounded(r, w.path, maxSize)
	if err != nil {
		return err
	}
	if sha256.Sum256(data) != w.sum {
		return fmt.Errorf("%s changed while its images were set", w.path)
	}
	return writeAtomic(r, w.path, applyEdits(data, w.edits), w.mode)
}

// relativeDir returns dir as a slash-separated path relative to root: an
// absolute dir must be inside root, a relative one may not climb out.
func relativeDir(root, dir string) (string, error) {
	orig := dir
	if filepath.IsAbs(dir) {
		absRoot, err := filepath.Abs(root)
		if err != nil {
			return "", err
		}
		r, err := filepath.Rel(absRoot, dir)
		if err != nil {
			return "", &PathEscapeError{Path: orig, Reason: "not inside the root"}
		}
		dir = r
	}
	dir = path.Clean(filepath.ToSlash(dir))
	if dir == ".." || strings.HasPrefix(dir, "../") || path.IsAbs(dir) || !fs.ValidPath(dir) {
		return "", &PathEscapeError{Path: orig, Reason: "outside the root"}
	}
	return dir, nil
}

// planFile finds the markers of one file and returns the write that
// applies them, or nil when nothing in it changes.
func planFile(r *os.Root, p string, mode fs.FileMode, maxSize int64, o SetImagesOptions, res *SetImagesResult) (*pendingWrite, error) {
	data, err := readBounded(r, p, maxSize)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte(ImagePolicyMarker)) {
		return nil, nil
	}
	edits, markers, warnings, err := findMarkers(p, data)
	if err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %v, skipped", p, err))
		return nil, nil
	}
	res.Warnings = append(res.Warnings, warnings...)
	var fc FileChange
	var changes []edit
	for i, m := range markers {
		ref, ok := o.Policies[m.Policy]
		if !ok {
			res.Unresolved = append(res.Unresolved, m)
			continue
		}
		e := edits[i]
		val := ref.field(m.Field)
		if val == e.old {
			continue
		}
		e.new = val
		changes = append(changes, e)
		fc.Fields = append(fc.Fields, FieldChange{Marker: m, Object: e.object, Old: e.old, New: val})
	}
	if len(changes) == 0 {
		return nil, nil
	}
	fc.Path = p
	res.Files = append(res.Files, fc)
	return &pendingWrite{path: p, mode: mode, sum: sha256.Sum256(data), edits: changes}, nil
}

// field returns the part of the image a marker suffix names.
func (ref ImageRef) field(f string) string {
	switch f {
	case "tag":
		return ref.Tag
	case "name":
		return ref.Name
	case "digest":
		return ref.Digest
	}
	s := ref.Name + ":" + ref.Tag
	if ref.Digest != "" {
		s += "@" + ref.Digest
	}
	return s
}

// checkImageRef refuses values that are not plain image references: what
// SetImages writes into YAML must stay one plain scalar.
func checkImageRef(ref ImageRef) error {
	if ref.Name == "" || ref.Tag == "" {
		return errors.New("an image needs a name and a tag")
	}
	for _, part := range []struct{ what, v string }{{"name", ref.Name}, {"tag", ref.Tag}, {"digest", ref.Digest}} {
		for i := 0; i < len(part.v); i++ {
			c := part.v[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-/:@", c) >= 0 {
				continue
			}
			return fmt.Errorf("image %s %q has a character an image reference cannot hold (%q)", part.what, part.v, c)
		}
		if len(part.v) > 512 {
			return fmt.Errorf("image %s longer than 512 bytes", part.what)
		}
	}
	if strings.ContainsAny(ref.Tag, "/:@") {
		return fmt.Errorf("image tag %q holds '/', ':' or '@'", ref.Tag)
	}
	if ref.Digest != "" && !strings.HasPrefix(ref.Digest, "sha256:") && !strings.HasPrefix(ref.Digest, "sha512:") {
		return fmt.Errorf("image digest %q is not sha256:<hex> or sha512:<hex>", ref.Digest)
	}
	return nil
}

func readBounded(r *os.Root, p string, maxSize int64) ([]byte, error) {
	f, err := r.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if n > maxSize {
		return nil, fmt.Errorf("%w: %s grew over %d bytes while read", ErrLimit, p, maxSize)
	}
	return buf.Bytes(), nil
}

// writeAtomic replaces p with data through a temporary file in the same
// folder.
func writeAtomic(r *os.Root, p string, data []byte, mode fs.FileMode) error {
	tmp := path.Join(path.Dir(p), "."+path.Base(p)+".gitopskit-tmp")
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		_ = r.Remove(tmp)
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		_ = r.Remove(tmp)
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := r.Rename(tmp, p); err != nil {
		_ = r.Remove(tmp)
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// parseMarker reads a line comment as a marker: "# {"$imagepolicy": "ns:name[:field]"}".
func parseMarker(comment string) (policy, field string, ok bool, err error) {
	c := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(comment), "#"))
	if !strings.HasPrefix(c, "{") || !strings.Contains(c, ImagePolicyMarker) {
		return "", "", false, nil
	}
	if len(c) > maxMarker {
		return "", "", true, fmt.Errorf("marker longer than %d bytes", maxMarker)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(c), &m); err != nil {
		return "", "", true, fmt.Errorf("marker %s is not a JSON object of strings", c)
	}
	v, has := m[ImagePolicyMarker]
	if !has {
		return "", "", false, nil
	}
	parts := strings.Split(v, ":")
	switch {
	case len(parts) == 2:
	case len(parts) == 3 && (parts[2] == "tag" || parts[2] == "name" || parts[2] == "digest"):
		field = parts[2]
	default:
		return "", "", true, fmt.Errorf("marker %q is not \"namespace:name\" with an optional \":tag\", \":name\" or \":digest\"", v)
	}
	if parts[0] == "" || parts[1] == "" {
		return "", "", true, fmt.Errorf("marker %q names no policy", v)
	}
	return parts[0] + ":" + parts[1], field, true, nil
}
