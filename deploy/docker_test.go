package deploy_test

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// No Docker engine can build here, so these tests check what the image build relies on:
// the Dockerfile's instructions, that its go build makes static binaries, and that
// .dockerignore keeps every file that build needs in the context.

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"CGO_ENABLED=0",
		"go build -trimpath -ldflags=\"-s -w\" -o /out/ ./application ./presentation",
		"COPY --from=build /out/application /out/presentation /oven/",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER 65532:65532",
		`CMD ["/oven/presentation"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The Go toolchain of the build stage must satisfy go.mod.
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(gomod))
	if goLine == nil || !strings.Contains(df, "ARG GO_VERSION="+goLine[1]+"\n") {
		t.Errorf("Dockerfile's GO_VERSION does not match go.mod's go %v", goLine)
	}
}

// TestDockerBuildIsStatic runs the Dockerfile's build command and checks that both
// binaries need no dynamic loader (distroless/static has none).
func TestDockerBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out+"/", "./application", "./presentation")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	for _, bin := range []string{"application", "presentation"} {
		f, err := elf.Open(filepath.Join(out, bin))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked", bin)
			}
		}
		f.Close()
	}
}

// TestDockerignoreKeepsTheBuild checks every file `go build ./application ./presentation`
// reads from this module (Go sources, embedded files, go.mod, go.sum) against the
// .dockerignore patterns.
func TestDockerignoreKeepsTheBuild(t *testing.T) {
	patterns := readDockerignore(t, "../.dockerignore")
	cmd := exec.Command("go", "list", "-json", "-deps", "./application", "./presentation")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Path string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != "github.com/ovengames/oven" {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(needed) < 20 {
		t.Fatalf("only %d files found for the build: %v", len(needed), needed)
	}
	for _, f := range needed {
		if ignored(patterns, f) {
			t.Errorf(".dockerignore leaves out %s, which the image build needs", f)
		}
	}
}

type ignorePattern struct {
	re     *regexp.Regexp
	negate bool
}

// readDockerignore turns .dockerignore lines into regular expressions with Docker's
// meaning: * and ? stay within a path element, ** spans any number, and a pattern that
// matches a directory leaves out everything under it.
func readDockerignore(t *testing.T, path string) []ignorePattern {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ignorePattern
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(strings.TrimPrefix(line, "!"))), "/")
		var re strings.Builder
		for i := 0; i < len(line); i++ {
			switch {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case line[i] == '*':
				re.WriteString("[^/]*")
			case line[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(line[i : i+1]))
			}
		}
		out = append(out, ignorePattern{re: regexp.MustCompile("^" + re.String() + "(/.*)?$"), negate: neg})
	}
	return out
}

func ignored(patterns []ignorePattern, file string) bool {
	out := false
	for _, p := range patterns {
		if p.re.MatchString(file) {
			out = !p.negate
		}
	}
	return out
}
