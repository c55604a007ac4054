// Command refdocs writes docs/reference.md, the API reference, from the
// sources of truth: the CRDs in config/crd/bases (field docs, types,
// defaults, validation, printer columns), the Go types in api/v1alpha1 (the
// order of the fields), and the constants of api/v1alpha1/common_types.go
// (conditions, reasons, annotations, Secret keys) with their comments.
//
// It also writes the table of metrics in docs/operations.md from
// controllers.MetricDefinitions.
//
// Run it from the checkout's root after `make manifests`:
//
//	go run ./hack/refdocs            # rewrites docs/reference.md
//	go run ./hack/refdocs -o -       # prints it
//
// Its test fails when docs/reference.md is not what it would write, so the
// reference cannot drift from the API.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "docs/reference.md", "file to write, or - for standard output")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "refdocs:", err)
		os.Exit(1)
	}
}

// operationsGuide holds the generated table of metrics.
const operationsGuide = "docs/operations.md"

func run(out string) error {
	doc, err := generate(".")
	if err != nil {
		return err
	}
	if out == "-" {
		_, err = os.Stdout.Write(doc)
		return err
	}
	if err := os.WriteFile(out, doc, 0o644); err != nil {
		return err
	}
	guide, err := os.ReadFile(operationsGuide)
	if err != nil {
		return err
	}
	if guide, err = withMetricsTable(guide); err != nil {
		return err
	}
	return os.WriteFile(operationsGuide, guide, 0o644)
}
