package controller

import (
	"slices"
	"strconv"
	"strings"
)

// shortSecret is the length under which a masked value is replaced only
// where a message quotes it: "ab" or 'ab'. A one- or two-character value
// replaced everywhere would garble every message (and its absence from
// the replaced text would tell its length anyway).
const shortSecret = 3

// MaskValues returns s with every value of secrets replaced by "***": as
// written, and as Go and JSON quoting escape it (the API server quotes an
// invalid value that way: `Invalid value: "…"`). Values shorter than three
// characters are replaced only where quoted. Empty values are ignored.
// Longer values are replaced first, so one that contains another is not
// left half-masked.
func MaskValues(s string, secrets []string) string {
	if len(secrets) == 0 || s == "" {
		return s
	}
	vals := make([]string, 0, len(secrets))
	for _, v := range secrets {
		if v != "" {
			vals = append(vals, v)
		}
	}
	slices.SortStableFunc(vals, func(a, b string) int { return len(b) - len(a) })
	for _, v := range vals {
		forms := []string{v}
		if q := strconv.Quote(v); q[1:len(q)-1] != v {
			forms = append(forms, q[1:len(q)-1])
		}
		for _, f := range forms {
			if len(v) >= shortSecret {
				s = strings.ReplaceAll(s, f, "***")
				continue
			}
			s = strings.ReplaceAll(s, `"`+f+`"`, `"***"`)
			s = strings.ReplaceAll(s, `'`+f+`'`, `'***'`)
		}
	}
	return s
}
