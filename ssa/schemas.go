package ssa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Schemas gives Managers what they need to decide locally, without a
// request, that applying an object would change nothing: the API server's
// OpenAPI v3 schemas, fetched once per GroupVersion and fetched again when
// the server publishes a new one (a CustomResourceDefinition changed), and
// the server's mutating admission configuration. One Schemas serves any
// number of Managers, for any identities, at the same time: create one per
// cluster and pass it to every Manager with WithSchemas. It holds no live
// objects, only schemas, so sharing it across tenants reveals nothing.
//
// Each Apply or Diff that needs it reads the OpenAPI v3 index (one small
// request) and lists MutatingWebhookConfigurations and
// MutatingAdmissionPolicies (one request each) with the Schemas' own
// identity, which must be allowed to read /openapi/v3 (every
// authenticated user is, by default) and to list those two kinds. When it
// cannot, the Manager asks the API server about every object, as without
// Schemas.
type Schemas struct {
	rest     rest.Interface
	reader   client.Reader
	maxBytes int64
	timeout  time.Duration

	mu  sync.Mutex
	gvs map[string]*gvSchema // by OpenAPI index path, "api/v1", "apis/apps/v1"

	decisions decisions
}

// SchemasOption configures NewSchemas.
type SchemasOption func(*Schemas)

// WithSchemaMaxBytes bounds the size of one OpenAPI document (default 64
// MiB; the core/v1 document of a 1.37 server is about 1.5 MiB). A larger
// document is refused and its kinds are decided by the API server.
func WithSchemaMaxBytes(n int64) SchemasOption {
	return func(s *Schemas) {
		if n > 0 {
			s.maxBytes = n
		}
	}
}

// WithSchemaTimeout bounds each request Schemas sends (default 30 s).
func WithSchemaTimeout(d time.Duration) SchemasOption {
	return func(s *Schemas) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// NewSchemas returns a Schemas reading from the API server cfg points at.
// It sends no request until a Manager needs a schema.
func NewSchemas(cfg *rest.Config, opts ...SchemasOption) (*Schemas, error) {
	if cfg == nil {
		return nil, errors.New("ssa: nil rest config")
	}
	d, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("ssa: creating the discovery client: %w", err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("ssa: creating the client: %w", err)
	}
	return newSchemas(d.RESTClient(), c, opts...), nil
}

func newSchemas(r rest.Interface, c client.Reader, opts ...SchemasOption) *Schemas {
	s := &Schemas{rest: r, reader: c, maxBytes: 64 << 20, timeout: 30 * time.Second, gvs: map[string]*gvSchema{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// gvSchema is the parsed OpenAPI document of one GroupVersion at one
// published version (its URL carries the server's hash).
type gvSchema struct {
	url   string
	ready chan struct{}
	conv  managedfields.TypeConverter
	err   error

	mu  sync.Mutex
	fms map[schema.GroupVersionKind]*managedfields.FieldManager
}

// fieldManager returns the server-side apply field manager of a kind: the
// code the API server runs for an apply request, fed with this schema.
func (g *gvSchema) fieldManager(gvk schema.GroupVersionKind) (*managedfields.FieldManager, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if fm, ok := g.fms[gvk]; ok {
		return fm, nil
	}
	fm, err := managedfields.NewDefaultFieldManager(g.conv, sameVersion{}, noDefaults{}, unstructuredCreater{}, gvk, gvk.GroupVersion(), "", nil)
	if err != nil {
		return nil, err
	}
	if g.fms == nil {
		g.fms = map[schema.GroupVersionKind]*managedfields.FieldManager{}
	}
	g.fms[gvk] = fm
	return fm, nil
}

// schemaView is what one Apply or Diff knows of the server: the OpenAPI
// index read at its start, and the mutating admission configuration.
type schemaView struct {
	s    *Schemas
	urls map[string]string
	// admission lists what may mutate an update; admissionErr is set when
	// it could not be read, and then every object is uncertain.
	admission    []admissionRule
	admissionErr error
}

// view reads the OpenAPI index and the mutating admission configuration.
func (s *Schemas) view(ctx context.Context) (*schemaView, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	body, err := s.fetch(ctx, "/openapi/v3", false)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI v3 index: %w", err)
	}
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &index); err != nil {
		return nil, fmt.Errorf("parsing the OpenAPI v3 index: %w", err)
	}
	v := &schemaView{s: s, urls: make(map[string]string, len(index.Paths))}
	for p, e := range index.Paths {
		v.urls[p] = e.ServerRelativeURL
	}
	v.admission, v.admissionErr = mutatingRules(ctx, s.reader)
	return v, nil
}

// errNoSchema reports a GroupVersion the server publishes no schema for.
var errNoSchema = errors.New("no OpenAPI schema published")

// schema returns the parsed schema of gv as the index names it, fetching
// and parsing it when the server published a new one. Concurrent callers
// share one fetch.
func (v *schemaView) schema(ctx context.Context, gv schema.GroupVersion) (*gvSchema, error) {
	path := groupVersionPath(gv)
	u, ok := v.urls[path]
	if !ok {
		return nil, fmt.Errorf("%w for %s", errNoSchema, gv)
	}
	s := v.s
	s.mu.Lock()
	g := s.gvs[path]
	mine := g == nil || g.url != u
	if mine {
		g = &gvSchema{url: u, ready: make(chan struct{})}
		s.gvs[path] = g
	}
	s.mu.Unlock()
	if mine {
		g.conv, g.err = s.parse(ctx, u)
		close(g.ready)
		if g.err != nil {
			s.mu.Lock()
			if s.gvs[path] == g {
				delete(s.gvs, path) // the next Apply tries again
			}
			s.mu.Unlock()
		}
		return g, g.err
	}
	select {
	case <-g.ready:
		return g, g.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// parse fetches one GroupVersion's OpenAPI document and builds its type
// converter, as the API server builds it from the same definitions.
func (s *Schemas) parse(ctx context.Context, u string) (managedfields.TypeConverter, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	body, err := s.fetch(ctx, u, true)
	if err != nil {
		return nil, err
	}
	return typeConverter(body)
}

// typeConverter builds the type converter of one OpenAPI v3 document. The
// document comes from the API server; a document the conversion cannot
// handle is an error, never a panic.
func typeConverter(body []byte) (tc managedfields.TypeConverter, err error) {
	var doc spec3.OpenAPI
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("parsing OpenAPI document: %w", err)
	}
	if doc.Components == nil {
		return nil, errors.New("OpenAPI document without components")
	}
	defer func() {
		if r := recover(); r != nil {
			tc, err = nil, fmt.Errorf("OpenAPI document not convertible: %v", r)
		}
	}()
	return managedfields.NewTypeConverter(doc.Components.Schemas, false)
}

// fetch GETs a server-relative URL of the OpenAPI endpoint, at most
// maxBytes of it.
func (s *Schemas) fetch(ctx context.Context, u string, withQuery bool) ([]byte, error) {
	req := s.rest.Get().SetHeader("Accept", "application/json")
	// Like client-go's openapi client: a URL under /openapi/v3 is taken
	// relative to the client's own prefix (an API server behind a proxy
	// path), and its hash query kept.
	root := strings.TrimSuffix(s.rest.Get().AbsPath("/").URL().Path, "/")
	loc, err := url.Parse(strings.TrimPrefix(u, root))
	if err != nil {
		return nil, fmt.Errorf("OpenAPI URL %q: %w", truncate(u), err)
	}
	req = req.AbsPath(loc.Path)
	if withQuery {
		for k, vs := range loc.Query() {
			for _, v := range vs {
				req = req.Param(k, v)
			}
		}
	}
	rc, err := req.Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, s.maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > s.maxBytes {
		return nil, fmt.Errorf("OpenAPI document %s is larger than %d bytes", loc.Path, s.maxBytes)
	}
	return body, nil
}
