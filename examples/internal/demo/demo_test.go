package demo

import (
	"testing"
	"time"
)

func TestShort(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"main@sha1:0123456789abcdef0123456789abcdef01234567": "main@sha1:0123456789ab…",
		"v1.0.0@sha256:00112233445566778899aabbccddeeff":     "v1.0.0@sha256:001122334455…",
		"sha1:0123456789abcdef":                              "sha1:0123456789abcdef", // no name: kept whole
		"main@sha1:abc":                                      "main@sha1:abc",
		"not a revision":                                     "not a revision",
	} {
		if got := short(in); got != want {
			t.Errorf("short(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRound(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		123456789 * time.Nanosecond:                               "123ms",
		1234567890 * time.Nanosecond:                              "1.23s",
		5*time.Second + 180*time.Millisecond + 4*time.Millisecond: "5.18s",
	} {
		if got := round(d); got != want {
			t.Errorf("round(%s) = %q, want %q", d, got, want)
		}
	}
}
