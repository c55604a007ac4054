package argocd_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const (
	exampleDir         = "config/argocd/example/voice"
	syncWaveAnnotation = "argocd.argoproj.io/sync-wave"
)

// readExample returns the objects the example kustomization lists.
func readExample(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(
		openRepoFile(t, filepath.Join(exampleDir, "kustomization.yaml")), 4096)
	if err := dec.Decode(&kustomization); err != nil {
		t.Fatalf("parsing the example's kustomization.yaml: %v", err)
	}
	var objs []*unstructured.Unstructured
	for _, res := range kustomization.Resources {
		dec := utilyaml.NewYAMLOrJSONDecoder(openRepoFile(t, filepath.Join(exampleDir, res)), 4096)
		for {
			u := &unstructured.Unstructured{}
			err := dec.Decode(&u.Object)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("parsing %s: %v", res, err)
			}
			if len(u.Object) > 0 {
				objs = append(objs, u)
			}
		}
	}
	return objs
}

func openRepoFile(t *testing.T, path string) io.Reader {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestExampleSyncWaves checks the ordering docs/gitops.md promises: every
// object of the example has a sync wave, and each AccountDefault comes in a
// later wave than the ClientConfiguration and the Secret it names.
func TestExampleSyncWaves(t *testing.T) {
	objs := readExample(t)
	wave := map[string]int{} // "Kind/name" -> wave
	for _, u := range objs {
		value, ok := u.GetAnnotations()[syncWaveAnnotation]
		if !ok {
			t.Errorf("%s %s has no %s annotation", u.GetKind(), u.GetName(), syncWaveAnnotation)
			continue
		}
		w, err := strconv.Atoi(value)
		if err != nil {
			t.Errorf("%s %s: sync wave %q is not an integer", u.GetKind(), u.GetName(), value)
			continue
		}
		wave[u.GetKind()+"/"+u.GetName()] = w
	}
	var defaults int
	for _, u := range objs {
		if u.GetKind() != accountDefault {
			continue
		}
		defaults++
		own := wave[accountDefault+"/"+u.GetName()]
		configuration, _, _ := unstructured.NestedString(u.Object, "spec", "configurationRef", "name")
		secret, _, _ := unstructured.NestedString(u.Object, "spec", "credentialsRef", "name")
		for _, dep := range []string{clientConfiguration + "/" + configuration, "Secret/" + secret} {
			w, ok := wave[dep]
			if !ok {
				t.Errorf("AccountDefault %s names %s, which the example does not contain", u.GetName(), dep)
				continue
			}
			if w >= own {
				t.Errorf("AccountDefault %s is in wave %d, not after %s (wave %d)", u.GetName(), own, dep, w)
			}
		}
	}
	if defaults == 0 {
		t.Error("the example has no AccountDefault")
	}
}
