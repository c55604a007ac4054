package argocd_test

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// customizationsDir holds the health checks in the layout of Argo CD's own
// repository: resource_customizations/<group>/<Kind>/health.lua, with
// health_test.yaml and the testdata/ objects it names. It is what a pull
// request to argoproj/argo-cd would add, and the tests here run it the way
// Argo CD's util/lua tests do: each testdata object through its Kind's
// health.lua, compared with the expected status and message.
const customizationsDir = "config/argocd/resource_customizations"

// upstreamScriptPath is the copy of health.lua in the upstream layout for kind.
func upstreamScriptPath(kind string) string {
	return path.Join(customizationsDir, group, kind, "health.lua")
}

// upstreamHealthTests is a health_test.yaml, in Argo CD's format.
type upstreamHealthTests struct {
	Tests []upstreamHealthTest `json:"tests"`
}

// upstreamHealthTest is one entry of a health_test.yaml: an object, by its
// path relative to the file, and the health the script must return for it.
type upstreamHealthTest struct {
	HealthStatus struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"healthStatus"`
	InputPath string `json:"inputPath"`
}

// scriptStatuses are the health codes health.lua returns. Every Kind's
// health_test.yaml must show each of them at least once.
var scriptStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended"}

// TestUpstreamScripts checks that each Kind's health.lua in the upstream
// layout is config/argocd/health.lua byte for byte; -update writes them.
func TestUpstreamScripts(t *testing.T) {
	script := readRepoFile(t, scriptPath)
	for _, kind := range kinds {
		target := upstreamScriptPath(kind)
		if *update {
			if err := os.MkdirAll(filepath.Join(repoRoot, path.Dir(target)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(repoRoot, target), []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if readRepoFile(t, target) != script {
			t.Errorf("%s differs from %s; run  go test ./test/argocd/ -update", target, scriptPath)
		}
	}
}

// TestUpstreamLayoutCoversEveryKind checks that the upstream layout has a
// directory for exactly the kinds the CRDs define, each with its health.lua
// and health_test.yaml, so neither a new kind nor a removed one goes unnoticed.
func TestUpstreamLayoutCoversEveryKind(t *testing.T) {
	var want []string
	for _, gk := range crdKinds(t) {
		want = append(want, gk.group+"/"+gk.kind)
	}
	dirs, err := filepath.Glob(filepath.Join(repoRoot, customizationsDir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, dir := range dirs {
		got = append(got, filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir))
		for _, name := range []string{"health.lua", "health_test.yaml"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s: %v", path.Join(customizationsDir, got[len(got)-1]), err)
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s has directories for %q; the CRDs define %q", customizationsDir, got, want)
	}
}

// TestUpstreamHealthTests runs every health_test.yaml of the upstream layout:
// each object its tests name goes through the health.lua next to it, in the
// harness that sets gopher-lua up as Argo CD does, and must come out with the
// file's status and message exactly. It also checks what Argo CD's own test
// would trip over: an object of another group or kind than its directory, an
// inputPath outside testdata/, and a testdata file no test names.
func TestUpstreamHealthTests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, customizationsDir, "*", "*", "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no %s/*/*/health_test.yaml", customizationsDir)
	}
	for _, file := range files {
		dir := filepath.Dir(file)
		kind := filepath.Base(dir)
		dirGroup := filepath.Base(filepath.Dir(dir))
		name := path.Join(customizationsDir, dirGroup, kind, "health_test.yaml") // as a person finds it
		t.Run(dirGroup+"/"+kind, func(t *testing.T) {
			script := readRepoFile(t, path.Join(customizationsDir, dirGroup, kind, "health.lua"))
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var spec upstreamHealthTests
			if err := yaml.UnmarshalStrict(data, &spec); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(spec.Tests) == 0 {
				t.Fatalf("%s lists no tests", name)
			}

			named := map[string]bool{}
			shown := map[string]bool{}
			for _, tc := range spec.Tests {
				if named[tc.InputPath] {
					t.Errorf("%s names %s twice", name, tc.InputPath)
				}
				named[tc.InputPath] = true
				shown[tc.HealthStatus.Status] = true
				t.Run(tc.InputPath, func(t *testing.T) {
					if !strings.HasPrefix(tc.InputPath, "testdata/") || path.Clean(tc.InputPath) != tc.InputPath {
						t.Fatalf("%s: inputPath %q is not a file under testdata/", name, tc.InputPath)
					}
					input, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(tc.InputPath)))
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					// Through JSON, as the apiserver hands objects to Argo CD:
					// integers stay int64.
					asJSON, err := yaml.YAMLToJSON(input)
					if err != nil {
						t.Fatalf("%s: %s: %v", name, tc.InputPath, err)
					}
					obj := decodeObject(t, string(asJSON))
					if gvk := obj.GroupVersionKind(); gvk.Group != dirGroup || gvk.Kind != kind {
						t.Fatalf("%s: %s is a %s, but sits under %s/%s", name, tc.InputPath, gvk, dirGroup, kind)
					}

					got := runHealthScript(t, script, obj)
					want := health{Status: tc.HealthStatus.Status, Message: tc.HealthStatus.Message}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s: %s: health (-want +got):\n%s", name, tc.InputPath, diff)
					}
				})
			}

			inputs, err := filepath.Glob(filepath.Join(dir, "testdata", "*"))
			if err != nil {
				t.Fatal(err)
			}
			for _, input := range inputs {
				if rel := "testdata/" + filepath.Base(input); !named[rel] {
					t.Errorf("%s names no test for %s", name, rel)
				}
			}
			for _, status := range scriptStatuses {
				if !shown[status] {
					t.Errorf("%s has no test whose health is %s", name, status)
				}
			}
		})
	}
}
