// Package values composes the values of a Helm release from references to
// ConfigMaps and Secrets and from inline values, the way Flux's valuesFrom
// and values fields do, and gives the result a stable checksum.
//
// # Composition
//
// Compose reads the references in order. A reference without a TargetPath
// holds a YAML document (one or more documents, merged as `helm -f` merges
// them) under its key (DefaultValuesKey unless ValuesKey says otherwise),
// deep-merged into what came before: maps are merged key by key, anything
// else is replaced. A reference with a TargetPath holds a single value, set
// at that path; the path is written in the key syntax of `helm --set`
// (`a.b`, `list[0].name`, `a\.b` for a key containing a dot) and the value
// is taken whole, never split on commas nor parsed as more keys. An
// unquoted value is typed as `--set` types it (true, false, null, integers);
// a value quoted with '...' or "..." is the string inside the quotes. The
// inline values are merged last. A null value is kept, so that Helm's own
// coalescing deletes the chart's default for that key, as `--set key=null`
// does.
//
// A reference that is missing — the object, or the key in it — is an error
// unless the reference is Optional.
//
// # Checksum
//
// Checksum hashes the canonical JSON form of the values (keys sorted at
// every level, numbers in their shortest form), so the same values give the
// same checksum whatever the map order or the numeric type a decoder chose.
//
// # Secrets
//
// No value ever appears in an error: errors name the reference (kind,
// namespace, name) and the key, and the YAML parser's message is reduced to
// its line number, since the parser quotes the offending text. The leaves
// taken from Secrets are listed in Result.Sensitive, so a caller can mask
// them wherever a later error (a template failure, an API server rejection)
// might quote them.
package values
