package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"runtime/debug"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// caBundlePath is where Go's crypto/x509 looks first for the system's
// trusted roots on Linux (Debian's path, also read by most other software).
const caBundlePath = "etc/ssl/certs/ca-certificates.crt"

// fallbackModule is the module the CA bundle comes from.
const fallbackModule = "golang.org/x/crypto/x509roots/fallback"

// caBundle returns the roots of golang.org/x/crypto/x509roots/fallback
// (Mozilla's NSS trust store, as the Go team publishes it) as one PEM file,
// in the bundle's order. The module's version is pinned by this module's
// go.sum, so the same source gives the same file on any machine, unlike a
// copy of the build machine's own ca-certificates. A root that NSS trusts
// only with a constraint (such as "not for certificates issued after a
// date") is left out: PEM cannot carry the constraint, and without it the
// image would trust more than Mozilla does. It also returns how many roots
// it holds and how many it left out.
func caBundle() (pemData []byte, kept, skipped int, err error) {
	var buf bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			skipped++
			continue
		}
		if _, err := x509.ParseCertificate(root.Certificate); err != nil {
			return nil, 0, 0, fmt.Errorf("a root of %s does not parse: %w", fallbackModule, err)
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, 0, 0, err
		}
		kept++
	}
	return buf.Bytes(), kept, skipped, nil
}

// moduleVersion is the version of a module this program was built with,
// as go.sum pinned it, for the release notes and the image's history.
func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == path {
				return dep.Version
			}
		}
	}
	return "(unknown)"
}
