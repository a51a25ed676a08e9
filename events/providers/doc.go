// Package providers delivers notifications to chat, incident and Git forge
// services. Each provider is a small type on net/http — one request with
// the JSON the service documents, no SDK — built from a Config holding the
// fields of a Provider object: address, channel, username, token,
// password, headers, TLS, proxy and timeout.
//
// A Registry maps a type name (a Provider's spec.type, Flux's names) to a
// constructor, so a controller builds providers from a spec:
//
//	p, err := providers.Default().New(spec.Type, providers.Config{
//		Address: addr, Channel: spec.Channel, Token: token, TLS: tlsConfig, Proxy: proxyURL,
//	})
//
// Commit-status providers (github, gitlab, gitea, bitbucket,
// bitbucketserver, azuredevops) implement events.CommitStatusProvider: the
// hub sends them each revision and state once, and each maps
// pending/success/failure to its service's states.
//
// Errors: an answer outside 2xx is a *StatusError (408, 429 and 5xx are
// retried by the hub; other codes and refused configurations are
// events.Permanent). No error carries a credential: the token, password,
// header values and the address's path and query (where webhook secrets
// live) are masked wherever a server echoes them, and transport errors
// name only the scheme and host. Redirects are never followed, so no
// credential header is carried elsewhere.
package providers
