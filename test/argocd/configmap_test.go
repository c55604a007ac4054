package argocd_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

var update = flag.Bool("update", false, "rewrite config/argocd/argocd-cm-patch.yaml and the health.lua files of config/argocd/resource_customizations from config/argocd/health.lua")

const (
	scriptPath = "config/argocd/health.lua"
	patchPath  = "config/argocd/argocd-cm-patch.yaml"
	// group is the operator's API group; Argo CD's key for a kind is
	// resource.customizations.health.<group>_<Kind>.
	group = "voice.twilio-operator.io"
)

// patchHeader opens argocd-cm-patch.yaml; the rest is rendered from
// health.lua by renderPatch.
const patchHeader = `# Installs the voice-operator health checks into Argo CD. Merge it into the
# argocd-cm ConfigMap of your Argo CD installation, either
#
#   kubectl -n argocd patch configmap argocd-cm --patch-file config/argocd/argocd-cm-patch.yaml
#
# or as a patch in the kustomization that installs Argo CD (see docs/gitops.md).
#
# Generated: both keys carry config/argocd/health.lua byte for byte. Edit that
# file, then run  go test ./test/argocd/ -update  (the test fails while they differ).
`

// healthKey is the argocd-cm key of kind's health check.
func healthKey(kind string) string {
	return "resource.customizations.health." + group + "_" + kind
}

// renderPatch returns argocd-cm-patch.yaml as it must be for script.
func renderPatch(script string) string {
	var b strings.Builder
	b.WriteString(patchHeader)
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\ndata:\n")
	for _, kind := range kinds {
		b.WriteString("  " + healthKey(kind) + ": |\n")
		for _, line := range strings.SplitAfter(script, "\n") {
			if strings.TrimSpace(line) != "" {
				b.WriteString("    ")
			}
			b.WriteString(line)
		}
	}
	return b.String()
}

// readPatch parses argocd-cm-patch.yaml as the ConfigMap kubectl and kustomize see.
func readPatch(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(readRepoFile(t, patchPath)), 4096)
	if err := dec.Decode(cm); err != nil {
		t.Fatalf("parsing %s: %v", patchPath, err)
	}
	return cm
}

// patchScripts returns the health script argocd-cm-patch.yaml holds for each
// kind.
func patchScripts(t *testing.T) map[string]string {
	t.Helper()
	cm := readPatch(t)
	scripts := map[string]string{}
	for _, kind := range kinds {
		if s, ok := cm.Data[healthKey(kind)]; ok {
			scripts[kind] = s
		}
	}
	return scripts
}

// TestConfigMapPatch checks that the argocd-cm patch is a ConfigMap patch for
// argocd-cm whose health keys hold health.lua exactly, one per kind, so the
// tested script is the installed one.
func TestConfigMapPatch(t *testing.T) {
	script := readRepoFile(t, scriptPath)
	if *update {
		if err := os.WriteFile(filepath.Join(repoRoot, patchPath), []byte(renderPatch(script)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cm := readPatch(t)
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" {
		t.Errorf("%s patches %s %s %q, want v1 ConfigMap \"argocd-cm\"", patchPath, cm.APIVersion, cm.Kind, cm.Name)
	}
	var want []string
	for _, kind := range kinds {
		want = append(want, healthKey(kind))
	}
	var got []string
	for key := range cm.Data {
		got = append(got, key)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s has the keys %q, want %q", patchPath, got, want)
	}
	for _, kind := range kinds {
		if s := cm.Data[healthKey(kind)]; s != script {
			t.Errorf("%s: the script under %s differs from %s; run  go test ./test/argocd/ -update", patchPath, healthKey(kind), scriptPath)
		}
	}
	if got := readRepoFile(t, patchPath); got != renderPatch(script) {
		t.Errorf("%s is not as rendered from %s (header or layout changed); run  go test ./test/argocd/ -update", patchPath, scriptPath)
	}
}

// groupKind is a kind the operator's CRDs define.
type groupKind struct{ group, kind string }

// crdKinds returns the group and kind of each CRD in config/crd/bases.
func crdKinds(t *testing.T) []groupKind {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot, "config/crd/bases/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no CRDs in config/crd/bases")
	}
	var out []groupKind
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		crd := &unstructured.Unstructured{}
		err = utilyaml.NewYAMLOrJSONDecoder(f, 4096).Decode(&crd.Object)
		_ = f.Close()
		if err != nil {
			t.Fatalf("parsing %s: %v", path, err)
		}
		g, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		out = append(out, groupKind{g, kind})
	}
	return out
}

// TestEveryKindHasHealthCheck checks that the kinds tested here are exactly
// the CRDs the operator ships, so a new kind cannot arrive without its
// Argo CD health check.
func TestEveryKindHasHealthCheck(t *testing.T) {
	var crdKindNames []string
	for _, gk := range crdKinds(t) {
		if gk.group != group {
			t.Errorf("the CRD of %s has the group %q, want %q", gk.kind, gk.group, group)
		}
		crdKindNames = append(crdKindNames, gk.kind)
	}
	want := slices.Clone(kinds)
	slices.Sort(want)
	slices.Sort(crdKindNames)
	if !slices.Equal(crdKindNames, want) {
		t.Errorf("the CRDs define the kinds %q; the health checks cover %q", crdKindNames, want)
	}
}
