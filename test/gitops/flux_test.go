package gitops_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
	"github.com/twilio-operator/voice-operator/internal/voicesim"
)

const root = "../.."

// TestFluxAppliesTheReleaseAndWaitsForHealth does what Flux's
// kustomize-controller does with this repository, with its own engine
// (github.com/fluxcd/pkg/ssa: server-side apply in stages, then a wait on
// kstatus): it applies the release's crds.yaml to a cluster that has no
// CRDs, then config/samples with the demo credentials, and waits. Every
// object must be reported healthy. Then a ClientConfiguration whose unique
// name a Console user already took must be reported failed, and soon: not
// left in progress until the wait times out.
func TestFluxAppliesTheReleaseAndWaitsForHealth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := kube.StartTestEnv(ctx, t, root, kube.WithoutCRDs())
	poller := polling.NewStatusPoller(env.Client, env.Client.RESTMapper(), polling.Options{})
	flux := ssa.NewResourceManager(env.Client, poller, ssa.Owner{Field: "kustomize-controller", Group: "kustomize.toolkit.fluxcd.io"})
	wait := ssa.WaitOptions{Interval: time.Second, Timeout: 2 * time.Minute}

	// Stage one: the CRDs, as the release ships them.
	crds, err := kube.ReadObjects(releaseCRDs(ctx, t))
	must(t, err)
	changes, err := flux.ApplyAllStaged(ctx, crds, ssa.DefaultApplyOptions())
	must(t, err)
	for _, entry := range changes.Entries {
		if entry.Action != ssa.CreatedAction {
			t.Errorf("applying crds.yaml to a cluster without them: %s, want created", entry)
		}
	}
	if len(changes.Entries) != 2 {
		t.Fatalf("crds.yaml applied %d objects, want the 2 CRDs:\n%s", len(changes.Entries), changes)
	}
	must(t, flux.WaitForSetWithContext(ctx, changes.ToObjMetadataSet(), wait))

	op, err := env.StartOperator(ctx, "--resync-period", "2s")
	must(t, err)
	t.Cleanup(func() {
		_ = op.Stop()
		if t.Failed() {
			t.Logf("the operator's log (last lines):\n%s", op.LogTail(40))
		}
	})

	// Stage two: the samples and the demo account's Secret, in a namespace
	// of their own, as a Flux Kustomization with targetNamespace puts them.
	const ns = "flux-samples"
	must(t, env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	secret, err := kube.ReadObjects(filepath.Join(root, "config", "demo", "twilio-credentials.yaml"))
	must(t, err)
	account, _, _ := unstructured.NestedString(secret[0].Object, "stringData", voicev1alpha1.SecretKeyAccountSID)
	token, _, _ := unstructured.NestedString(secret[0].Object, "stringData", voicev1alpha1.SecretKeyAuthToken)
	env.Sim.AddAccount(account, token)
	samples := append(secret, kustomizeBuild(t, filepath.Join(root, "config", "samples"))...)
	for _, obj := range samples {
		obj.SetNamespace(ns)
	}
	changes, err = flux.ApplyAllStaged(ctx, samples, ssa.DefaultApplyOptions())
	must(t, err)
	if len(changes.Entries) != len(samples) {
		t.Fatalf("applied %d objects of %d:\n%s", len(changes.Entries), len(samples), changes)
	}
	if err := flux.WaitForSetWithContext(ctx, changes.ToObjMetadataSet(), wait); err != nil {
		t.Fatalf("Flux did not find config/samples healthy: %v", err)
	}
	if got := len(env.Sim.Configurations(account)); got != 2 {
		t.Errorf("the account holds %d configurations after the samples, want their 2", got)
	}
	if env.Sim.Default(account) == "" {
		t.Error("the samples' AccountDefault is healthy but the account has no default")
	}

	// A unique name a Console user took first: the operator reports
	// AlreadyExists and stalls, and Flux must see a failure, not wait on.
	_, err = env.Sim.CreateOutOfBand(account, voicesim.Record{UniqueName: "console-made", CallNotificationURL: "https://console.example.com/"})
	must(t, err)
	taken := clientConfiguration(ns, "taken-name", "console-made")
	changes, err = flux.ApplyAllStaged(ctx, []*unstructured.Unstructured{taken}, ssa.DefaultApplyOptions())
	must(t, err)
	started := time.Now()
	err = flux.WaitForSetWithContext(ctx, changes.ToObjMetadataSet(), wait)
	switch {
	case err == nil:
		t.Fatal("Flux found the ClientConfiguration with a taken unique name healthy")
	case strings.Contains(err.Error(), "timeout"):
		t.Fatalf("Flux waited until its timeout instead of seeing the taken name fail: %v", err)
	case !strings.Contains(err.Error(), "ClientConfiguration/"+ns+"/taken-name status: 'Failed'"):
		t.Fatalf("Flux reported %v; want the object with the taken name Failed", err)
	}
	t.Logf("Flux reported in %s: %v", time.Since(started).Round(100*time.Millisecond), err)
	var console []voicesim.Record
	for _, r := range env.Sim.Configurations(account) {
		if r.UniqueName == "console-made" {
			console = append(console, r)
		}
	}
	if len(console) != 1 || console[0].CallNotificationURL != "https://console.example.com/" {
		t.Errorf("the Console's configuration changed: %+v", console)
	}
}

// releaseCRDs writes crds.yaml as `make release` does (hack/release, its
// crds command) and returns its path.
func releaseCRDs(ctx context.Context, t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(root)
	must(t, err)
	out := t.TempDir()
	cmd := exec.CommandContext(ctx, "go", "run", ".", "-root", abs, "-out", out, "-version", "0.0.0-test", "-allow-dirty", "crds")
	cmd.Dir = filepath.Join(abs, "hack", "release")
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/release crds: %v\n%s", err, log)
	}
	return filepath.Join(out, "crds.yaml")
}

// kustomizeBuild is `kustomize build dir`, as Flux runs it.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	must(t, err)
	var objs []*unstructured.Unstructured
	for _, r := range resources.Resources() {
		m, err := r.Map()
		must(t, err)
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return objs
}

// clientConfiguration is a ClientConfiguration as a user's YAML holds it.
func clientConfiguration(ns, name, uniqueName string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": voicev1alpha1.GroupVersion.String(),
		"kind":       "ClientConfiguration",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"uniqueName":       uniqueName,
			"callNotification": map[string]any{"url": "https://example.com/voice/notify", "method": "POST"},
			"credentialsRef":   map[string]any{"name": "twilio-credentials"},
		},
	}}
	return obj
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
