package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"sigs.k8s.io/yaml"
)

// Signature describes a verified provenance signature.
type Signature struct {
	// Identity is the signing key's first identity, e.g. "Name (comment) <email>".
	Identity string
	// Fingerprint is the signing key's fingerprint, upper-case hex.
	Fingerprint string
	// FileHash is the package digest the provenance file signs, sha256:<hex>.
	FileHash string
}

// VerifyProvenance checks the provenance file prov (a .prov, OpenPGP
// clear-signed as `helm package --sign` writes it) of the chart package
// read from chart, whose file name is filename (e.g. app-1.0.0.tgz): the
// signature must verify with a key of keyring (armored or binary) and the
// signed message must list filename with the package's SHA-256. Failures
// are *ProvenanceError (errors.Is ErrProvenance).
func VerifyProvenance(chart io.Reader, filename string, prov, keyring []byte) (*Signature, error) {
	h := sha256.New()
	if _, err := io.Copy(h, chart); err != nil {
		return nil, &ProvenanceError{Chart: filename, Reason: "read package", Err: err}
	}
	return verifyProvenance(hex.EncodeToString(h.Sum(nil)), filename, prov, keyring)
}

func verifyProvenance(sum, filename string, prov, keyring []byte) (*Signature, error) {
	fail := func(reason string, err error) error {
		return &ProvenanceError{Chart: filename, Reason: reason, Err: err}
	}
	if len(prov) > MaxProvenanceBytes {
		return nil, fail(fmt.Sprintf("provenance file larger than %d bytes", MaxProvenanceBytes), ErrLimitExceeded)
	}
	ring, err := readKeyring(keyring)
	if err != nil {
		return nil, fail("keyring does not parse", err)
	}
	block, _ := clearsign.Decode(prov)
	if block == nil || block.ArmoredSignature == nil {
		return nil, fail("not a clear-signed message", nil)
	}
	signer, err := openpgp.CheckDetachedSignature(ring, bytes.NewReader(block.Bytes), block.ArmoredSignature.Body, nil)
	if err != nil {
		return nil, fail("signature not trusted", err)
	}
	// The signed message is the chart's metadata, "...", then the sums.
	parts := bytes.SplitN(block.Plaintext, []byte("\n...\n"), 2)
	if len(parts) != 2 {
		return nil, fail("signed message has no checksums", nil)
	}
	var sums struct {
		Files map[string]string `json:"files"`
	}
	if err := yaml.Unmarshal(parts[1], &sums); err != nil {
		return nil, fail("checksums do not parse", err)
	}
	got, ok := sums.Files[filename]
	if !ok {
		return nil, fail("signed message lists no checksum for this package", nil)
	}
	if got != "sha256:"+sum {
		return nil, fail("package does not match the signed checksum", ErrDigestMismatch)
	}
	s := &Signature{Fingerprint: strings.ToUpper(hex.EncodeToString(signer.PrimaryKey.Fingerprint)), FileHash: got}
	names := make([]string, 0, len(signer.Identities))
	for n := range signer.Identities {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		s.Identity = names[0]
	}
	return s, nil
}

func readKeyring(b []byte) (openpgp.EntityList, error) {
	if bytes.Contains(b, []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(b))
}
