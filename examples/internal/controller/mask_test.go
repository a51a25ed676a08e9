package controller

import (
	"strings"
	"testing"
)

func TestMaskValues(t *testing.T) {
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"none", "nothing to hide", nil, "nothing to hide"},
		{"raw", "label value s3cr3t is invalid", []string{"s3cr3t"}, "label value *** is invalid"},
		{"every occurrence", "s3cr3t and s3cr3t", []string{"s3cr3t"}, "*** and ***"},
		{"API server quoting", `metadata.labels: Invalid value: "pa\"ss\nword": a valid label`, []string{"pa\"ss\nword"},
			`metadata.labels: Invalid value: "***": a valid label`},
		{"short value only where quoted", `Invalid value: "ab": ab is short`, []string{"ab"}, `Invalid value: "***": ab is short`},
		{"short value single-quoted", `value 'x' rejected`, []string{"x"}, `value '***' rejected`},
		{"longest first", "token abcdef", []string{"abc", "abcdef"}, "token ***"},
		{"empty value ignored", "keep me", []string{""}, "keep me"},
		{"unicode", `Invalid value: "héllo"`, []string{"héllo"}, `Invalid value: "***"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskValues(tt.in, tt.secrets); got != tt.want {
				t.Errorf("MaskValues(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzMaskValues(f *testing.F) {
	f.Add("Invalid value: \"secret\"", "secret")
	f.Add("a\nb", "a\nb")
	f.Fuzz(func(t *testing.T, msg, secret string) {
		got := MaskValues(msg+" "+secret+" "+msg, []string{secret})
		if len(secret) >= shortSecret && strings.Contains(got, secret) && !strings.Contains(msg, secret) && !strings.Contains("***", secret) {
			t.Fatalf("secret %q left in %q", secret, got)
		}
	})
}
