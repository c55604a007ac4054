package main

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	voicev1alpha1 "github.com/twilio-operator/voice-operator/api/v1alpha1"
	"github.com/twilio-operator/voice-operator/internal/localenv"
)

// TestManagerFromTheImageReconcilesAClientConfiguration takes /manager out
// of the image in the OCI layout and runs that very file, with the
// operator's own RBAC kubeconfig, against a control plane and the Voice API
// simulator, until a ClientConfiguration is Ready and exists remotely.
func TestManagerFromTheImageReconcilesAClientConfiguration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := release(t)
	img := openLayoutImage(t, r.layoutPath(), r.platform)
	manager := extract(t, img, managerPath, filepath.Join(t.TempDir(), "manager"))

	version, err := exec.CommandContext(ctx, manager, "--version").Output()
	must(t, err)
	want := fmt.Sprintf("voice-operator %s (commit %s, built %s, ", testVersion, r.meta.Source.Revision(), r.meta.Source.Date())
	if !strings.HasPrefix(string(version), want) {
		t.Errorf("--version printed %q; want the release's stamp, %q...", version, want)
	}

	e := env(t)
	op, err := localenv.StartOperator(ctx, localenv.OperatorOptions{
		Binary: manager, Kubeconfig: e.Kubeconfig, VoiceAPIURL: e.SimURL, LogDir: t.TempDir(),
	})
	must(t, err)
	t.Cleanup(func() {
		if err := op.Stop(); err != nil {
			t.Error(err)
		}
	})

	const ns, account, token = "release-test", "AC00000000000000000000000000000042", "release-test-token"
	must(t, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(t, e.CreateSecret(ctx, ns, "twilio-credentials", account, token))
	cc := &voicev1alpha1.ClientConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-softphone"},
		Spec: voicev1alpha1.ClientConfigurationSpec{
			UniqueName:       "web-softphone",
			CallNotification: voicev1alpha1.CallNotification{URL: "https://example.com/voice/notify"},
			CredentialsRef:   voicev1alpha1.SecretReference{Name: "twilio-credentials"},
		},
	}
	must(t, e.Client.Create(ctx, cc))
	if err := waitReady(ctx, e.Client, cc, op); err != nil {
		log, _ := os.ReadFile(op.LogPath)
		t.Fatalf("%v\nthe manager's log:\n%s", err, log)
	}

	var remote []string
	for _, a := range e.Sim.State() {
		if a.AccountSID == account {
			for _, rec := range a.Configurations {
				remote = append(remote, rec.ID+" "+rec.UniqueName+" "+rec.CallNotificationURL)
			}
		}
	}
	if wantRemote := cc.Status.ID + " web-softphone https://example.com/voice/notify"; len(remote) != 1 || remote[0] != wantRemote {
		t.Errorf("the simulator holds %q; want just %q", remote, wantRemote)
	}
}

// waitReady polls obj until its Ready condition is True, the manager exits,
// or ctx ends.
func waitReady(ctx context.Context, c client.Client, obj *voicev1alpha1.ClientConfiguration, op *localenv.Operator) error {
	for {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		if meta.IsStatusConditionTrue(obj.Status.Conditions, voicev1alpha1.ConditionReady) {
			return nil
		}
		select {
		case <-op.Done():
			return fmt.Errorf("the manager exited: %v", op.ExitError())
		case <-ctx.Done():
			return fmt.Errorf("%s/%s is not Ready: %+v", obj.Namespace, obj.Name, obj.Status.Conditions)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// extract copies the file name (a path inside the image, without the
// leading slash) out of img's layers to out, executable, and returns out.
// A later layer's copy wins, as in a container's file system.
func extract(t *testing.T, img v1.Image, name, out string) string {
	t.Helper()
	found := false
	eachEntry(t, img, func(_ int, hdr *tar.Header, content io.Reader) {
		if hdr.Name != name || hdr.Typeflag != tar.TypeReg {
			return
		}
		data, err := io.ReadAll(content)
		must(t, err)
		must(t, os.WriteFile(out, data, 0o755))
		found = true
	})
	if !found {
		t.Fatalf("no /%s in the image", name)
	}
	return out
}
