package localenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scriptRepo lays out the part of a checkout hack/envtest.sh reads: the
// script, the wrapper modules it checks the pins of, and bin/k8s with the
// given programs already built there (fakes: nothing is built in these
// tests, and a build attempt would fail them, since the wrappers hold no
// source).
func scriptRepo(t *testing.T, built ...string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	script, err := os.ReadFile(filepath.Join(root, "hack", "envtest.sh"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(repo, "hack", "envtest.sh"), string(script), 0o755)
	for _, mod := range []string{"envtest", "etcd"} {
		gomod, err := os.ReadFile(filepath.Join(root, "hack", "tools", mod, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(repo, "hack", "tools", mod, "go.mod"), string(gomod), 0o644)
	}
	for _, name := range built {
		fakeProgram(t, filepath.Join(repo, "bin", "k8s", KubeVersion, name))
	}
	return repo
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func fakeProgram(t *testing.T, path string) {
	t.Helper()
	write(t, path, "#!/bin/sh\necho Kubernetes v"+KubeVersion+"\n", 0o755)
}

// runScript runs the script as `make test` does and returns the folder it
// prints.
func runScript(t *testing.T, repo string, env ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repo, "hack", "envtest.sh"), KubeVersion, etcdVersion(t))
	// No setup-envtest on PATH, whatever this machine has.
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}, env...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("hack/envtest.sh: %v\n%s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// etcdVersion is the etcd version hack/tools/etcd pins (the script checks it).
func etcdVersion(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "hack", "tools", "etcd", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(gomod), "\n") {
		if v, ok := strings.CutPrefix(line, "require go.etcd.io/etcd/server/v3 v"); ok {
			return v
		}
	}
	t.Fatal("hack/tools/etcd/go.mod pins no etcd server")
	return ""
}

func TestEnvtestScriptUsesACompleteKubebuilderAssetsAsItIs(t *testing.T) {
	repo := scriptRepo(t)
	given := t.TempDir()
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl", "kube-controller-manager"} {
		fakeProgram(t, filepath.Join(given, name))
	}
	if got := runScript(t, repo, "KUBEBUILDER_ASSETS="+given); got != given {
		t.Errorf("printed %q, want KUBEBUILDER_ASSETS itself, %q", got, given)
	}
}

func TestEnvtestScriptCompletesKubebuilderAssetsWithWhatItBuilt(t *testing.T) {
	// What setup-envtest installs: no kubectl, no kube-controller-manager.
	repo := scriptRepo(t, "kubectl", "kube-controller-manager")
	given := t.TempDir()
	fakeProgram(t, filepath.Join(given, "kube-apiserver"))
	fakeProgram(t, filepath.Join(given, "etcd"))

	got := runScript(t, repo, "KUBEBUILDER_ASSETS="+given)
	if filepath.Dir(got) != filepath.Join(repo, "bin", "k8s") || !strings.HasPrefix(filepath.Base(got), "given-") {
		t.Fatalf("printed %q, want a folder bin/k8s/given-* of the checkout", got)
	}
	for name, want := range map[string]string{
		"kube-apiserver":          filepath.Join(given, "kube-apiserver"),
		"etcd":                    filepath.Join(given, "etcd"),
		"kubectl":                 filepath.Join(repo, "bin", "k8s", KubeVersion, "kubectl"),
		"kube-controller-manager": filepath.Join(repo, "bin", "k8s", KubeVersion, "kube-controller-manager"),
	} {
		if link, err := os.Readlink(filepath.Join(got, name)); err != nil || link != want {
			t.Errorf("%s links to %q (%v), want %q", name, link, err, want)
		}
	}
}

func TestEnvtestScriptUsesItsOwnBuildWithoutKubebuilderAssets(t *testing.T) {
	repo := scriptRepo(t, "kube-apiserver", "etcd", "kubectl", "kube-controller-manager")
	want := filepath.Join(repo, "bin", "k8s", KubeVersion)
	if got := runScript(t, repo); got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}

func TestEnvtestScriptRefusesKubebuilderAssetsWithoutAnAPIServer(t *testing.T) {
	repo := scriptRepo(t, "kube-apiserver", "etcd", "kubectl", "kube-controller-manager")
	cmd := exec.Command(filepath.Join(repo, "hack", "envtest.sh"), KubeVersion, etcdVersion(t))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "KUBEBUILDER_ASSETS=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "holds no kube-apiserver and etcd") {
		t.Errorf("want a refusal naming what is missing; got %v: %s", err, out)
	}
}
