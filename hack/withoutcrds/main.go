// Command withoutcrds copies a multi-document YAML stream from stdin to
// stdout without its CustomResourceDefinitions. `make undeploy` pipes the
// rendered deployment through it: deleting the CRDs would delete every
// ClientConfiguration and AccountDefault with them, which removing the
// operator must never do.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

var crdKind = regexp.MustCompile(`(?m)^kind:\s*CustomResourceDefinition\s*$`)

func main() {
	data, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Fprintln(os.Stderr, "withoutcrds:", err)
		os.Exit(1)
	}
	var kept []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(doc) != "" && !crdKind.MatchString(doc) {
			kept = append(kept, doc)
		}
	}
	fmt.Print(strings.Join(kept, "\n---\n"))
}
