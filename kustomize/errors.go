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
// bytes than Options allow.
var ErrLimit = securefs.ErrLimit

// ErrPanic is wrapped by the error returned when kustomize panicked.
var ErrPanic = errors.New("kustomize panicked")

// ErrPluginDisabled is wrapped by the error for a kustomization that uses a
// non-builtin plugin or KRM function (exec, container, Go plugin): they are
// always disabled.
var ErrPluginDisabled = errors.New("only builtin kustomize plugins are allowed")

// RemoteBaseError reports a reference to a remote base or file while remote
// bases are not allowed.
type RemoteBaseError struct {
	// Kustomization is the kustomization file holding the reference,
	// relative to the source root.
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
// variable in strict mode (Variable set), or an object that substitution
// left invalid. It never contains a variable's value.
type VariableError struct {
	// Object is kind/namespace/name.
	Object string
	// Variable is the undefined variable, if that is the failure.
	Variable string
	// Reason describes other failures.
	Reason string
}

func (e *VariableError) Error() string {
	if e.Variable != "" {
		return fmt.Sprintf("substituting variables in %s: variable %q is not defined", e.Object, e.Variable)
	}
	return fmt.Sprintf("substituting variables in %s: %s", e.Object, e.Reason)
}

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
