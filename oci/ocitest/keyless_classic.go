package ocitest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/tlog"

	"github.com/gitopskit/kit/oci/internal/cosign"
)

// ClassicSignature signs the manifest digest ("sha256:<hex>") of repository
// repo ("host/path") the way "cosign sign" without a key did before
// bundles, and returns what goes under the sha256-<hex>.sig tag: the
// simple-signing payload and the layer's annotations — the base64
// signature (dev.cosignproject.cosign/signature), a fresh Fulcio-style
// certificate for the signer's identity with an embedded SCT
// (dev.sigstore.cosign/certificate), its chain (dev.sigstore.cosign/chain),
// and the Rekor bundle (dev.sigstore.cosign/bundle): the hashedrekord entry
// of the signature as the log recorded it, with the log's signed entry
// timestamp. Change an annotation or the payload and push the result with
// Registry.PushSignature to test a verifier against a tampered signature.
func (s *KeylessSigner) ClassicSignature(t testing.TB, repo, digest string) (payload []byte, annotations map[string]string) {
	t.Helper()
	payload, annotations, err := s.classic(repo, digest)
	if err != nil {
		t.Fatalf("classic keyless signature of %s: %v", digest, err)
	}
	return payload, annotations
}

func (s *KeylessSigner) classic(repo, digest string) ([]byte, map[string]string, error) {
	payload, err := cosign.NewPayload(repo, digest)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	cert, err := s.certify(&key.PublicKey, now)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return nil, nil, err
	}
	certPEM := pemCertificate(cert)
	body, err := cosign.HashedRekordBody(sum[:], sig, certPEM)
	if err != nil {
		return nil, nil, err
	}
	logID, err := s.vs.RekorLogID()
	if err != nil {
		return nil, nil, err
	}
	entry := cosign.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(body),
		IntegratedTime: now.Unix(),
		LogIndex:       s.logIndex.Add(1),
		LogID:          logID,
	}
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{
		Body: entry.Body, IntegratedTime: entry.IntegratedTime, LogIndex: entry.LogIndex, LogID: entry.LogID,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("signed entry timestamp: %w", err)
	}
	rekor, err := json.Marshal(cosign.RekorBundle{SignedEntryTimestamp: set, Payload: entry})
	if err != nil {
		return nil, nil, err
	}
	return payload, map[string]string{
		cosign.SignatureAnnotation:   base64.StdEncoding.EncodeToString(sig),
		cosign.CertificateAnnotation: string(certPEM),
		cosign.ChainAnnotation:       string(pemCertificate(s.caIntermediate)) + string(pemCertificate(s.caRoot)),
		cosign.RekorBundleAnnotation: string(rekor),
	}, nil
}

func pemCertificate(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// SignKeylessClassic signs the manifest ref points to with s in cosign's
// classic keyless format (see KeylessSigner.ClassicSignature), pushed as
// the image tagged sha256-<hex>.sig. It returns the digest signed.
func (r *Registry) SignKeylessClassic(t testing.TB, s *KeylessSigner, ref string) string {
	t.Helper()
	d, err := r.resolve(ref)
	if err != nil {
		t.Fatalf("sign %s: %v", ref, err)
	}
	payload, annotations := s.ClassicSignature(t, d.Context().String(), d.DigestStr())
	r.PushSignature(t, d.String(), payload, annotations)
	return d.DigestStr()
}
