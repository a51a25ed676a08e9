package secrets

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

var (
	// ErrMissingKey means a required key is absent or empty.
	ErrMissingKey = errors.New("missing key")
	// ErrInvalidValue means a key holds a value that cannot be used.
	ErrInvalidValue = errors.New("invalid value")
	// ErrConflict means keys that exclude each other are both set.
	ErrConflict = errors.New("conflicting keys")
)

// KeyError reports a problem with one key of a Secret. Its message names the
// Secret and the key, never the value.
type KeyError struct {
	// Secret is the Secret's namespace and name.
	Secret types.NamespacedName
	// Key is the data key at fault.
	Key string
	// Err is ErrMissingKey, ErrInvalidValue or ErrConflict.
	Err error
	// Detail explains the problem further; it holds no Secret data.
	Detail string
}

// Error returns "secret 'ns/name': key 'k': <Err>[: <Detail>]".
func (e *KeyError) Error() string {
	msg := fmt.Sprintf("secret '%s': key '%s': %v", e.Secret, e.Key, e.Err)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns Err.
func (e *KeyError) Unwrap() error { return e.Err }

func keyErr(s *corev1.Secret, key string, err error, detail string) *KeyError {
	return &KeyError{
		Secret: types.NamespacedName{Namespace: s.Namespace, Name: s.Name},
		Key:    key, Err: err, Detail: detail,
	}
}

// ErrNilSecret is returned when the Secret passed is nil.
var ErrNilSecret = errors.New("nil secret")

func value(s *corev1.Secret, key string) ([]byte, bool) {
	v, ok := s.Data[key]
	return v, ok && len(v) > 0
}

func required(s *corev1.Secret, key string) ([]byte, error) {
	v, ok := value(s, key)
	if !ok {
		return nil, keyErr(s, key, ErrMissingKey, "")
	}
	return v, nil
}

// mask is how credential-holding types print their secret fields.
func mask(v []byte) string {
	if len(v) == 0 {
		return `""`
	}
	return "***"
}
