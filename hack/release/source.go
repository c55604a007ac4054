package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

// snapshot writes the tree of commit into a new temporary folder (git
// archive) and returns it with a function that removes it. A release is
// built from there, so the commit alone decides what ships: an edit made
// in the work tree while a release builds, which takes minutes, cannot
// leak into one of its binaries.
func snapshot(ctx context.Context, root, commit string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "voice-operator-release-src-")
	if err != nil {
		return "", nil, err
	}
	remove := func() { _ = os.RemoveAll(dir) }
	cmd := exec.CommandContext(ctx, "git", "archive", "--format=tar", commit)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		remove()
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		remove()
		return "", nil, err
	}
	extractErr := extractTar(out, dir)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		remove()
		return "", nil, fmt.Errorf("git archive %s: %w: %s", commit, err, strings.TrimSpace(stderr.String()))
	}
	if extractErr != nil {
		remove()
		return "", nil, fmt.Errorf("extracting git archive %s: %w", commit, extractErr)
	}
	return dir, remove, nil
}

// extractTar writes the folders, files and symbolic links of a tar stream
// into dir, refusing any path that would leave it.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue // git's commit id comment
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("path %q leaves the folder", h.Name)
		}
		path := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			err = writeFile(path, tr, os.FileMode(h.Mode).Perm())
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, path)
		default:
			err = fmt.Errorf("%s: unexpected entry type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(path string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
