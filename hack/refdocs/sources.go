package main

import (
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/yaml"
)

// crd is the part of a CustomResourceDefinition the reference shows.
type crd struct {
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Kind       string   `json:"kind"`
			Plural     string   `json:"plural"`
			ShortNames []string `json:"shortNames"`
			Categories []string `json:"categories"`
		} `json:"names"`
		Scope    string `json:"scope"`
		Versions []struct {
			Name    string `json:"name"`
			Columns []struct {
				Name     string `json:"name"`
				JSONPath string `json:"jsonPath"`
				Priority int    `json:"priority"`
			} `json:"additionalPrinterColumns"`
			Schema struct {
				OpenAPIV3Schema schema `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

// schema is one node of a CRD's OpenAPI v3 schema.
type schema struct {
	Description string            `json:"description"`
	Type        string            `json:"type"`
	Format      string            `json:"format"`
	Properties  map[string]schema `json:"properties"`
	Required    []string          `json:"required"`
	Items       *schema           `json:"items"`
	Default     any               `json:"default"`
	Enum        []any             `json:"enum"`
	MinLength   *int64            `json:"minLength"`
	MaxLength   *int64            `json:"maxLength"`
	Pattern     string            `json:"pattern"`
	Rules       []struct {
		Message string `json:"message"`
	} `json:"x-kubernetes-validations"`
}

// readCRDs reads every CRD in dir, keyed by kind.
func readCRDs(dir string) (map[string]crd, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	crds := map[string]crd{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var c crd
		if err := yaml.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		crds[c.Spec.Names.Kind] = c
	}
	return crds, nil
}

// goTypes knows, for each struct type of the API package, its JSON fields in
// declaration order and the type each one holds, so the reference lists
// fields in the order their authors chose rather than alphabetically.
type goTypes map[string][]goField

type goField struct {
	json, typeName string
}

func readGoTypes(dir string) (goTypes, error) {
	_, files, err := parseAPI(dir)
	if err != nil {
		return nil, err
	}
	types := goTypes{}
	for _, file := range files {
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			if st, ok := spec.Type.(*ast.StructType); ok {
				types[spec.Name.Name] = structFields(st)
			}
			return false
		})
	}
	return types, nil
}

// parseAPI parses the non-test Go files of dir, in name order so that the
// output never depends on map iteration.
func parseAPI(dir string) (*token.FileSet, []*ast.File, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(names)
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f)
	}
	return fset, files, nil
}

func structFields(st *ast.StructType) []goField {
	var fields []goField
	for _, f := range st.Fields.List {
		if f.Tag == nil {
			continue
		}
		tag, _ := strconv.Unquote(f.Tag.Value)
		name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields = append(fields, goField{json: name, typeName: baseType(f.Type)})
	}
	return fields
}

// baseType is the name of the type a field holds, through pointers and
// slices ("" for types of other packages).
func baseType(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return baseType(t.X)
	case *ast.ArrayType:
		return baseType(t.Elt)
	}
	return ""
}

// constant is one documented constant of the API package.
type constant struct {
	name, value, doc string
}

// constGroup is one const ( ... ) block: its comment and its constants.
type constGroup struct {
	doc    string
	consts []constant
}

// readConstants returns, in declaration order, the const blocks of the API
// package that declare string constants named prefix*, with only those
// constants and their comments.
func readConstants(dir, prefix string) ([]constGroup, error) {
	fset, files, err := parseAPI(dir)
	if err != nil {
		return nil, err
	}
	p, err := doc.NewFromFiles(fset, files, "api", doc.PreserveAST)
	if err != nil {
		return nil, err
	}
	var groups []constGroup
	for _, group := range p.Consts {
		g := constGroup{doc: group.Doc}
		for _, s := range group.Decl.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, prefix) || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				value, _ := strconv.Unquote(lit.Value)
				g.consts = append(g.consts, constant{name: name.Name, value: value, doc: vs.Doc.Text()})
			}
		}
		if len(g.consts) > 0 {
			groups = append(groups, g)
		}
	}
	return groups, nil
}
