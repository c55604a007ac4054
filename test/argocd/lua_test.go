package argocd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// repoRoot is the repository's root, seen from this package's directory
// (where `go test` runs).
const repoRoot = "../.."

// health is what an Argo CD health script returns.
type health struct {
	Status  string
	Message string
}

// validStatuses are the health codes Argo CD accepts from a script; any other
// value turns into Unknown.
var validStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

// runHealthScript runs script against obj as Argo CD runs a health check from
// argocd-cm: the standard libraries are skipped and only package, base and
// table are opened (Argo CD adds a reduced os library, which these scripts do
// not use, and leaves string and math out), obj is the global `obj`, and the
// run has a one-second deadline. The script must return a table whose status
// is one of Argo CD's health codes.
func runHealthScript(t *testing.T, script string, obj *unstructured.Unstructured) health {
	t.Helper()
	l := newArgoCDState(t)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		t.Fatalf("running the health script: %v", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the health script returned %s, want a table", l.Get(-1).Type())
	}
	var h health
	switch v := ret.RawGetString("status").(type) {
	case lua.LString:
		h.Status = string(v)
	default:
		t.Fatalf("hs.status is a %s, want a string", v.Type())
	}
	switch v := ret.RawGetString("message").(type) {
	case lua.LString:
		h.Message = string(v)
	case *lua.LNilType:
	default:
		t.Fatalf("hs.message is a %s, want a string", v.Type())
	}
	if !validStatuses[h.Status] {
		t.Fatalf("hs.status %q is not an Argo CD health status (Argo CD would show Unknown)", h.Status)
	}
	return h
}

// newArgoCDState returns a Lua state with what Argo CD opens for a script
// from argocd-cm, closed at the end of the test.
func newArgoCDState(t *testing.T) *lua.LState {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	t.Cleanup(l.Close)
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			t.Fatalf("opening the Lua library %q: %v", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	t.Cleanup(cancel)
	l.SetContext(ctx)
	return l
}

// toLua converts a decoded Kubernetes object into Lua values the way Argo CD
// does: objects become tables keyed by string, arrays become sequences
// (1-based; a null element is skipped, as table.insert would), strings,
// booleans and numbers (int64 from the apiserver's JSON, float64 otherwise)
// map to their Lua kinds, and null becomes nil, so the key reads as absent.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetString(key, toLua(l, item))
		}
		return tbl
	default:
		panic(fmt.Sprintf("toLua: unexpected %T in a decoded object", v))
	}
}

// decodeObject parses JSON the way the apiserver's objects reach Argo CD:
// into unstructured content, whose integers are int64.
func decodeObject(t *testing.T, data string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(data)); err != nil {
		t.Fatalf("decoding the case's object: %v\n%s", err, data)
	}
	return u
}

// readRepoFile returns a file of the repository, relative to its root.
func readRepoFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return string(data)
}

// TestToLua pins the JSON-to-Lua conversion the health cases rely on, checked
// from inside Lua with the functions Argo CD leaves a script.
func TestToLua(t *testing.T) {
	obj := decodeObject(t, `{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": {"name": "x", "generation": 3, "annotations": {"a": "b"}},
		"nested": {"list": ["first", "second"], "objects": [{"type": "Ready"}], "empty": [], "emptyObject": {}},
		"withNull": ["a", null, "c"],
		"number": 2.5, "yes": true, "no": false, "nothing": null, "text": ""
	}`)
	l := newArgoCDState(t)
	l.SetGlobal("obj", toLua(l, obj.Object))
	err := l.DoString(`
		assert(obj.metadata.generation == 3, "integers are numbers")
		assert(type(obj.metadata.generation) == "number")
		assert(tostring(obj.metadata.generation) == "3", "integers print without a fraction")
		assert(obj.metadata.annotations.a == "b", "objects are tables keyed by string")
		assert(obj.nested.list[1] == "first" and obj.nested.list[2] == "second", "arrays are 1-based")
		assert(#obj.nested.list == 2, "arrays are sequences")
		assert(obj.nested.list[0] == nil and obj.nested.list[3] == nil)
		assert(obj.nested.objects[1].type == "Ready", "arrays of objects")
		assert(type(obj.nested.empty) == "table" and #obj.nested.empty == 0)
		assert(type(obj.nested.emptyObject) == "table" and next(obj.nested.emptyObject) == nil)
		assert(#obj.withNull == 2 and obj.withNull[2] == "c", "a null array element is skipped, as in Argo CD")
		assert(obj.number == 2.5)
		assert(obj.yes == true and obj.no == false, "booleans stay booleans")
		assert(obj.nothing == nil, "null is nil")
		assert(obj.missing == nil)
		assert(obj.text == "", "the empty string is not nil")
		assert(string == nil and math == nil, "Argo CD gives argocd-cm scripts no string or math library")
	`)
	if err != nil {
		t.Fatal(err)
	}
}
