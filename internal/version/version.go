// Package version says which build of the operator is running: the release
// version, the commit and the build date, stamped by the release build with
//
//	-ldflags "-X github.com/twilio-operator/voice-operator/internal/version.version=0.1.0
//	          -X github.com/twilio-operator/voice-operator/internal/version.commit=<sha>
//	          -X github.com/twilio-operator/voice-operator/internal/version.date=<RFC 3339>"
//
// and otherwise read from the build information the go command records
// (module version, vcs.revision, vcs.time), so that `go build` and
// `go install` in a checkout still tell the truth.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped by -ldflags -X; empty when not.
var (
	version string
	commit  string
	date    string
)

// Info describes this build.
type Info struct {
	// Version is the release (0.1.0), or "dev" for an unreleased build.
	Version string
	// Commit is the git revision, with "-dirty" when the tree had changes.
	Commit string
	// Date is when the commit was made (RFC 3339): reproducible builds stamp
	// the commit's time, not the clock's.
	Date string
	// Go is the toolchain that built the binary.
	Go string
}

// Get returns the stamped values, filled in from the build information.
func Get() Info {
	info := Info{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		fromBuildInfo(&info, bi)
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}

// fromBuildInfo fills what -ldflags left empty from the go command's record.
func fromBuildInfo(info *Info, bi *debug.BuildInfo) {
	if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	var revision, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		case "vcs.time":
			if info.Date == "" {
				info.Date = s.Value
			}
		}
	}
	if info.Commit == "" && revision != "" {
		info.Commit = revision
		if modified == "true" {
			info.Commit += "-dirty"
		}
	}
}

// String is what --version prints.
func (i Info) String() string {
	return fmt.Sprintf("voice-operator %s (commit %s, built %s, %s)", i.Version, i.Commit, i.Date, i.Go)
}
