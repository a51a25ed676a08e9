package ssa

import (
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// maxDecisions bounds the decisions a Schemas remembers (about 100 bytes
// each).
const maxDecisions = 100_000

// decisions remembers the outcome of decide, which is a pure function of
// its inputs: the schema (its URL carries the server's hash), the live
// object (its UID and resourceVersion name one stored version), the
// desired object, the field manager and force. A reconcile that finds the
// same live objects as the last one, and applies the same manifests, then
// decides without running the merge again. Two generations of at most
// maxDecisions/2 entries each keep it bounded: when the current one is
// full it becomes the previous one, and entries found there are moved
// back.
type decisions struct {
	mu        sync.Mutex
	cur, prev map[[sha256.Size]byte]string
}

// decisionKey digests decide's inputs.
func decisionKey(schemaURL string, desired, live *unstructured.Unstructured, manager string, force bool) ([sha256.Size]byte, error) {
	h := sha256.New()
	for _, s := range []string{schemaURL, string(live.GetUID()), live.GetResourceVersion(), live.GetAPIVersion(), manager, strconv.FormatBool(force)} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	if err := json.NewEncoder(h).Encode(desired.Object); err != nil {
		return [sha256.Size]byte{}, err
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k, nil
}

// get returns the remembered outcome: "" for unchanged, else why not.
func (d *decisions) get(k [sha256.Size]byte) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.cur[k]; ok {
		return v, true
	}
	if v, ok := d.prev[k]; ok {
		d.putLocked(k, v)
		return v, true
	}
	return "", false
}

func (d *decisions) put(k [sha256.Size]byte, why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.putLocked(k, why)
}

func (d *decisions) putLocked(k [sha256.Size]byte, why string) {
	if d.cur == nil {
		d.cur = map[[sha256.Size]byte]string{}
	}
	if len(d.cur) >= maxDecisions/2 {
		d.prev, d.cur = d.cur, map[[sha256.Size]byte]string{}
	}
	d.cur[k] = why
}
