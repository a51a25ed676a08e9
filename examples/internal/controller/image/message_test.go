package image

import (
	"strings"
	"testing"

	"github.com/gitopskit/kit/kustomize"
)

// Templates that could run without end or allocate without bound are
// refused when parsed; the rest render within maxMessage.
func TestMessageTemplateBounds(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ tmpl, err string }{
		"range over a number":  {"{{ range 1000000000000 }}{{ end }}", "only a field or variable"},
		"range over a call":    {"{{ range (slice .Changed.Changes 0) }}{{ end }}", "only a field or variable"},
		"nested ranges":        {"{{ range .Changed.Changes }}{{ range $.Changed.Changes }}x{{ end }}{{ end }}", "nested deeper than 1"},
		"recursion":            {`{{ define "a" }}{{ template "a" . }}{{ end }}{{ template "a" . }}`, "not allowed"},
		"block":                {`{{ block "b" . }}x{{ end }}`, "not allowed"},
		"template in range":    {`{{ range .Changed.Changes }}{{ template "x" }}{{ end }}`, "not allowed"},
		"does not parse":       {"{{ .Changed", "messageTemplate"},
		"range in if in range": {"{{ range .Changed.Images }}{{ if . }}{{ range $.Changed.Images }}{{ end }}{{ end }}{{ end }}", "nested deeper than 1"},
	} {
		if _, err := parseTemplate(tc.tmpl); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err %v, want %q", name, err, tc.err)
		}
	}
	data := TemplateData{AutomationObject: "apps/auto", Changed: changes(&kustomize.SetImagesResult{Files: []kustomize.FileChange{{
		Path: "a.yaml", Fields: []kustomize.FieldChange{{Marker: kustomize.Marker{Policy: "apps:app", Field: "tag"}, Old: "1", New: "2"}},
	}}})}
	for name, tc := range map[string]struct{ tmpl, err string }{
		"huge width":      {`{{ printf "%099999999d" 1 }}`, "limited to 3 digits"},
		"width from args": {`{{ printf "%*d" 999999999 1 }}`, "limited to 3 digits"},
		"huge precision":  {`{{ printf "%.99999f" 1.0 }}`, "limited to 3 digits"},
		"unknown field":   {`{{ .Nope }}`, "can't evaluate field Nope"},
		"empty":           {`{{ if false }}x{{ end }}`, "the commit message is empty"},
		"long output":     {`{{ range .Changed.Changes }}{{ printf "%100s" "" }}{{ end }}` + strings.Repeat("x", maxMessage), "longer than"},
	} {
		tmpl, err := parseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := renderMessage(tmpl, data); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err %v, want %q", name, err, tc.err)
		}
	}
	tmpl, err := parseTemplate(`{{ .AutomationObject }}: {{ range .Changed.Changes }}{{ .Setter }} {{ printf "%-3s" .OldValue }}-> {{ .NewValue }}{{ end }}`)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := renderMessage(tmpl, data); err != nil || msg != "apps/auto: apps:app:tag 1  -> 2\n" {
		t.Errorf("render: %q, %v", msg, err)
	}
	if _, err := parseTemplate(""); err != nil {
		t.Errorf("the default template: %v", err)
	}
}
