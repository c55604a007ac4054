package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
)

// TestInstallYAMLIsAcceptedByTheAPIServer applies the release's
// install.yaml to a real kube-apiserver with server-side apply, as the
// release notes tell a person to: every object is accepted, with no warning
// (the namespace warns about any pod template below the restricted Pod
// Security profile), and the Deployment runs the image by digest.
func TestInstallYAMLIsAcceptedByTheAPIServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := release(t)
	dir := t.TempDir()
	must(t, writeManifests(r.root, dir, r.meta, r.images))
	objs, err := kube.ReadObjects(filepath.Join(dir, "install.yaml"))
	must(t, err)

	var kinds []string
	for _, obj := range objs {
		if !slices.Contains(kinds, obj.GetKind()) {
			kinds = append(kinds, obj.GetKind())
		}
	}
	for _, kind := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Service", "Deployment"} {
		if !slices.Contains(kinds, kind) {
			t.Errorf("install.yaml has no %s; it has %v", kind, kinds)
		}
	}

	c, warnings := warningClient(t, env(t).Admin)
	for _, obj := range objs {
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("voice-operator-release-test"))
		if err != nil {
			t.Errorf("applying %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	if w := warnings.all(); len(w) > 0 {
		t.Errorf("the apiserver warned while applying install.yaml:\n%s", w)
	}

	var deployment appsv1.Deployment
	must(t, c.Get(ctx, client.ObjectKey{Namespace: "voice-operator-system", Name: "voice-operator-controller-manager"}, &deployment))
	digest, err := r.images.Index.Digest()
	must(t, err)
	if image := deployment.Spec.Template.Spec.Containers[0].Image; image != Repository+"@"+digest.String() {
		t.Errorf("the Deployment runs %s; want the release's image by digest, %s@%s", image, Repository, digest)
	}
}

// TestCRDsYAMLHoldsTheCRDsOnly: crds.yaml is the two CRDs and nothing else.
func TestCRDsYAMLHoldsTheCRDsOnly(t *testing.T) {
	root, err := localenv.RepoRoot()
	must(t, err)
	data, err := crdsYAML(root)
	must(t, err)
	path := filepath.Join(t.TempDir(), "crds.yaml")
	must(t, os.WriteFile(path, data, 0o600))
	var got []string
	objs, err := kube.ReadObjects(path)
	must(t, err)
	for _, obj := range objs {
		got = append(got, obj.GetKind()+" "+obj.GetName())
	}
	want := []string{
		"CustomResourceDefinition accountdefaults.voice.twilio-operator.io",
		"CustomResourceDefinition clientconfigurations.voice.twilio-operator.io",
	}
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Errorf("crds.yaml holds %q, want %q", got, want)
	}
}

// warnings collects the warnings the apiserver sends back.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}

// warningClient is a client acting as cfg's user that records every warning
// the apiserver answers with.
func warningClient(t *testing.T, cfg *rest.Config) (client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{})
	must(t, err)
	return c, w
}
