package normalize

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
)

// Fixture messages edited as generic JSON, for the tests that change one field of a
// good message. A fixture is named by its path under testdata ("ebay/cancelled.json").

// readMessage reads testdata/<fixture> as a JSON object.
func readMessage(t testing.TB, fixture string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(normalizetest.Read(t, filepath.Join("testdata", fixture)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func marshal(t testing.TB, m map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// set puts v at path (object keys and array indexes) in m; nil deletes. A member it
// replaces must be there already, so that a fixture that loses the field fails the
// test rather than letting it check nothing.
func set(t testing.TB, m map[string]any, path []any, v any) {
	t.Helper()
	var cur any = m
	for i, step := range path {
		last := i == len(path)-1
		switch k := step.(type) {
		case string:
			obj, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %v", path, path[:i])
			}
			if last {
				if _, ok := obj[k]; !ok && v != nil {
					t.Fatalf("the message has no %v", path)
				}
				if v == nil {
					delete(obj, k)
				} else {
					obj[k] = v
				}
				return
			}
			cur = obj[k]
		case int:
			arr, ok := cur.([]any)
			if !ok || k >= len(arr) {
				t.Fatalf("%v: %v is not an array of %d", path, path[:i], k+1)
			}
			if last {
				arr[k] = v
				return
			}
			cur = arr[k]
		default:
			t.Fatalf("%v: step %v is neither a key nor an index", path, step)
		}
	}
}

// setJSON returns testdata/<fixture> with the member at path set to value.
func setJSON(t testing.TB, fixture string, path []any, value string) []byte {
	t.Helper()
	m := readMessage(t, fixture)
	set(t, m, path, value)
	return marshal(t, m)
}

// ebayMessage returns testdata/ebay/<name>.json with its payload changed by edit,
// which gets the payload as a generic JSON object.
func ebayMessage(t testing.TB, name string, edit func(p map[string]any)) []byte {
	t.Helper()
	file := filepath.Join("ebay", name+".json")
	if edit == nil {
		return normalizetest.Read(t, filepath.Join("testdata", file))
	}
	m := readMessage(t, file)
	edit(m["payload"].(map[string]any))
	return marshal(t, m)
}
