//go:build race

package gogit_test

// raceEnabled: the race detector multiplies memory use several times.
const raceEnabled = true
