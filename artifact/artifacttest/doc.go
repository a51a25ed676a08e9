// Package artifacttest runs a real artifact server for tests: directories
// are archived into a real storage and served by the real server over
// loopback HTTP, so consumers test their fetch path end to end.
//
//	srv := artifacttest.NewServer(t)
//	a := srv.Add(t, "gitrepository", "default", "app", "testdata/app", "main@sha1:…")
//	// a.URL, a.Revision and a.Digest are ready to be put in a source's status.
package artifacttest
