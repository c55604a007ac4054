// Command vulngate turns the JSON stream of `govulncheck -format json` on
// standard input into a verdict, for hack/vulncheck.sh:
//
//   - a vulnerable function of a required module that the code calls (a
//     finding with a function-level trace) fails the check;
//   - the same in the Go standard library is listed, and fails only with
//     -stdlib=fail, since its fix is a newer Go release rather than a go.mod
//     change and CI may build with a Go that has known, fixed vulnerabilities;
//   - vulnerable packages that are imported, or modules that are only
//     required, without a call reaching the vulnerable code, are listed and
//     never fail.
//
// Exit status: 0 when nothing fails, 1 when something does, 2 when the input
// is not a symbol-level govulncheck JSON stream.
//
// Usage: govulncheck -format json ./... >scan.json && vulngate [-stdlib report|fail] <scan.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	stdlib := flag.String("stdlib", "report", "`mode` for called vulnerabilities in the Go standard library: report, or fail")
	flag.Parse()
	if (*stdlib != "report" && *stdlib != "fail") || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	res, err := Classify(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	if failed := Report(os.Stdout, res, *stdlib == "fail"); failed {
		os.Exit(1)
	}
}

// Report prints res in three groups (called in required modules, called in
// the standard library, not called) and a one-line verdict, and reports
// whether the check failed.
func Report(w io.Writer, res *Result, stdlibFails bool) (failed bool) {
	fmt.Fprintf(w, "%s, %s, database %s\n", res.Scanner, res.GoVersion, res.DB)

	var modules, stdlib, notCalled []*Vuln
	for _, v := range res.Vulns {
		switch {
		case v.Level != Called:
			notCalled = append(notCalled, v)
		case v.Stdlib():
			stdlib = append(stdlib, v)
		default:
			modules = append(modules, v)
		}
	}

	if len(modules) > 0 {
		fmt.Fprintf(w, "\nCalled vulnerabilities in required modules (FAIL):\n")
		for _, v := range modules {
			printCalled(w, v)
		}
	}
	if len(stdlib) > 0 {
		verdict := "reported, not failing: the fix is a newer Go release"
		if stdlibFails {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "\nCalled vulnerabilities in the Go standard library of %s (%s):\n", res.GoVersion, verdict)
		for _, v := range stdlib {
			printCalled(w, v)
		}
	}
	if len(notCalled) > 0 {
		fmt.Fprintf(w, "\nImported or required, but no call reaches the vulnerable code (not failing):\n")
		for _, v := range notCalled {
			fmt.Fprintf(w, "  %s  %s (%s), %s\n", v.ID, found(v), v.Level, fixed(v))
		}
	}

	blocking := res.Blocking(stdlibFails)
	fmt.Fprintln(w)
	switch {
	case len(blocking) > 0:
		ids, mods := map[string]bool{}, map[string]bool{}
		for _, v := range blocking {
			ids[v.ID], mods[v.Module] = true, true
		}
		fmt.Fprintf(w, "FAIL: %s called, in %s; upgrade to the fixed versions listed above.\n",
			count(len(ids), "vulnerability", "vulnerabilities"), count(len(mods), "module", "modules"))
	case len(stdlib) > 0:
		fmt.Fprintf(w, "PASS: no called vulnerability in a required module (%s in the standard library of %s, reported above).\n",
			count(len(stdlib), "called vulnerability", "called vulnerabilities"), res.GoVersion)
	default:
		fmt.Fprintf(w, "PASS: no called vulnerability.\n")
	}
	return len(blocking) > 0
}

func printCalled(w io.Writer, v *Vuln) {
	fmt.Fprintf(w, "  %s  %s, %s\n", v.ID, found(v), fixed(v))
	if v.Summary != "" {
		fmt.Fprintf(w, "      %s\n", v.Summary)
	}
	const shown = 3
	calls := strings.Join(v.Symbols[:min(shown, len(v.Symbols))], ", ")
	if len(v.Symbols) > shown {
		calls += fmt.Sprintf(" and %d more", len(v.Symbols)-shown)
	}
	fmt.Fprintf(w, "      calls %s\n", calls)
	fmt.Fprintf(w, "      e.g. %s\n", v.Example)
	fmt.Fprintf(w, "      https://pkg.go.dev/vuln/%s\n", v.ID)
}

// found names the module and the version in use.
func found(v *Vuln) string {
	if v.Stdlib() {
		return v.Module + "@" + goRelease(v.Version)
	}
	return v.Module + "@" + v.Version
}

func fixed(v *Vuln) string {
	switch {
	case v.Fixed == "":
		return "no fixed version"
	case v.Stdlib():
		return "fixed in " + goRelease(v.Fixed)
	default:
		return "fixed in " + v.Fixed
	}
}

// goRelease spells a standard library version (v1.26.9) as its Go release
// (go1.26.9).
func goRelease(semver string) string {
	if rest, ok := strings.CutPrefix(semver, "v"); ok {
		return "go" + rest
	}
	return semver
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
