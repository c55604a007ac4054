package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// header is the comment that opens the stream and kustomization.yaml: what
// the objects will do when applied and deleted. It holds nothing that
// changes between two exports of an unchanged account.
func header(res Result, opts Options) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, "# "+format+"\n", args...) }
	line("Exported by `voice-operator export` from Twilio account %s.", res.Account)
	line("")
	line("Each ClientConfiguration holds its remote configuration's fields exactly as")
	line("Twilio does and carries the annotation voice.twilio-operator.io/adopt: \"true\",")
	line("so applying it takes the configuration over without changing it.")
	switch opts.DeletionPolicy {
	case "Orphan":
		line("deletionPolicy is Orphan: deleting these objects never deletes anything in")
		line("Twilio. Set it to Delete only where deleting the object should delete the")
		line("configuration too.")
	default:
		line("deletionPolicy is %s: DELETING THESE OBJECTS DELETES THE CONFIGURATIONS IN TWILIO.", opts.DeletionPolicy)
	}
	if opts.ManagementPolicy == "ObserveOnly" {
		line("managementPolicy is ObserveOnly: the operator only reads and reports drift;")
		line("set it to Manage to let it correct drift.")
	}
	line("Credentials: the Secret %q in the objects' namespace (not exported).", opts.CredentialsSecret)
	if res.DefaultNote != "" {
		line("No AccountDefault: %s.", res.DefaultNote)
	}
	if len(res.BasicAuthSecrets) > 0 {
		line("")
		line("These webhook URLs carry credentials, which are not exported. Create each")
		line("Secret (keys username and password, as in the URL) before applying, or the")
		line("object waits for it:")
		for _, name := range slices.Sorted(maps.Keys(res.BasicAuthSecrets)) {
			line("  %s (for ClientConfiguration %s)", res.BasicAuthSecrets[name], name)
		}
	}
	if len(res.Skipped) > 0 {
		line("")
		line("Not exported (no object could hold them unchanged):")
		for _, s := range res.Skipped {
			line("  %q (%s): %s", s.UniqueName, s.ID, s.Reason)
		}
	}
	return b.String()
}

// render is one object as YAML, keys sorted.
func render(obj Object) ([]byte, error) {
	return yaml.Marshal(obj.Content)
}

// WriteStream writes the header and every object as one YAML stream.
func WriteStream(w io.Writer, res Result, opts Options) error {
	var b bytes.Buffer
	b.WriteString(header(res, opts))
	for _, obj := range res.Objects {
		data, err := render(obj)
		if err != nil {
			return err
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// fileName is where WriteDir puts an object.
func fileName(obj Object) string {
	return strings.ToLower(obj.Kind) + "-" + obj.Name + ".yaml"
}

// ErrNotEmpty is returned by WriteDir for a folder that holds files,
// unless forced.
var ErrNotEmpty = errors.New("the output folder is not empty")

// WriteDir writes one file per object and a kustomization.yaml listing
// them into dir, creating it if needed. A folder that holds anything is
// refused unless force; with force, files an earlier export wrote (and
// only those) are removed first, so a configuration deleted since does not
// linger.
func WriteDir(dir string, res Result, opts Options, force bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	case err != nil:
		return err
	case len(entries) > 0 && !force:
		return fmt.Errorf("%w: %s holds %d entries; choose another folder, or --force to replace an earlier export there", ErrNotEmpty, dir, len(entries))
	case len(entries) > 0:
		for _, e := range entries {
			if written(e.Name()) {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	var kustomization strings.Builder
	kustomization.WriteString(header(res, opts))
	kustomization.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	if len(res.Objects) == 0 {
		kustomization.WriteString("resources: []\n")
	} else {
		kustomization.WriteString("resources:\n")
	}
	for _, obj := range res.Objects {
		data, err := render(obj)
		if err != nil {
			return err
		}
		name := fileName(obj)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&kustomization, "- %s\n", name)
	}
	return os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization.String()), 0o644)
}

// written reports whether a file name is one WriteDir writes.
func written(name string) bool {
	return name == "kustomization.yaml" ||
		(strings.HasSuffix(name, ".yaml") && (strings.HasPrefix(name, "clientconfiguration-") || strings.HasPrefix(name, "accountdefault-")))
}
