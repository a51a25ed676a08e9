package sopsfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"filippo.io/age"
	agearmor "filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"google.golang.org/grpc"
	"sigs.k8s.io/yaml"
)

// ErrKeyParse is wrapped by key parsing errors. Those errors say which key
// (by position) failed, never what it contains.
var ErrKeyParse = errors.New("invalid decryption key")

// Keys holds parsed decryption keys.
type Keys struct {
	age []age.Identity
	pgp openpgp.EntityList
}

// ParseKeys parses age identities (AGE-SECRET-KEY-1..., one or more per
// string, '#' comments allowed) and armored OpenPGP private keys.
func ParseKeys(ageIdentities []string, pgpKeys [][]byte) (*Keys, error) {
	k := &Keys{}
	for i, s := range ageIdentities {
		ids, err := age.ParseIdentities(strings.NewReader(s))
		if err != nil {
			return nil, fmt.Errorf("%w: age identity #%d could not be parsed", ErrKeyParse, i)
		}
		k.age = append(k.age, ids...)
	}
	for i, b := range pgpKeys {
		ents, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%w: OpenPGP key #%d could not be parsed", ErrKeyParse, i)
		}
		for _, e := range ents {
			if e.PrivateKey == nil {
				return nil, fmt.Errorf("%w: OpenPGP key #%d has no private key", ErrKeyParse, i)
			}
			if e.PrivateKey.Encrypted {
				return nil, fmt.Errorf("%w: OpenPGP key #%d is passphrase-protected", ErrKeyParse, i)
			}
		}
		k.pgp = append(k.pgp, ents...)
	}
	return k, nil
}

// Format is the file format of an encrypted file.
type Format int

// The formats sops stores.
const (
	FormatUnknown Format = iota
	FormatYAML
	FormatJSON
	FormatDotenv
	FormatINI
)

// FormatOf guesses the format from a file name's extension.
func FormatOf(name string) Format {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		return FormatYAML
	case ".json":
		return FormatJSON
	case ".env":
		return FormatDotenv
	case ".ini":
		return FormatINI
	}
	return FormatUnknown
}

type store interface {
	sops.EncryptedFileLoader
	EmitPlainFile(sops.TreeBranches) ([]byte, error)
}

func storeFor(f Format) store {
	switch f {
	case FormatYAML:
		return sopsyaml.NewStore(&config.YAMLStoreConfig{})
	case FormatJSON:
		return sopsjson.NewStore(&config.JSONStoreConfig{})
	case FormatDotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{})
	case FormatINI:
		return ini.NewStore(&config.INIStoreConfig{})
	}
	return nil
}

// LooksEncrypted is a cheap pre-check: every sops file carries its metadata
// with a "mac" and an ENC[ value.
func LooksEncrypted(data []byte) bool {
	return bytes.Contains(data, []byte("sops")) && bytes.Contains(data, []byte("mac")) &&
		bytes.Contains(data, []byte("ENC["))
}

// Decrypt decrypts a sops file of the given format. It returns ok=false and
// the input unchanged when the data carries no sops metadata.
func Decrypt(keys *Keys, f Format, data []byte) (out []byte, ok bool, err error) {
	st := storeFor(f)
	if st == nil || !LooksEncrypted(data) {
		return data, false, nil
	}
	tree, err := st.LoadEncryptedFile(data)
	if err != nil {
		if errors.Is(err, sops.MetadataNotFound) || strings.Contains(err.Error(), string(sops.MetadataNotFound)) {
			return data, false, nil
		}
		return nil, true, fmt.Errorf("reading sops metadata: %w", err)
	}
	if keys == nil {
		keys = &Keys{}
	}
	svc := &keyService{keys: keys}
	dataKey, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{svc}, nil)
	if err != nil {
		return nil, true, fmt.Errorf("recovering the data key: %w", err)
	}
	cipher := aes.NewCipher()
	computed, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, true, fmt.Errorf("decrypting values: %w", err)
	}
	fileMac, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey,
		tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, true, errors.New("decrypting the MAC failed")
	}
	if fileMac != computed {
		return nil, true, errors.New("MAC mismatch: the file was modified after it was encrypted")
	}
	out, err = st.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, true, fmt.Errorf("writing plain text: %w", err)
	}
	return out, true, nil
}

// ObjectInfo is what can be read in plain text from an encrypted Kubernetes
// manifest: its identity and annotations (values still encrypted are
// dropped).
type ObjectInfo struct {
	Kind, Namespace, Name string
	Annotations           map[string]string
}

// String formats the object as kind/namespace/name (namespace omitted when
// empty), or "" when nothing is known.
func (o ObjectInfo) String() string {
	if o.Kind == "" && o.Name == "" {
		return ""
	}
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Inspect reads the first document's identity from YAML or JSON.
func Inspect(data []byte) ObjectInfo {
	doc := data
	if i := bytes.Index(doc, []byte("\n---")); i >= 0 {
		doc = doc[:i]
	}
	var m struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name        string            `json:"name"`
			Namespace   string            `json:"namespace"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if yaml.Unmarshal(doc, &m) != nil {
		return ObjectInfo{}
	}
	plain := func(s string) string {
		if strings.HasPrefix(s, "ENC[") {
			return ""
		}
		return s
	}
	info := ObjectInfo{Kind: plain(m.Kind), Namespace: plain(m.Metadata.Namespace), Name: plain(m.Metadata.Name)}
	for k, v := range m.Metadata.Annotations {
		if p := plain(v); p != "" {
			if info.Annotations == nil {
				info.Annotations = map[string]string{}
			}
			info.Annotations[k] = p
		}
	}
	return info
}

// keyService answers sops' data key requests from the caller's keys only.
type keyService struct {
	keys *Keys
}

var (
	errNoAgeIdentity = errors.New("no age identity given can decrypt the data key")
	errNoPGPKey      = errors.New("no OpenPGP key given can decrypt the data key")
	errUnsupported   = errors.New("key type not supported: only age and OpenPGP keys can be used")
)

func (s *keyService) Encrypt(context.Context, *keyservice.EncryptRequest, ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("encryption is not supported")
}

func (s *keyService) Decrypt(_ context.Context, req *keyservice.DecryptRequest, _ ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	switch req.GetKey().GetKeyType().(type) {
	case *keyservice.Key_AgeKey:
		if len(s.keys.age) == 0 {
			return nil, errNoAgeIdentity
		}
		r, err := age.Decrypt(agearmor.NewReader(bytes.NewReader(req.GetCiphertext())), s.keys.age...)
		if err != nil {
			return nil, errNoAgeIdentity
		}
		pt, err := io.ReadAll(io.LimitReader(r, 1<<10))
		if err != nil {
			return nil, errNoAgeIdentity
		}
		return &keyservice.DecryptResponse{Plaintext: pt}, nil
	case *keyservice.Key_PgpKey:
		if len(s.keys.pgp) == 0 {
			return nil, errNoPGPKey
		}
		block, err := pgparmor.Decode(bytes.NewReader(req.GetCiphertext()))
		if err != nil {
			return nil, errors.New("the OpenPGP-encrypted data key is not armored")
		}
		md, err := openpgp.ReadMessage(block.Body, s.keys.pgp, nil, nil)
		if err != nil {
			return nil, errNoPGPKey
		}
		pt, err := io.ReadAll(io.LimitReader(md.UnverifiedBody, 1<<10))
		if err != nil {
			return nil, errNoPGPKey
		}
		return &keyservice.DecryptResponse{Plaintext: pt}, nil
	}
	return nil, errUnsupported
}
