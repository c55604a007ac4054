package helm_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/twilio-operator/voice-operator/internal/localenv"
)

// The chart and the checkout it comes from, seen from this package's
// directory (go test runs in it).
const (
	repoRoot = "../.."
	chartDir = repoRoot + "/charts/voice-operator"
	// namespace is the release namespace of the rendered and installed
	// releases.
	namespace = "voice-operator-system"
)

// kubeVersion is the Kubernetes version the chart is rendered and linted
// for: the one of the local control plane the install test runs (the SDK's
// own default under `go test` is 1.20, older than the chart's kubeVersion).
func kubeVersion(t testing.TB) *common.KubeVersion {
	t.Helper()
	v, err := common.ParseKubeVersion("v" + localenv.KubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// loadChart loads the chart from its directory, as `helm install ./chart`
// does.
func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading %s: %v", chartDir, err)
	}
	return ch
}

// valuesFile reads a values file of testdata, as `helm install -f` does.
func valuesFile(t testing.TB, name string) map[string]any {
	t.Helper()
	vals, err := common.ReadValuesFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// values parses YAML values given inline, as a values file would hold them.
func values(t testing.TB, yaml string) map[string]any {
	t.Helper()
	vals, err := common.ReadValues([]byte(yaml))
	if err != nil {
		t.Fatalf("parsing values %q: %v", yaml, err)
	}
	return vals
}

// templateChart renders the chart client-side, as `helm template` does
// (no cluster), and returns the release with its manifest. It fails the
// test when rendering fails.
func templateChart(t testing.TB, releaseName string, vals map[string]any) *release.Release {
	t.Helper()
	rel, err := tryTemplate(t, releaseName, vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return rel
}

// tryTemplate is templateChart that returns the error.
func tryTemplate(t testing.TB, releaseName string, vals map[string]any) (*release.Release, error) {
	t.Helper()
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = releaseName
	install.Namespace = namespace
	install.KubeVersion = kubeVersion(t)
	r, err := install.Run(loadChart(t), vals)
	if err != nil {
		return nil, err
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return nil, fmt.Errorf("the install action returned a %T, not a v1 release", r)
	}
	return rel, nil
}

// rendered is a chart's manifest split into its objects.
type rendered []*unstructured.Unstructured

// render renders the chart with vals and parses its objects.
func render(t testing.TB, vals map[string]any) rendered {
	t.Helper()
	objs, err := decodeObjects([]byte(templateChart(t, "voice-operator", vals).Manifest))
	if err != nil {
		t.Fatalf("parsing the rendered manifest: %v", err)
	}
	return objs
}

// decodeObjects parses every object of a multi-document YAML stream.
func decodeObjects(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// ofKind returns the objects of one kind.
func (r rendered) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range r {
		if obj.GetKind() == kind {
			out = append(out, obj)
		}
	}
	return out
}

// one returns the object of kind and name (in namespace ns, "" for a
// cluster-scoped one), failing the test when there is none.
func (r rendered) one(t testing.TB, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range r {
		if obj.GetKind() == kind && obj.GetNamespace() == ns && obj.GetName() == name {
			return obj
		}
	}
	t.Fatalf("no %s %s/%s among the rendered objects: %s", kind, ns, name, r)
	return nil
}

// String lists the objects as kind namespace/name.
func (r rendered) String() string {
	var names []string
	for _, obj := range r {
		names = append(names, obj.GetKind()+" "+obj.GetNamespace()+"/"+obj.GetName())
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// args returns the manager's arguments.
func (r rendered) args(t testing.TB) []string {
	t.Helper()
	return managerContainer(t, deployment(t, r)).Args
}

// readRepoFile reads a file of the checkout.
func readRepoFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
