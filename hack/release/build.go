package main

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// versionPackage is where the manager keeps what --version prints; the
// release build stamps its variables with -ldflags -X.
const versionPackage = "github.com/twilio-operator/voice-operator/internal/version"

// Platform is an operating system and CPU architecture to build for.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// parsePlatforms reads a comma-separated list such as
// "linux/amd64,linux/arm64". The image is for Linux only.
func parsePlatforms(list string) ([]Platform, error) {
	var out []Platform
	for item := range strings.SplitSeq(list, ",") {
		osName, arch, ok := strings.Cut(strings.TrimSpace(item), "/")
		if !ok || osName != "linux" || arch == "" || strings.Contains(arch, "/") {
			return nil, fmt.Errorf("platform %q: want linux/<arch>, such as linux/amd64", item)
		}
		out = append(out, Platform{OS: osName, Arch: arch})
	}
	return out, nil
}

// Stamp is what the release writes into the manager's internal/version.
type Stamp struct {
	// Version is the release, such as 0.1.0.
	Version string
	// Commit is the revision (Source.Revision).
	Commit string
	// Date is the commit's time in RFC 3339 (Source.Date).
	Date string
}

// ldflags strips the symbol table and DWARF (-s -w: a smaller binary,
// stack traces keep their function names) and sets the version variables.
func (s Stamp) ldflags() string {
	return fmt.Sprintf("-s -w -X %[1]s.version=%[2]s -X %[1]s.commit=%[3]s -X %[1]s.date=%[4]s",
		versionPackage, s.Version, s.Commit, s.Date)
}

// buildManager compiles the manager of the checkout at root into out for
// one platform: static (no cgo), without the machine's paths (-trimpath) or
// VCS data (-buildvcs=false: the stamp says which commit), with go.mod as
// committed (-mod=readonly). toolchain, when not empty, is the Go release
// to build with (GOTOOLCHAIN; the go command fetches it from the module
// proxy once); empty keeps the environment's. It returns the Go version the
// binary says it was built with, and fails if that is not the one asked
// for.
func buildManager(ctx context.Context, root, out string, p Platform, s Stamp, toolchain string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-mod=readonly",
		"-ldflags", s.ldflags(), "-o", out, ".")
	cmd.Dir = root
	cmd.Env = buildEnv(p, toolchain)
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build for %s: %w\n%s", p, err, strings.TrimSpace(string(output)))
	}
	info, err := buildinfo.ReadFile(out)
	if err != nil {
		return "", fmt.Errorf("reading the build information of %s: %w", out, err)
	}
	if toolchain != "" && info.GoVersion != toolchain {
		return "", fmt.Errorf("%s was built with %s, not %s as asked", out, info.GoVersion, toolchain)
	}
	return info.GoVersion, nil
}

// buildEnv is the environment of a release build: the caller's, with
// everything that changes the binary's bytes set. GOFLAGS and GOEXPERIMENT are cleared, as
// buildManager passes its flags itself; the CPU feature levels are each
// architecture's baseline, whatever the machine building the release is
// set to.
func buildEnv(p Platform, toolchain string) []string {
	env := append(os.Environ(),
		"CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch,
		"GOFLAGS=", "GOEXPERIMENT=", "GOAMD64=v1", "GOARM64=v8.0")
	if toolchain != "" {
		env = append(env, "GOTOOLCHAIN="+toolchain)
	}
	return env // exec uses the last value of a key given twice
}
