package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testdata/903950e.json was recorded by govulncheck v1.9.0 with go1.26.8
// (`-format json ./...`, the database of hack/vulncheck.sh) on commit 903950e,
// which still required golang.org/x/net v0.57.0. It keeps the stream's order
// and messages verbatim, trimmed to a few vulnerabilities, one of each kind:
// every finding of GO-2026-6610 (x/net, called), GO-2026-6809 (standard
// library, called), GO-2026-6604 (standard library, imported only),
// GO-2026-6860 (x/net, required only) and GO-2026-6629 (x/text, required
// only); for GO-2026-6603, which affects both x/net and net/http's bundled
// copy, the module and package findings and a few of the call paths of each.
const recorded = "testdata/903950e.json"

func classifyFile(t *testing.T, name string) *Result {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Classify(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestClassifyRecorded(t *testing.T) {
	res := classifyFile(t, recorded)

	if res.Scanner != "govulncheck v1.9.0" || res.GoVersion != "go1.26.8" {
		t.Errorf("scanner %q with %q, want govulncheck v1.9.0 with go1.26.8", res.Scanner, res.GoVersion)
	}
	type row struct {
		ID, Module, Version, Fixed string
		Level                      Level
	}
	want := []row{
		{"GO-2026-6603", "stdlib", "v1.26.8", "v1.26.9", Called},
		{"GO-2026-6604", "stdlib", "v1.26.8", "v1.26.9", Imported},
		{"GO-2026-6809", "stdlib", "v1.26.8", "v1.26.10", Called},
		{"GO-2026-6603", "golang.org/x/net", "v0.57.0", "v0.60.0", Called},
		{"GO-2026-6610", "golang.org/x/net", "v0.57.0", "v0.60.0", Called},
		{"GO-2026-6860", "golang.org/x/net", "v0.57.0", "v0.62.0", Required},
		{"GO-2026-6629", "golang.org/x/text", "v0.40.0", "v0.41.0", Required},
	}
	var got []row
	for _, v := range res.Vulns {
		got = append(got, row{v.ID, v.Module, v.Version, v.Fixed, v.Level})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("vulnerabilities:\n got %v\nwant %v", got, want)
	}

	xnet := res.Vulns[4] // GO-2026-6610 in golang.org/x/net, every finding kept
	if want := "HTTP/2 transport accepts malformed framing-related headers in net/http"; xnet.Summary != want {
		t.Errorf("summary %q, want %q", xnet.Summary, want)
	}
	wantSymbols := []string{
		"http2.Transport.NewClientConn",
		"http2.Transport.RoundTrip",
		"http2.noDialH2RoundTripper.NewClientConn",
		"http2.noDialH2RoundTripper.RoundTrip",
		"http2.unencryptedTransport.RoundTrip",
	}
	if !reflect.DeepEqual(xnet.Symbols, wantSymbols) {
		t.Errorf("symbols\n got %q\nwant %q", xnet.Symbols, wantSymbols)
	}
	if want := "controllers/metrics.go:127:84: controllers.roundTripper.RoundTrip calls controllers.WrapKubeTransport$1, which calls http2.noDialH2RoundTripper.RoundTrip"; xnet.Example != want {
		t.Errorf("example\n got %q\nwant %q", xnet.Example, want)
	}
	x509 := res.Vulns[2] // GO-2026-6809: a path through the standard library
	if want := "internal/voice/credentials.go:230:24: voice.Credentials.Format calls io.WriteString, which eventually calls x509.Certificate.Verify"; x509.Example != want {
		t.Errorf("example\n got %q\nwant %q", x509.Example, want)
	}
	for _, v := range res.Vulns {
		if v.Level != Called && (len(v.Symbols) > 0 || v.Example != "") {
			t.Errorf("%s in %s is %v but has call paths %q, %q", v.ID, v.Module, v.Level, v.Symbols, v.Example)
		}
	}
}

func TestBlocking(t *testing.T) {
	res := classifyFile(t, recorded)
	ids := func(vs []*Vuln) (out []string) {
		for _, v := range vs {
			out = append(out, v.ID+" "+v.Module)
		}
		return out
	}
	report := []string{"GO-2026-6603 golang.org/x/net", "GO-2026-6610 golang.org/x/net"}
	if got := ids(res.Blocking(false)); !reflect.DeepEqual(got, report) {
		t.Errorf("blocking with -stdlib=report: %q, want %q", got, report)
	}
	fail := append([]string{"GO-2026-6603 stdlib", "GO-2026-6809 stdlib"}, report...)
	if got := ids(res.Blocking(true)); !reflect.DeepEqual(got, fail) {
		t.Errorf("blocking with -stdlib=fail: %q, want %q", got, fail)
	}
}

// stdlibOnly re-encodes the recorded stream without the findings in
// modules other than the standard library: what the same commit would give
// once its modules were upgraded.
func stdlibOnly(t *testing.T) io.Reader {
	t.Helper()
	data, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	dec, enc := json.NewDecoder(bytes.NewReader(data)), json.NewEncoder(&out)
	for {
		var m struct {
			Finding *finding `json:"finding"`
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m.Finding != nil && m.Finding.Trace[0].Module != "stdlib" {
			continue
		}
		if err := enc.Encode(raw); err != nil {
			t.Fatal(err)
		}
	}
	return &out
}

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name        string
		input       func(*testing.T) io.Reader
		stdlibFails bool
		failed      bool
		verdict     string
	}{
		{"recorded", nil, false, true, "FAIL: 2 vulnerabilities called, in 1 module;"},
		{"recorded, stdlib fails", nil, true, true, "FAIL: 3 vulnerabilities called, in 2 modules;"},
		{"stdlib only", stdlibOnly, false, false, "PASS: no called vulnerability in a required module (2 called vulnerabilities in the standard library of go1.26.8, reported above)."},
		{"stdlib only, stdlib fails", stdlibOnly, true, true, "FAIL: 2 vulnerabilities called, in 1 module;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res *Result
			if tc.input == nil {
				res = classifyFile(t, recorded)
			} else {
				var err error
				if res, err = Classify(tc.input(t)); err != nil {
					t.Fatal(err)
				}
			}
			var out strings.Builder
			if failed := Report(&out, res, tc.stdlibFails); failed != tc.failed {
				t.Errorf("Report failed = %v, want %v", failed, tc.failed)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, tc.verdict) {
				t.Errorf("verdict %q, want it to start with %q\n%s", last, tc.verdict, out.String())
			}
		})
	}
}

func TestClassifyRejects(t *testing.T) {
	for _, tc := range []struct{ name, input, err string }{
		{"empty", "", "no govulncheck JSON"},
		{"no config first", `{"finding":{"osv":"GO-1","trace":[{"module":"m"}]}}`, "does not start with its config"},
		{"package level", `{"config":{"protocol_version":"v1.0.0","scan_level":"package"}}`, `scanned at "package" level`},
		{"other protocol", `{"config":{"protocol_version":"v2.0.0","scan_level":"symbol"}}`, `protocol "v2.0.0"`},
		{"truncated", `{"config":{"protocol_version":"v1.0.0","scan_level":"symbol"}}{"finding":{"osv":`, "reading govulncheck JSON"},
		{"finding without trace", `{"config":{"protocol_version":"v1.0.0","scan_level":"symbol"}}{"finding":{"osv":"GO-1"}}`, "without an ID or a trace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Classify(strings.NewReader(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Classify error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestSymbol(t *testing.T) {
	for _, tc := range []struct {
		f    frame
		want string
	}{
		{frame{Package: "crypto/x509", Function: "Verify", Receiver: "*Certificate"}, "x509.Certificate.Verify"},
		{frame{Package: "golang.org/x/net/http2", Function: "ConfigureTransports"}, "http2.ConfigureTransports"},
		{frame{Package: "github.com/emicklei/go-restful/v3", Function: "Add", Receiver: "*Container"}, "go-restful.Container.Add"},
	} {
		if got := symbol(&tc.f); got != tc.want {
			t.Errorf("symbol(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}
