package oci

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/gitopskit/kit/oci/internal/cosign"
)

// keylessVerifier checks Fulcio-certified signatures, in either format,
// with the same checks: sigstore-go's verifier over the caller's trusted
// material, requiring a transparency log entry, an observer timestamp and
// (unless SkipSCT) a signed certificate timestamp, and one of the
// identities.
type keylessVerifier struct {
	verifier   *verify.Verifier
	identities []verify.PolicyOption
}

func newKeylessVerifier(o *KeylessOptions) (*keylessVerifier, error) {
	vopts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
	if !o.SkipSCT {
		vopts = append(vopts, verify.WithSignedCertificateTimestamps(1))
	}
	v, err := verify.NewVerifier(o.TrustedMaterial, vopts...)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	kv := &keylessVerifier{verifier: v}
	for _, id := range o.Identities {
		ci, err := verify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp)
		if err != nil {
			return nil, fmt.Errorf("verify: identity: %w", err)
		}
		kv.identities = append(kv.identities, verify.WithCertificateIdentity(ci))
	}
	return kv, nil
}

// signer is the certificate identity a keyless signature was made with.
type signer struct{ Subject, Issuer string }

func signerOf(res *verify.VerificationResult) signer {
	if res == nil || res.Signature == nil || res.Signature.Certificate == nil {
		return signer{}
	}
	return signer{Subject: res.Signature.Certificate.SubjectAlternativeName, Issuer: res.Signature.Certificate.Issuer}
}

// verifyClassic checks a classic keyless signature: sig over payload, made
// with the key of the Fulcio certificate in the layer's annotations and
// recorded in Rekor (the entry and its signed entry timestamp in the bundle
// annotation). It does not look at the payload's content: the caller
// checks that it names the manifest.
func (kv *keylessVerifier) verifyClassic(annotations map[string]string, sig, payload []byte) (signer, error) {
	b, err := classicBundle(annotations, sig, payload)
	if err != nil {
		return signer{}, err
	}
	res, err := kv.verifier.Verify(b, verify.NewPolicy(verify.WithArtifact(bytes.NewReader(payload)), kv.identities...))
	if err != nil {
		return signer{}, err
	}
	return signerOf(res), nil
}

// errClassic is the error of an unusable classic keyless signature.
var errClassic = errors.New("invalid classic keyless signature")

// classicBundle turns a classic keyless signature into the sigstore bundle
// (v0.1: a message signature, the certificate, a Rekor v1 entry with its
// inclusion promise) that says the same, so that one verifier checks both
// formats. Only the leaf certificate is taken: the chain annotation is the
// signer's claim, and trust comes from the verifier's trusted root. An RFC
// 3161 timestamp annotation is ignored: the log's signed integrated time is
// the observer timestamp, and the log entry is required anyway.
func classicBundle(annotations map[string]string, sig, payload []byte) (*bundle.Bundle, error) {
	blk, rest := pem.Decode([]byte(annotations[cosign.CertificateAnnotation]))
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%w: %s is not one PEM certificate", errClassic, cosign.CertificateAnnotation)
	}
	if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", errClassic, err)
	}
	raw, ok := annotations[cosign.RekorBundleAnnotation]
	if !ok {
		return nil, fmt.Errorf("%w: no transparency log entry (%s)", errClassic, cosign.RekorBundleAnnotation)
	}
	e, err := cosign.ParseRekorBundle([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errClassic, err)
	}
	sum := sha256.Sum256(payload)
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
			Certificates: []*protocommon.X509Certificate{{RawBytes: blk.Bytes}},
		}},
		TlogEntries: []*protorekor.TransparencyLogEntry{{
			LogIndex:          e.LogIndex,
			LogId:             &protocommon.LogId{KeyId: e.LogID},
			KindVersion:       &protorekor.KindVersion{Kind: e.Kind, Version: e.APIVersion},
			IntegratedTime:    e.IntegratedTime,
			InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: e.SignedEntryTimestamp},
			CanonicalizedBody: e.Body,
		}},
	}
	b, err := bundle.NewBundle(&protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum[:]},
			Signature:     sig,
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errClassic, err)
	}
	return b, nil
}
