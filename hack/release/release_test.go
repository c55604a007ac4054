package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/twilio-operator/voice-operator/internal/localenv"
	"github.com/twilio-operator/voice-operator/internal/localenv/kube"
)

// testVersion is the version the tests release.
const testVersion = "0.0.0-test"

// testRelease is a release of this checkout as `make image` makes it, but
// with the local Go toolchain and for this machine's architecture only.
type testRelease struct {
	// dir is the release folder.
	dir      string
	root     string
	meta     Meta
	platform Platform
	images   *Images
}

// layoutPath and tarballPath are where the two forms of the image are.
func (r *testRelease) layoutPath() string { return filepath.Join(r.dir, layoutDir) }
func (r *testRelease) tarballPath() string {
	return filepath.Join(r.dir, tarballName(r.meta.Version, r.platform))
}

// buildTestRelease builds the manager and the image into dir, and writes
// both forms of the image there.
func buildTestRelease(ctx context.Context, root, dir string) (*testRelease, error) {
	src, err := readSource(ctx, root)
	if err != nil {
		return nil, err
	}
	r := &testRelease{dir: dir, root: root, meta: Meta{Version: testVersion, Source: src}, platform: Platform{OS: "linux", Arch: runtime.GOARCH}}
	r.images, err = buildImages(ctx, localenv.NewProgress(io.Discard), root, dir, []Platform{r.platform}, r.meta, "")
	if err != nil {
		return nil, err
	}
	if _, err := writeImages(dir, r.images, r.meta); err != nil {
		return nil, err
	}
	return r, nil
}

// scratch holds the folders the shared release and env live in, removed
// when the tests end.
var scratch []string

// sharedRelease is built once, by the first test that needs it.
var sharedRelease = sync.OnceValues(func() (*testRelease, error) {
	root, err := localenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "voice-operator-release-test-")
	if err != nil {
		return nil, err
	}
	scratch = append(scratch, dir)
	return buildTestRelease(context.Background(), root, dir)
})

// release returns the shared release, failing the test if it cannot be
// built.
func release(t *testing.T) *testRelease {
	t.Helper()
	r, err := sharedRelease()
	if err != nil {
		t.Fatalf("building the release: %v", err)
	}
	return r
}

// sharedEnv is the control plane (with config/rbac installed and the
// operator's own kubeconfig) and the simulator, started once by the first
// test that needs them.
var sharedEnv = sync.OnceValues(func() (*kube.Env, error) {
	root, err := localenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		assets := localenv.AssetsDir(root)
		if err := localenv.CheckAssets(assets); err != nil {
			return nil, err
		}
		if err := os.Setenv("KUBEBUILDER_ASSETS", assets); err != nil {
			return nil, err
		}
	}
	startedEnv, err = kube.StartEnv(context.Background(), root, log.Printf)
	return startedEnv, err
})

// startedEnv is the shared env once started, for TestMain to stop.
var startedEnv *kube.Env

// env returns the shared control plane and simulator.
func env(t *testing.T) *kube.Env {
	t.Helper()
	e, err := sharedEnv()
	if err != nil {
		t.Fatalf("starting the control plane and the simulator: %v", err)
	}
	return e
}

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; its errors come back as errors.
	ctrllog.SetLogger(logr.Discard())
	code := m.Run()
	if startedEnv != nil {
		startedEnv.Stop()
	}
	for _, dir := range scratch {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}
