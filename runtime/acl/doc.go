// Package acl decides whether an object may reference an object in another
// namespace.
//
// Cross-namespace references let one tenant reach another's sources and
// credentials, so a multi-tenant controller checks each reference against a
// Policy before following it:
//
//   - AllowAll: any namespace may reference any namespace.
//   - DenyCrossNamespace: references stay within their namespace (the zero
//     Policy).
//   - AllowNamespaceSelector: an object may reference another namespace when
//     its own namespace — the referrer's — carries labels matching the
//     selector. A platform team labels the namespaces trusted to reach shared
//     objects (for example gitopskit.dev/shared-sources=true), and tenants
//     cannot grant themselves access because they cannot label namespaces.
//
// A reference within one namespace is always allowed. A denial is an
// *AccessDeniedError; errors.Is(err, ErrAccessDenied) also holds.
package acl
