package version

import (
	"runtime/debug"
	"testing"
)

func TestStampedValuesWinOverBuildInfo(t *testing.T) {
	info := Info{Version: "0.1.0", Commit: "abc", Date: "2026-11-25T00:00:00Z"}
	fromBuildInfo(&info, &debug.BuildInfo{
		Main:     debug.Module{Version: "v0.0.0-20261125000000-def"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "def"}, {Key: "vcs.time", Value: "2020-01-01T00:00:00Z"}},
	})
	if info.Version != "0.1.0" || info.Commit != "abc" || info.Date != "2026-11-25T00:00:00Z" {
		t.Errorf("ldflags values were overwritten: %+v", info)
	}
}

func TestBuildInfoFillsAnUnstampedBuild(t *testing.T) {
	var info Info
	fromBuildInfo(&info, &debug.BuildInfo{
		Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-11-25T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	})
	want := Info{Commit: "0123abcd-dirty", Date: "2026-11-25T12:00:00Z"}
	if info != want {
		t.Errorf("got %+v, want %+v (a (devel) build has no version)", info, want)
	}
}

func TestGoInstallVersionIsUsed(t *testing.T) {
	var info Info
	fromBuildInfo(&info, &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}})
	if info.Version != "v0.1.0" {
		t.Errorf("Version = %q, want the module version go install recorded", info.Version)
	}
}
