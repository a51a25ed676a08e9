package ocitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509util "github.com/google/certificate-transparency-go/x509util"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// KeylessSigner is a private Sigstore instance in memory that signs the way
// "cosign sign" does without a key: a Fulcio-style certificate authority
// issuing short-lived certificates for one OIDC identity, each carrying an
// embedded signed certificate timestamp (SCT) from a certificate
// transparency log; a Rekor transparency log recording each signature with
// an inclusion proof; and an RFC 3161 timestamp authority.
//
// Its trusted root (TrustedRootJSON) is what a verifier is given, the way
// production verifiers are given the public Sigstore instance's
// trusted_root.json: bundles from this signer verify against it with the
// default checks (SCT, transparency log, timestamp), and against nothing
// else.
//
// The timestamp authority's certificate is valid for five minutes after
// NewKeylessSigner: sign within that window (a test does).
type KeylessSigner struct {
	identity, issuer string

	vs *ca.VirtualSigstore // Rekor and the timestamp authority

	caRoot, caIntermediate *x509.Certificate
	caKey                  *ecdsa.PrivateKey // the intermediate's
	ctKey                  *ecdsa.PrivateKey
	trusted                *root.TrustedRoot
	trustedJSON            []byte
	logIndex               atomic.Int64 // of classic signatures' Rekor entries
}

// Fulcio certificate extensions naming the OIDC issuer: the original raw
// string and its DER UTF8String successor (Fulcio writes both).
var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	// oidSCTList is RFC 6962's embedded SCT list extension.
	oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
)

// NewKeylessSigner creates a private Sigstore instance whose certificates
// name identity (the certificate's subject alternative name: a URI such as
// a CI workflow's, or an e-mail address) and issuer (the OIDC issuer URL).
func NewKeylessSigner(t testing.TB, identity, issuer string) *KeylessSigner {
	t.Helper()
	s, err := newKeylessSigner(identity, issuer)
	if err != nil {
		t.Fatalf("keyless signer: %v", err)
	}
	return s
}

func newKeylessSigner(identity, issuer string) (*KeylessSigner, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	s := &KeylessSigner{identity: identity, issuer: issuer, vs: vs}
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ocitest-fulcio-root", Organization: []string{"ocitest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if s.caRoot, err = createCert(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey); err != nil {
		return nil, err
	}
	if s.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	interTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "ocitest-fulcio-intermediate", Organization: []string{"ocitest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if s.caIntermediate, err = createCert(interTmpl, s.caRoot, &s.caKey.PublicKey, rootKey); err != nil {
		return nil, err
	}
	if s.ctKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}

	// The trusted root: our CA and CT log, the virtual Sigstore's Rekor and
	// timestamp authority. Log IDs are the SHA-256 of the log's public key.
	ctID, err := keyID(s.ctKey.Public())
	if err != nil {
		return nil, err
	}
	ctLogs := map[string]*root.TransparencyLog{fmt.Sprintf("%x", ctID): {
		BaseURL:             "https://ctlog.ocitest.invalid",
		ID:                  ctID,
		ValidityPeriodStart: now.Add(-time.Hour),
		HashFunc:            crypto.SHA256,
		PublicKey:           s.ctKey.Public(),
		SignatureHashFunc:   crypto.SHA256,
	}}
	rekorLogs := map[string]*root.TransparencyLog{}
	for id, l := range vs.RekorLogs() {
		cp := *l
		// The virtual Sigstore keeps the hex ID as bytes; the trusted root
		// format holds the raw key hash.
		if cp.ID, err = keyID(l.PublicKey); err != nil {
			return nil, err
		}
		rekorLogs[id] = &cp
	}
	fulcio := &root.FulcioCertificateAuthority{
		Root:                s.caRoot,
		Intermediates:       []*x509.Certificate{s.caIntermediate},
		ValidityPeriodStart: now.Add(-time.Hour),
		URI:                 "https://fulcio.ocitest.invalid",
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{fulcio}, ctLogs, vs.TimestampingAuthorities(), rekorLogs)
	if err != nil {
		return nil, err
	}
	if s.trustedJSON, err = tr.MarshalJSON(); err != nil {
		return nil, err
	}
	// What a verifier gets is the JSON: hand out its parse, so that what
	// TrustedRoot returns and what TrustedRootJSON says cannot differ.
	if s.trusted, err = root.NewTrustedRootFromJSON(s.trustedJSON); err != nil {
		return nil, err
	}
	return s, nil
}

// Identity returns the subject alternative name of the signer's
// certificates.
func (s *KeylessSigner) Identity() string { return s.identity }

// Issuer returns the OIDC issuer named in the signer's certificates.
func (s *KeylessSigner) Issuer() string { return s.issuer }

// TrustedRootJSON returns the instance's trusted root in the Sigstore
// trusted_root.json format (media type
// application/vnd.dev.sigstore.trustedroot+json;version=0.1), as read by
// root.NewTrustedRootFromJSON: the certificate authority, the certificate
// transparency log, the Rekor log and the timestamp authority.
func (s *KeylessSigner) TrustedRootJSON() []byte { return append([]byte(nil), s.trustedJSON...) }

// TrustedRoot returns TrustedRootJSON parsed, ready for
// oci.KeylessOptions.TrustedMaterial.
func (s *KeylessSigner) TrustedRoot() *root.TrustedRoot { return s.trusted }

// Bundle signs the manifest digest ("sha256:<hex>") and returns the sigstore
// bundle (v0.3 JSON) cosign's new bundle format attaches: a DSSE envelope
// over an in-toto statement whose subject is the digest, signed with a key
// certified for the signer's identity by a fresh certificate with an
// embedded SCT, with a Rekor entry (inclusion proof and promise) and an
// RFC 3161 timestamp.
func (s *KeylessSigner) Bundle(t testing.TB, digest string) []byte {
	t.Helper()
	b, err := s.bundle(digest)
	if err != nil {
		t.Fatalf("keyless bundle for %s: %v", digest, err)
	}
	return b
}

func (s *KeylessSigner) bundle(digest string) ([]byte, error) {
	hexDigest, ok := strings.CutPrefix(digest, "sha256:")
	if !ok {
		return nil, fmt.Errorf("digest %q is not sha256:<hex>", digest)
	}
	stmt, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "artifact", "digest": map[string]string{"sha256": hexDigest}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	cert, err := s.certify(&key.PublicKey, now)
	if err != nil {
		return nil, err
	}

	const payloadType = "application/vnd.in-toto+json"
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(stmt), stmt)
	sum := sha256.Sum256(pae)
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return nil, err
	}
	env := &dsse.Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(stmt),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
	entry, err := s.vs.GenerateTlogEntry(cert, env, sig, now.Unix(), true)
	if err != nil {
		return nil, fmt.Errorf("transparency log entry: %w", err)
	}
	tle := entry.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	tsr, err := s.vs.TimestampResponse(sig)
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
			TimestampVerificationData: &protobundle.TimestampVerificationData{
				Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: stmt, PayloadType: payloadType,
			Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, err
	}
	return b.MarshalJSON()
}

// certify issues the short-lived signing certificate for pub, as Fulcio
// does: the identity as subject alternative name, the issuer extensions,
// and an SCT from the CT log embedded. The SCT signs the certificate as it
// is without the SCT list (the precertificate), so the certificate is made
// twice from one template: without the list, then with it appended last.
func (s *KeylessSigner) certify(pub *ecdsa.PublicKey, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	issuerV2, err := asn1.MarshalWithParams(s.issuer, "utf8")
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(10 * time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: oidIssuerV1, Value: []byte(s.issuer)},
			{Id: oidIssuerV2, Value: issuerV2},
		},
	}
	if strings.Contains(s.identity, "://") {
		u, err := url.Parse(s.identity)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{s.identity}
	}
	pre, err := createCert(tmpl, s.caIntermediate, pub, s.caKey)
	if err != nil {
		return nil, err
	}

	ctID, err := keyID(s.ctKey.Public())
	if err != nil {
		return nil, err
	}
	sct := ct.SignedCertificateTimestamp{
		SCTVersion: ct.V1,
		LogID:      ct.LogID{KeyID: [32]byte(ctID)},
		Timestamp:  uint64(now.UnixMilli()),
	}
	input, err := ct.SerializeSCTSignatureInput(sct, ct.LogEntry{Leaf: ct.MerkleTreeLeaf{
		Version:  ct.V1,
		LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{
			Timestamp: sct.Timestamp,
			EntryType: ct.PrecertLogEntryType,
			PrecertEntry: &ct.PreCert{
				IssuerKeyHash:  sha256.Sum256(s.caIntermediate.RawSubjectPublicKeyInfo),
				TBSCertificate: pre.RawTBSCertificate,
			},
		},
	}})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(input)
	ctSig, err := ecdsa.SignASN1(rand.Reader, s.ctKey, h[:])
	if err != nil {
		return nil, err
	}
	sct.Signature = ct.DigitallySigned{
		Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA},
		Signature: ctSig,
	}
	list, err := ctx509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{&sct})
	if err != nil {
		return nil, err
	}
	listTLS, err := cttls.Marshal(*list)
	if err != nil {
		return nil, err
	}
	ext, err := asn1.Marshal(listTLS)
	if err != nil {
		return nil, err
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidSCTList, Value: ext})
	return createCert(tmpl, s.caIntermediate, pub, s.caKey)
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// keyID is a transparency log's ID: the SHA-256 of its PKIX public key.
func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return sum[:], nil
}

// SignKeyless signs the manifest ref points to with s and attaches the
// bundle (see KeylessSigner.Bundle) as an OCI referrer, as "cosign sign"
// does with the new bundle format. It returns the digest signed.
func (r *Registry) SignKeyless(t testing.TB, s *KeylessSigner, ref string) string {
	t.Helper()
	d, err := r.resolve(ref)
	if err != nil {
		t.Fatalf("sign %s: %v", ref, err)
	}
	r.AttachBundle(t, d.String(), s.Bundle(t, d.DigestStr()))
	return d.DigestStr()
}
