package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReferenceIsUpToDate fails when docs/reference.md is not what the
// generator writes from the API as it is now: the reference is generated, so
// it must never drift from the types.
func TestReferenceIsUpToDate(t *testing.T) {
	root := filepath.Join("..", "..")
	want, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "docs", "reference.md"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("docs/reference.md is out of date; run `go run ./hack/refdocs` from the checkout's root (-want +got):\n%s", diff)
	}
}

// TestMetricsTableIsUpToDate fails when the table of metrics in
// docs/operations.md is not the one the metrics' definitions make.
func TestMetricsTableIsUpToDate(t *testing.T) {
	got, err := os.ReadFile(filepath.Join("..", "..", operationsGuide))
	if err != nil {
		t.Fatal(err)
	}
	want, err := withMetricsTable(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s's table of metrics is out of date; run `go run ./hack/refdocs` from the checkout's root (-want +got):\n%s", operationsGuide, diff)
	}
}
