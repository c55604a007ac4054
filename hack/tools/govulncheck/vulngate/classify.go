package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The types below mirror the part of govulncheck's JSON stream (protocol
// v1.0.0, golang.org/x/vuln/internal/govulncheck) that vulngate reads. The
// stream is a sequence of messages, each with exactly one field set: a config
// first, then progress, SBOM, osv and finding messages in no fixed order.

type message struct {
	Config  *scanConfig `json:"config,omitempty"`
	OSV     *osvEntry   `json:"osv,omitempty"`
	Finding *finding    `json:"finding,omitempty"`
}

type scanConfig struct {
	ProtocolVersion string `json:"protocol_version"`
	ScannerName     string `json:"scanner_name"`
	ScannerVersion  string `json:"scanner_version"`
	DB              string `json:"db"`
	GoVersion       string `json:"go_version"`
	ScanLevel       string `json:"scan_level"`
}

type osvEntry struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

// A finding is emitted once when a vulnerable module version is required,
// once more when a vulnerable package is imported, and once per call path
// when a vulnerable function is reachable. Trace[0] is the vulnerable module,
// package or function; with a function, the last frame is the code's own
// function the path starts from.
type finding struct {
	OSV          string   `json:"osv"`
	FixedVersion string   `json:"fixed_version"`
	Trace        []*frame `json:"trace"`
}

type frame struct {
	Module   string    `json:"module"`
	Version  string    `json:"version"`
	Package  string    `json:"package"`
	Function string    `json:"function"`
	Receiver string    `json:"receiver"`
	Position *position `json:"position"`
}

type position struct {
	Filename string `json:"filename"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
}

// Level is how far govulncheck followed a vulnerability into the code.
type Level int

const (
	// Required: a vulnerable version of the module is in the build list.
	Required Level = iota
	// Imported: the code imports a vulnerable package, but no call path
	// reaches a vulnerable function.
	Imported
	// Called: a vulnerable function is reachable from the code.
	Called
)

func (l Level) String() string {
	return [...]string{"required", "imported", "called"}[l]
}

// Vuln is one vulnerability in one module. An advisory can name several
// modules (net/http bundles a copy of golang.org/x/net/http2, so one entry
// often covers both), and each is fixed, and judged, on its own.
type Vuln struct {
	ID      string
	Summary string
	Module  string // module path, "stdlib" for the standard library
	Version string // version in use
	Fixed   string // the fixed version govulncheck suggests, "" when none
	Level   Level
	// Symbols are the vulnerable functions a call path reaches, sorted.
	Symbols []string
	// Example is the shortest call path to one of them, in govulncheck's
	// words: "file:line:col: pkg.F calls pkg.G, which eventually calls ...".
	Example string

	exampleLen int
}

// Stdlib reports whether v is in the Go distribution itself (the standard
// library, or the go command for "toolchain"), where the fix is a newer Go
// release rather than a go.mod change.
func (v *Vuln) Stdlib() bool {
	return v.Module == "stdlib" || v.Module == "toolchain"
}

// Result is everything one govulncheck run found, worst level per
// vulnerability and module.
type Result struct {
	Scanner   string // e.g. "govulncheck v1.9.0"
	DB        string
	GoVersion string
	Vulns     []*Vuln // by module (the standard library first), then ID
}

// Blocking returns the vulnerabilities that fail the check: every called one
// in a required module, and called ones in the standard library too when
// stdlibFails is set.
func (r *Result) Blocking(stdlibFails bool) []*Vuln {
	var out []*Vuln
	for _, v := range r.Vulns {
		if v.Level == Called && (stdlibFails || !v.Stdlib()) {
			out = append(out, v)
		}
	}
	return out
}

// Classify reads a `govulncheck -format json` stream. It refuses a stream
// not scanned at symbol level, where "not called" could not be told apart
// from "not analysed".
func Classify(r io.Reader) (*Result, error) {
	dec := json.NewDecoder(r)
	var (
		res       *Result
		summaries = map[string]string{}
		vulns     = map[[2]string]*Vuln{}
	)
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading govulncheck JSON: %w", err)
		}
		switch {
		case m.Config != nil:
			c := m.Config
			if !strings.HasPrefix(c.ProtocolVersion, "v1.") {
				return nil, fmt.Errorf("govulncheck JSON protocol %q, want v1.x", c.ProtocolVersion)
			}
			if c.ScanLevel != "symbol" {
				return nil, fmt.Errorf("govulncheck scanned at %q level; run it with -scan symbol (the default) so that calls can be told from imports", c.ScanLevel)
			}
			res = &Result{
				Scanner:   strings.TrimSpace(c.ScannerName + " " + c.ScannerVersion),
				DB:        c.DB,
				GoVersion: c.GoVersion,
			}
		case res == nil:
			return nil, errors.New("govulncheck JSON does not start with its config")
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil:
			if err := add(vulns, m.Finding); err != nil {
				return nil, err
			}
		}
	}
	if res == nil {
		return nil, errors.New("no govulncheck JSON on input")
	}
	for _, v := range vulns {
		v.Summary = summaries[v.ID]
		sort.Strings(v.Symbols)
		res.Vulns = append(res.Vulns, v)
	}
	sort.Slice(res.Vulns, func(i, j int) bool {
		a, b := res.Vulns[i], res.Vulns[j]
		if a.Stdlib() != b.Stdlib() {
			return a.Stdlib()
		}
		if a.Module != b.Module {
			return a.Module < b.Module
		}
		return a.ID < b.ID
	})
	return res, nil
}

// add folds one finding into the vulnerability it is about, keeping the
// deepest level seen and, for calls, the symbol and the shortest path.
func add(vulns map[[2]string]*Vuln, f *finding) error {
	if f.OSV == "" || len(f.Trace) == 0 {
		return fmt.Errorf("govulncheck finding without an ID or a trace: %+v", f)
	}
	sink := f.Trace[0]
	key := [2]string{f.OSV, sink.Module}
	v := vulns[key]
	if v == nil {
		v = &Vuln{ID: f.OSV, Module: sink.Module, Version: sink.Version, Fixed: f.FixedVersion}
		vulns[key] = v
	}
	level := Required
	switch {
	case sink.Function != "":
		level = Called
	case sink.Package != "":
		level = Imported
	}
	v.Level = max(v.Level, level)
	if level != Called {
		return nil
	}
	if s := symbol(sink); !slices.Contains(v.Symbols, s) {
		v.Symbols = append(v.Symbols, s)
	}
	example := render(f.Trace)
	if v.Example == "" || len(f.Trace) < v.exampleLen ||
		len(f.Trace) == v.exampleLen && example < v.Example {
		v.Example, v.exampleLen = example, len(f.Trace)
	}
	return nil
}

// render describes a call path the way govulncheck's text output does.
func render(trace []*frame) string {
	entry := trace[len(trace)-1]
	s := symbol(entry)
	switch n := len(trace); {
	case n == 2:
		s += " calls " + symbol(trace[0])
	case n == 3:
		s += " calls " + symbol(trace[1]) + ", which calls " + symbol(trace[0])
	case n > 3:
		s += " calls " + symbol(trace[n-2]) + ", which eventually calls " + symbol(trace[0])
	}
	if p := entry.Position; p != nil && p.Line > 0 {
		s = fmt.Sprintf("%s:%d:%d: %s", p.Filename, p.Line, p.Column, s)
	}
	return s
}

// majorSuffix matches the /vN element that ends a major-version import path.
var majorSuffix = regexp.MustCompile(`^v[0-9]+$`)

// symbol names a function as pkg.Func or pkg.Type.Method, pkg being the last
// element of the import path that is not a major-version suffix.
func symbol(f *frame) string {
	pkg := path.Base(f.Package)
	if majorSuffix.MatchString(pkg) && strings.Contains(f.Package, "/") {
		pkg = path.Base(path.Dir(f.Package))
	}
	name := f.Function
	if f.Receiver != "" {
		name = strings.TrimPrefix(f.Receiver, "*") + "." + name
	}
	return pkg + "." + name
}
