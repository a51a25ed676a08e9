// Package helmtest serves Helm chart repositories for tests, built with
// Helm's own code: charts are packaged by Helm's loader and archive writer
// (what `helm package` does), signed by Helm's provenance signer (what
// `helm package --sign` does), indexed by Helm's repo.IndexDirectory (what
// `helm repo index` does) and pushed to an oci/ocitest registry by Helm's
// registry client (what `helm push` does). What a test reads is what a user's
// repository serves.
//
//	dir := t.TempDir()
//	src := helmtest.WriteChart(t, t.TempDir(), helmtest.Chart{Name: "app", Version: "1.0.0"})
//	srv := helmtest.NewServer(t, dir, helmtest.WithTLS(), helmtest.WithBasicAuth("user", "pass"))
//	srv.AddChart(t, src)         // packages app-1.0.0.tgz into dir and rewrites index.yaml
//	// srv.URL(), srv.CertPool(), srv.Requests()
//
//	signer := helmtest.NewSigner(t, "Chart Signer", "signer@example.com")
//	srv.AddSignedChart(t, src2, signer) // also app-1.1.0.tgz.prov; signer.Keyring() verifies it
//
//	reg := ocitest.New(t)
//	ref, digest := helmtest.PushChart(t, reg, tgz, "charts") // host/charts/app:1.0.0
//
// WriteLargeIndex writes a synthetic index of any size, in the layout Helm
// writes, for benchmarks.
package helmtest
