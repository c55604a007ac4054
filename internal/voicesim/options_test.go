package voicesim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOptions checks each behaviour beyond the reference is off in the zero
// Options and on only when its field asks for it.
func TestOptions(t *testing.T) {
	cases := map[string]struct {
		reason string
		opts   Options
		check  func(t *testing.T, h *harness, id string) any
		off    any // what the zero Options give
		on     any // what opts give
	}{
		"dates": {reason: "date_created and date_updated are not in the reference", opts: Options{Dates: true},
			check: func(t *testing.T, h *harness, id string) any {
				m := h.a("GET", RouteCollection+"/"+id, "").json(t)
				_, created := m["date_created"]
				_, updated := m["date_updated"]
				return [2]bool{created, updated}
			}, off: [2]bool{false, false}, on: [2]bool{true, true}},
		"self url": {reason: "a url field is not in the reference", opts: Options{SelfURL: true},
			check: func(t *testing.T, h *harness, id string) any {
				_, ok := h.a("GET", RouteCollection+"/"+id, "").json(t)["url"]
				return ok
			}, off: false, on: true},
		"name in path": {reason: "the reference addresses configurations by id only", opts: Options{NameInPath: true},
			check: func(t *testing.T, h *harness, id string) any {
				return [3]int{h.a("GET", RouteCollection+"/existing", "").status,
					h.a("PUT", RouteCollection+"/existing", body("existing", "https://z.example", "POST")).status,
					h.a("DELETE", RouteCollection+"/existing", "").status}
			}, off: [3]int{404, 404, 404}, on: [3]int{200, 200, 204}},
		"duplicate status": {reason: "the reference does not say how a duplicate is refused", opts: Options{DuplicateStatus: 409},
			check: func(t *testing.T, h *harness, id string) any {
				m := h.a("POST", RouteCollection, body("existing", "https://x.example", "POST")).json(t)
				return [2]any{m["status"], m["code"]}
			}, off: [2]any{400.0, 20001.0}, on: [2]any{409.0, 20409.0}},
		"page size": {reason: "the largest page, and whether above it is refused or clamped", opts: Options{MaxPageSize: 2, ClampPageSize: true},
			check: func(t *testing.T, h *harness, id string) any {
				return h.a("GET", RouteCollection+"?pageSize=60", "").status
			}, off: 400, on: 200},
		"delete default": {reason: "the reference does not say what deleting the default does", opts: Options{DeleteDefault: DeleteDefaultRefused},
			check: func(t *testing.T, h *harness, id string) any {
				h.a("POST", RouteDefault, `{"configuration_id":"`+id+`"}`)
				status := h.a("DELETE", RouteCollection+"/"+id, "").status
				return [2]any{status, h.sim.Default(acctA) == id}
			}, off: [2]any{204, false}, on: [2]any{400, true}},
		"no default": {reason: "the reference does not say how an unset default reads", opts: Options{NoDefault: NoDefaultNull},
			check: func(t *testing.T, h *harness, id string) any {
				a := h.a("GET", RouteDefault, "")
				if a.status == http.StatusNotFound {
					return "404"
				}
				return string(a.body)
			}, off: "404", on: "null"},
		"no default, empty": {reason: "an empty 200 is another way to say none", opts: Options{NoDefault: NoDefaultEmpty},
			check: func(t *testing.T, h *harness, id string) any {
				a := h.a("GET", RouteDefault, "")
				return [2]any{a.status, len(a.body)}
			}, off: [2]any{404, len(h404(t))}, on: [2]any{200, 0}},
		"normalised urls": {reason: "some APIs store a URL in canonical form", opts: Options{NormalizeURLs: true},
			check: func(t *testing.T, h *harness, id string) any {
				h.a("PUT", RouteCollection+"/"+id, body("existing", "HTTPS://Example.COM:443", "POST"))
				return h.sim.Configurations(acctA)[0].CallNotificationURL
			}, off: "HTTPS://Example.COM:443", on: "https://example.com/"},
		"echoed urls": {reason: "a careless API quotes the request's URL in its error", opts: Options{EchoURLInErrors: true},
			check: func(t *testing.T, h *harness, id string) any {
				a := h.a("POST", RouteCollection, body("n", "https://alice:pw@bad_host.example/x", "POST"))
				return strings.Contains(string(a.body), "alice:pw@")
			}, off: false, on: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, shape := range []struct {
				opts Options
				want any
			}{{Options{}, tc.off}, {tc.opts, tc.on}} {
				h := newHarnessWith(t, shape.opts)
				id := h.createA("existing")
				if diff := cmp.Diff(shape.want, tc.check(t, h, id)); diff != "" {
					t.Errorf("%s, with %+v (-want +got):\n%s", tc.reason, shape.opts, diff)
				}
			}
		})
	}
}

// h404 is the body of the zero Options' answer to an unset default.
func h404(t *testing.T) []byte {
	return newHarness(t).a("GET", RouteDefault, "").body
}

// TestShapes checks the shape names the suites use.
func TestShapes(t *testing.T) {
	for name, want := range map[string]Options{ShapeReference: {}, "": {}, ShapeExtended: Extended()} {
		got, err := Shape(name)
		if err != nil || !cmp.Equal(want, got) {
			t.Errorf("Shape(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	if _, err := Shape("rich"); err == nil {
		t.Error("an unknown shape name was accepted")
	}
	if ext := Extended(); ext.DuplicateStatus == 400 || ext.DeleteDefault == DeleteDefaultClears || ext.NoDefault == NoDefaultNotFound {
		t.Errorf("Extended must answer every open question the other way from the zero Options: %+v", ext)
	}
}
