package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Source is the commit a release is built from.
type Source struct {
	// Commit is the full git revision of HEAD.
	Commit string
	// Dirty is true when the work tree differs from that commit: a changed,
	// staged or untracked file (ignored files do not count).
	Dirty bool
	// Time is when the commit was made, in UTC. Every timestamp of the
	// release is this one (the binary's build date, the image's creation
	// time, the mtimes in its layers), so the same commit gives the same
	// bytes whenever it is built.
	Time time.Time
}

// Revision is the commit as the release states it: with "-dirty" when the
// tree had changes, as internal/version reports an unstamped dirty build.
func (s Source) Revision() string {
	if s.Dirty {
		return s.Commit + "-dirty"
	}
	return s.Commit
}

// Date is Time in RFC 3339, as the binary and the image labels carry it.
func (s Source) Date() string { return s.Time.Format(time.RFC3339) }

// readSource asks git about the checkout at root.
func readSource(ctx context.Context, root string) (Source, error) {
	commit, err := git(ctx, root, "rev-parse", "--verify", "HEAD")
	if err != nil {
		return Source{}, err
	}
	when, err := git(ctx, root, "show", "-s", "--format=%cI", commit)
	if err != nil {
		return Source{}, err
	}
	t, err := time.Parse(time.RFC3339, when)
	if err != nil {
		return Source{}, fmt.Errorf("the commit time %q of %s: %w", when, commit, err)
	}
	status, err := git(ctx, root, "status", "--porcelain")
	if err != nil {
		return Source{}, err
	}
	return Source{Commit: commit, Dirty: status != "", Time: t.UTC()}, nil
}

// git runs git in dir and returns its output, trimmed.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

// snapshot clones the checkout at root into a new temporary folder with
// commit checked out, tagged v<version> there (never in root), and returns
// it with a function that removes it. A release is built from the clone, so
// the commit alone decides what ships: an edit made in the work tree while
// a release builds, which takes minutes, cannot leak into one of its
// binaries. It is a git repository because cyclonedx-gomod reads the main
// module's version from git, from the tag.
func snapshot(ctx context.Context, root, commit, version string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "voice-operator-release-src-")
	if err != nil {
		return "", nil, err
	}
	remove := func() { _ = os.RemoveAll(dir) }
	steps := [][]string{
		{"-C", root, "clone", "--quiet", "--no-checkout", ".", dir},
		{"-C", dir, "checkout", "--quiet", "--detach", commit},
	}
	if version != "" {
		steps = append(steps, []string{"-C", dir, "tag", "--no-sign", "v" + version, commit})
	}
	for _, args := range steps {
		if _, err := git(ctx, root, args...); err != nil {
			remove()
			return "", nil, err
		}
	}
	return dir, remove, nil
}
