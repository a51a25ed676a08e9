package chart

import "sigs.k8s.io/yaml"

// yamlUnmarshal decodes YAML as Helm's loader does.
func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }
