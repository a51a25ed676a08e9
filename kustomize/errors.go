package kustomize

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gitopskit/kit/kustomize/internal/securefs"
)

// PathEscapeError reports a path that leads outside the source root: an
// absolute path, a ".." that climbs out, or a symlink resolving outside.
// Path is relative to the source root when the request named a path inside
// it (a symlink), and as requested otherwise.
type PathEscapeError = securefs.PathEscapeError

// ErrLimit is wrapped by errors for builds that would read more files or
// bytes than Options allow, whose YAML aliases expand too far
// (*AliasError), or whose substitution produces too much text.
var ErrLimit = securefs.ErrLimit

// AliasError reports a YAML file whose aliases would expand beyond
// Options.MaxAliasNodes, or that holds an alias inside its own anchor
// (which would make kustomize recurse until the process dies). It names
// the file and line and wraps ErrLimit.
type AliasError = securefs.AliasError

// ErrPanic is wrapped by the error returned when kustomize panicked.
var ErrPanic = errors.New("kustomize panicked")

// ErrPluginDisabled is wrapped by the error for a kustomization that uses a
// non-builtin plugin or KRM function (exec, container, Go plugin): they are
// always disabled.
var ErrPluginDisabled = errors.New("only builtin kustomize plugins are allowed")

// RemoteBaseError reports a reference to a remote base or file while remote
// bases are not allowed. The file holding it was never handed to kustomize.
type RemoteBaseError struct {
	// Kustomization is the file holding the reference (a kustomization or
	// a builtin plugin's configuration), relative to the source root.
	Kustomization string
	// Ref is the reference as written.
	Ref string
}

func (e *RemoteBaseError) Error() string {
	return fmt.Sprintf("%s: remote reference %q is not allowed", e.Kustomization, e.Ref)
}

// DuplicateError reports objects that the build produced more than once
// (same group, kind, namespace and name, whatever the version).
type DuplicateError struct {
	// Objects are the duplicated identities as group/kind/namespace/name.
	// When substitution made the identities equal, each is written as the
	// objects were before substitution ("/ConfigMap//cfg-${a} =
	// /ConfigMap//cfg-${b}"), so no substituted value appears.
	Objects []string
}

func (e *DuplicateError) Error() string {
	return "duplicate objects in build output: " + strings.Join(e.Objects, ", ")
}

// ManifestError reports a YAML file that the generator (a folder built
// without a kustomization) refuses to skip or include, because skipping it
// would silently drop objects from the build: a file that is not valid
// YAML, a document with only one of apiVersion and kind, or a file mixing
// Kubernetes objects with other documents. Fix the file, or exclude it with
// a .sourceignore file or Options.Ignore. The message names the file and,
// for syntax errors, the line; it never quotes the content.
type ManifestError struct {
	// Path is the file, relative to the source root.
	Path string
	Err  error
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("%s: %v (fix it, or exclude it in %s)", e.Path, e.Err, IgnoreFile)
}

func (e *ManifestError) Unwrap() error { return e.Err }

// VariableError reports a substitution failure in an object: an undefined
// variable in strict mode (Variable set), a malformed or unsupported
// reference (Variable and Reason set), too much substituted text (Err
// wraps ErrLimit), or an object that substitution left invalid. It names
// the object as it was before substitution, the field and the line; it
// never contains a value, nor the text of the reference.
type VariableError struct {
	// Object is kind/namespace/name, before substitution.
	Object string
	// Variable is the variable concerned, if known.
	Variable string
	// Field is the path of the field holding the reference (e.g.
	// spec.template.spec.containers[0].image), if known.
	Field string
	// Line is the line of that field in the object's YAML document as
	// written, or 0 when kustomize generated it.
	Line int
	// Reason describes failures other than an undefined variable.
	Reason string
	// Err is the underlying sentinel, if any (ErrLimit).
	Err error
}

func (e *VariableError) Error() string {
	var b strings.Builder
	b.WriteString("substituting variables in " + e.Object)
	if e.Field != "" {
		b.WriteString(" at " + e.Field)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	switch {
	case e.Variable != "" && e.Reason == "":
		fmt.Fprintf(&b, ": variable %q is not defined", e.Variable)
	case e.Variable != "":
		fmt.Fprintf(&b, ": variable %q: %s", e.Variable, e.Reason)
	default:
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

func (e *VariableError) Unwrap() error { return e.Err }

// DecryptError reports a SOPS-encrypted file that could not be decrypted.
// It names the file and, where it is readable in plain text, the object; it
// never contains key material.
type DecryptError struct {
	// Path is the file, relative to the source root.
	Path string
	// Object is kind/namespace/name of the (first) object in the file, or
	// "" if not a Kubernetes manifest or its identity is encrypted.
	Object string
	Err    error
}

func (e *DecryptError) Error() string {
	what := e.Path
	if e.Object != "" {
		what = e.Object + " (" + e.Path + ")"
	}
	return fmt.Sprintf("decrypting %s: %v", what, e.Err)
}

func (e *DecryptError) Unwrap() error { return e.Err }
