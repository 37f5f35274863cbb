package order

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaPath = "../../schemas/order/v1.schema.json"

// TestSchemaMatchesTheGoType keeps schemas/order/v1.schema.json and Order in step:
// the same properties at every level, and the same enum values.
func TestSchemaMatchesTheGoType(t *testing.T) {
	var schema map[string]any
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	defs := schema["$defs"].(map[string]any)
	var compare func(path string, typ reflect.Type, node map[string]any)
	compare = func(path string, typ reflect.Type, node map[string]any) {
		if ref, ok := node["$ref"].(string); ok {
			node = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		props, _ := node["properties"].(map[string]any)
		var goFields []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			goFields = append(goFields, name)
			child, ok := props[name].(map[string]any)
			if !ok {
				t.Errorf("%s.%s is in the Go type but not the schema", path, name)
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
				if items, ok := child["items"].(map[string]any); ok {
					child = items
				}
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[Money]() && ft.PkgPath() == typ.PkgPath() {
				compare(path+"."+name, ft, child)
			}
		}
		for name := range props {
			if !slices.Contains(goFields, name) {
				t.Errorf("%s.%s is in the schema but not the Go type", path, name)
			}
		}
	}
	compare("order", reflect.TypeFor[Order](), schema)

	props := schema["properties"].(map[string]any)
	enum := func(name string) []string {
		var out []string
		for _, v := range props[name].(map[string]any)["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	var statuses, payments []string
	for _, s := range Statuses {
		statuses = append(statuses, string(s))
	}
	for _, s := range PaymentStatuses {
		payments = append(payments, string(s))
	}
	if !slices.Equal(enum("status"), statuses) {
		t.Errorf("schema status enum %v, Go %v", enum("status"), statuses)
	}
	if !slices.Equal(enum("payment_status"), payments) {
		t.Errorf("schema payment_status enum %v, Go %v", enum("payment_status"), payments)
	}
}

// TestGoldenOrdersValidateAgainstTheSchema checks every canonical order the
// normalisers' golden files hold against the published JSON Schema.
func TestGoldenOrdersValidateAgainstTheSchema(t *testing.T) {
	compiler := jsonschema.NewCompiler()
	schema, err := compiler.Compile(schemaPath)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	goldens, _ := filepath.Glob("../normalize/testdata/*/*.golden.json")
	if len(goldens) == 0 {
		t.Fatal("no golden orders found under worker/normalize/testdata")
	}
	for _, path := range goldens {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("%s does not match the schema: %v", path, err)
		}
	}
}
