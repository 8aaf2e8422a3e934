package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// openAPI is the part of the document the tests read.
type openAPI struct {
	OpenAPI    string                          `json:"openapi"`
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas   map[string]json.RawMessage `json:"schemas"`
		Responses map[string]struct {
			Content map[string]struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"content"`
		} `json:"responses"`
	} `json:"components"`
}

type operation struct {
	Summary         string          `json:"summary"`
	MinRole         string          `json:"x-min-role"`
	OffInProduction bool            `json:"x-off-in-production"`
	Security        json.RawMessage `json:"security"`
	Responses       map[string]struct {
		Ref     string `json:"$ref"`
		Content map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	var doc openAPI
	dec := json.NewDecoder(bytes.NewReader(api.OpenAPIDocument()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRouteTable keeps the document and the router
// identical: every route is documented with its summary and least role,
// and every documented operation is a route.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	table := map[string]api.Route{}
	for _, rt := range api.Routes() {
		key := strings.ToLower(rt.Method) + " " + rt.OpenAPIPath()
		if _, dup := table[key]; dup {
			t.Errorf("route %s listed twice", rt.Pattern())
		}
		table[key] = rt
	}
	documented := map[string]operation{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[method+" "+path] = op
		}
	}
	for key, rt := range table {
		op, ok := documented[key]
		if !ok {
			t.Errorf("route %s is missing from openapi.json", rt.Pattern())
			continue
		}
		if op.Summary != rt.Summary {
			t.Errorf("%s: summary %q in the document, %q in the table", rt.Pattern(), op.Summary, rt.Summary)
		}
		if op.MinRole != rt.MinRole.String() {
			t.Errorf("%s: x-min-role %q in the document, %s in the table", rt.Pattern(), op.MinRole, rt.MinRole)
		}
		if op.OffInProduction != rt.OffInProduction {
			t.Errorf("%s: x-off-in-production %v in the document, %v in the table", rt.Pattern(), op.OffInProduction, rt.OffInProduction)
		}
		if _, ok := op.Responses["default"]; !ok {
			t.Errorf("%s: no default (problem) response", rt.Pattern())
		}
		// Public operations opt out of the document's bearer requirement;
		// every other one inherits it and documents the 401 and 403.
		public := rt.MinRole == api.RoleGuest
		if optOut := string(op.Security) == "[]"; optOut != public {
			t.Errorf("%s: security %s, want [] exactly when public", rt.Pattern(), op.Security)
		}
		if !public {
			for _, code := range []string{"401", "403"} {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s: no %s response documented", rt.Pattern(), code)
				}
			}
		}
		if _, ok := op.Responses["429"]; !ok {
			t.Errorf("%s: no 429 response documented", rt.Pattern())
		}
	}
	for key := range documented {
		if _, ok := table[key]; !ok {
			t.Errorf("openapi.json documents %s, which the route table lacks", key)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/openapi.json", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json = %d %s", r.status, r.header.Get("Content-Type"))
	}
	if !bytes.Equal(r.body, api.OpenAPIDocument()) {
		t.Error("served document differs from the embedded one")
	}
}

// TestRouteRoles pins design §3's role for every route.
func TestRouteRoles(t *testing.T) {
	want := map[string]api.Role{
		"GET /health": api.RoleGuest, "GET /status": api.RoleGuest, "GET /openapi.json": api.RoleGuest,
		"GET /{$}": api.RoleGuest, "GET /assets/{path...}": api.RoleGuest,
		"GET /telemetry": api.RoleGuest, "POST /telemetry/ticket": api.RoleReadonly,
		"GET /scene": api.RoleReadonly, "GET /scenes": api.RoleReadonly, "GET /scene/history": api.RoleReadonly,
		"GET /state/scene": api.RoleReadonly, "GET /state/player": api.RoleReadonly, "GET /state/vr": api.RoleReadonly,
		"POST /scene/validate": api.RoleDeveloper, "POST /scene/load": api.RoleDeveloper, "POST /scene/reload": api.RoleDeveloper,
		"GET /performance/metrics": api.RoleDeveloper, "GET /debug": api.RoleDeveloper, "POST /execute": api.RoleDeveloper,
		"GET /debug/pprof/{name...}": api.RoleAdmin,
		"POST /auth/token":           api.RoleGuest, "POST /auth/refresh": api.RoleGuest, "POST /auth/logout": api.RoleGuest,
		"GET /admin/sessions": api.RoleAdmin, "DELETE /admin/sessions/{id}": api.RoleAdmin,
		"DELETE /admin/principals/{id}/sessions": api.RoleAdmin,
		"GET /admin/keys":                        api.RoleAdmin, "POST /admin/keys": api.RoleAdmin, "DELETE /admin/keys/{id}": api.RoleAdmin,
		"POST /admin/keys/rotate": api.RoleAdmin, "GET /admin/signing-keys": api.RoleAdmin,
		"GET /admin/audit": api.RoleAdmin, "GET /admin/bans": api.RoleAdmin, "DELETE /admin/bans/{client}": api.RoleAdmin,
	}
	got := map[string]api.Role{}
	for _, rt := range api.Routes() {
		got[rt.Pattern()] = rt.MinRole
	}
	if !maps.Equal(got, want) {
		t.Errorf("route roles = %v\nwant %v", got, want)
	}
}

// TestResponsesMatchDocument checks real answers against the document's
// schemas: required properties present, no undocumented ones, types and
// enums right.
func TestResponsesMatchDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	h := newHarness(t)
	tests := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/health", "", 200},
		{"GET", "/status", "", 200},
		{"GET", "/scene", "", 200},
		{"GET", "/scenes", "", 200},
		{"GET", "/state/vr", "", 200},
		{"GET", "/performance/metrics", "", 200},
		{"GET", "/debug", "", 200},
		{"POST", "/execute", `{"command":"pause"}`, 200},
		{"POST", "/scene/validate", `{"scene_path":"res://vr_main.tscn"}`, 200},
		{"POST", "/scene/validate", `{"scene_path":"res://scenes/broken.tscn"}`, 200},
		{"POST", "/scene/load", `{"scene_path":"res://scenes/missing.tscn"}`, 404},
		{"POST", "/scene/load", `{"scene_path":"res://scenes/broken.tscn"}`, 422},
		{"POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`, 200},
		{"POST", "/scene/reload", "", 200},
		{"GET", "/scene/history", "", 200},
		{"GET", "/state/scene", "", 200},
		{"GET", "/state/player", "", 200},
		{"POST", "/scene/load", `{"scene_path":"res://tests/debug.tscn"}`, 403},
		{"POST", "/scene/load", `{"scene_path":"x"}`, 400},
		{"GET", "/nope", "", 404},
	}
	for _, tt := range tests {
		r := h.do(tt.method, tt.path, tt.body)
		t.Run(fmt.Sprintf("%s %s %d", tt.method, tt.path, tt.status), func(t *testing.T) {
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			schema := documentedSchema(t, doc, tt.method, tt.path, r.status)
			var v any
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("body: %v", err)
			}
			for _, p := range checkSchema(doc, schema, v, "$") {
				t.Error(p)
			}
		})
	}
}

// documentedSchema finds the schema the document gives for an answer: the
// operation's response for the status, else its default; the Problem
// schema for an unmatched path.
func documentedSchema(t *testing.T, doc openAPI, method, path string, status int) json.RawMessage {
	t.Helper()
	op, ok := doc.Paths[path][strings.ToLower(method)]
	if !ok {
		return json.RawMessage(`{"$ref":"#/components/schemas/Problem"}`)
	}
	resp, ok := op.Responses[fmt.Sprint(status)]
	if !ok {
		if status < 400 {
			t.Fatalf("%s %s: status %d is not documented", method, path, status)
		}
		resp = op.Responses["default"]
	}
	content := resp.Content
	if resp.Ref != "" {
		content = doc.Components.Responses[strings.TrimPrefix(resp.Ref, "#/components/responses/")].Content
	}
	for _, media := range []string{"application/json", "application/problem+json"} {
		if c, ok := content[media]; ok {
			return c.Schema
		}
	}
	t.Fatalf("%s %s %d: no JSON content documented", method, path, status)
	return nil
}

// schema is the subset of JSON Schema the document uses.
type schema struct {
	Ref                  string                     `json:"$ref"`
	Type                 any                        `json:"type"` // string or []string
	Properties           map[string]json.RawMessage `json:"properties"`
	Required             []string                   `json:"required"`
	AdditionalProperties *bool                      `json:"additionalProperties"`
	Items                json.RawMessage            `json:"items"`
	AnyOf                []json.RawMessage          `json:"anyOf"`
	Enum                 []any                      `json:"enum"`
}

// checkSchema returns the ways v violates the schema raw.
func checkSchema(doc openAPI, raw json.RawMessage, v any, at string) []string {
	var s schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return []string{fmt.Sprintf("%s: bad schema: %v", at, err)}
	}
	if s.Ref != "" {
		return checkSchema(doc, doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")], v, at)
	}
	if len(s.AnyOf) > 0 {
		var all []string
		for _, alt := range s.AnyOf {
			p := checkSchema(doc, alt, v, at)
			if len(p) == 0 {
				return nil
			}
			all = append(all, p...)
		}
		return append([]string{at + ": matches no anyOf alternative"}, all...)
	}
	var problems []string
	if s.Type != nil && !typeMatches(s.Type, v) {
		return []string{fmt.Sprintf("%s: %v is not of type %v", at, v, s.Type)}
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		problems = append(problems, fmt.Sprintf("%s: %v not in enum %v", at, v, s.Enum))
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range s.Required {
			if _, ok := v[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s: required property %q missing", at, k))
			}
		}
		for k, val := range v {
			sub, ok := s.Properties[k]
			if !ok {
				if s.AdditionalProperties != nil && !*s.AdditionalProperties {
					problems = append(problems, fmt.Sprintf("%s: undocumented property %q", at, k))
				}
				continue
			}
			problems = append(problems, checkSchema(doc, sub, val, at+"."+k)...)
		}
	case []any:
		if s.Items != nil {
			for i, item := range v {
				problems = append(problems, checkSchema(doc, s.Items, item, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return problems
}

func typeMatches(t any, v any) bool {
	switch t := t.(type) {
	case string:
		switch t {
		case "object":
			_, ok := v.(map[string]any)
			return ok
		case "array":
			_, ok := v.([]any)
			return ok
		case "string":
			_, ok := v.(string)
			return ok
		case "number":
			_, ok := v.(float64)
			return ok
		case "integer":
			f, ok := v.(float64)
			return ok && f == float64(int64(f))
		case "boolean":
			_, ok := v.(bool)
			return ok
		case "null":
			return v == nil
		}
		return false
	case []any:
		for _, one := range t {
			if typeMatches(one, v) {
				return true
			}
		}
	}
	return false
}

func TestCheckSchemaCatchesDrift(t *testing.T) {
	// The checker must be able to fail, or the test above proves nothing.
	doc := loadOpenAPI(t)
	ref := json.RawMessage(`{"$ref":"#/components/schemas/LoadResult"}`)
	tests := []struct {
		name string
		body string
		bad  bool
	}{
		{"ok", `{"scene_path":"res://a.tscn","scene_name":"a","load_time_ms":1.5,"status":"loaded"}`, false},
		{"missing", `{"scene_path":"res://a.tscn","scene_name":"a","status":"loaded"}`, true},
		{"extra", `{"scene_path":"res://a.tscn","scene_name":"a","load_time_ms":1,"status":"loaded","x":1}`, true},
		{"enum", `{"scene_path":"res://a.tscn","scene_name":"a","load_time_ms":1,"status":"done"}`, true},
		{"type", `{"scene_path":1,"scene_name":"a","load_time_ms":1,"status":"loaded"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			_ = json.Unmarshal([]byte(tt.body), &v)
			got := checkSchema(doc, ref, v, "$")
			if (len(got) > 0) != tt.bad {
				t.Errorf("problems = %v, want bad = %v", got, tt.bad)
			}
		})
	}
}
