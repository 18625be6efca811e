// Package deploy_test checks the deployment files that no cluster, Docker daemon or
// Grafana here can run: the Kubernetes manifests, the Dockerfile's build, the Grafana
// dashboard and the Prometheus configuration, against each other and against the code.
package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// obj is one parsed YAML or JSON document.
type obj = map[string]any

// yamlToJSON is run by python3 with PyYAML: the module has no YAML parser of its own
// and this test adds no dependency for one.
const yamlToJSON = `import json, sys, yaml
json.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)`

var (
	pyOnce sync.Once
	pyErr  error
)

// parseYAML returns the documents of a YAML stream, skipping the test when python3
// with PyYAML is missing (apt-get install python3-yaml).
func parseYAML(t *testing.T, src []byte) []obj {
	t.Helper()
	pyOnce.Do(func() { pyErr = exec.Command("python3", "-c", "import yaml").Run() })
	if pyErr != nil {
		t.Skipf("python3 with PyYAML is needed to parse YAML here (apt-get install python3-yaml): %v", pyErr)
	}
	cmd := exec.Command("python3", "-c", yamlToJSON)
	cmd.Stdin = strings.NewReader(string(src))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("YAML does not parse: %v\n%s", err, stderr)
	}
	var docs []obj
	if err := json.Unmarshal(out, &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

func parseYAMLFile(t *testing.T, path string) []obj {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseYAML(t, b)
}

// get walks a path of map keys and list indexes ("spec", "template", 0, ...).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(obj)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

func num(v any, path ...any) int {
	f, _ := get(v, path...).(float64)
	return int(f)
}

func list(v any, path ...any) []any {
	l, _ := get(v, path...).([]any)
	return l
}

// registeredMetrics returns the names of the Prometheus metrics that application/ and
// presentation/ register (Name: "oven_..." in their non-test sources).
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`Name:\s*"(oven_[a-z0-9_]+)"`)
	names := map[string]bool{}
	for _, root := range []string{"../application", "../presentation"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				names[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(names) == 0 {
		t.Fatal("found no registered oven_ metrics in the sources")
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
