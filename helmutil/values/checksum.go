package values

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Checksum returns "sha256:<hex>" of the canonical JSON form of values:
// keys sorted at every level, numbers in their shortest form, so it does
// not depend on map order, nor on whether a decoder produced 3, int64(3)
// or float64(3). Nil and empty values have the same checksum. It fails
// only for values JSON cannot hold (a NaN, a map with non-string keys);
// the error names the type, never the value.
func Checksum(values map[string]any) (string, error) {
	sum, _, err := checksum(values)
	return sum, err
}

func checksum(values map[string]any) (string, int, error) {
	if values == nil {
		values = map[string]any{}
	}
	b, err := json.Marshal(values)
	if err != nil {
		var ute *json.UnsupportedTypeError
		if errors.As(err, &ute) {
			return "", 0, fmt.Errorf("values hold a %s, which JSON cannot", ute.Type)
		}
		return "", 0, fmt.Errorf("values cannot be encoded as JSON")
	}
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:]), len(b), nil
}
