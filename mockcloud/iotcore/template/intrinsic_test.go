package template

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fnTemplate wraps one DeviceConfiguration value in a template with parameters
// A (no default), B (default "b"), CSV (no default) and a mapping M.
func fnTemplate(value string) string {
	return `{"Parameters":{"A":{"Type":"String"},"B":{"Type":"String","Default":"b"},"CSV":{"Type":"String"}},
	 "Mappings":{"M":{"eu":{"url":"https://eu.example","hosts":["h1","h2"]},"us":{"url":"https://us.example"}}},
	 "Resources":{},"DeviceConfiguration":{"v":` + value + `}}`
}

var fnParams = map[string]string{"A": "a", "CSV": "x,y,z", ParamCertificateID: "cid"}

func TestIntrinsicFunctions(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  any
	}{
		{"literal string", `"plain"`, "plain"},
		{"literal number int", `42`, int64(42)},
		{"literal number float", `1.5`, 1.5},
		{"literal bool and null", `[true,null]`, []any{true, nil}},
		{"nested object", `{"k":{"Ref":"A"},"n":{"m":[1,"x"]}}`, map[string]any{"k": "a", "n": map[string]any{"m": []any{int64(1), "x"}}}},
		{"Ref", `{"Ref":"A"}`, "a"},
		{"Ref default", `{"Ref":"B"}`, "b"},
		{"Ref undeclared built-in", `{"Ref":"AWS::IoT::Certificate::Id"}`, "cid"},
		{"Join", `{"Fn::Join":["-",["x",{"Ref":"A"},"z"]]}`, "x-a-z"},
		{"Join empty delimiter", `{"Fn::Join":["",["x","y"]]}`, "xy"},
		{"Join empty list", `{"Fn::Join":[",",[]]}`, ""},
		{"Join over Split", `{"Fn::Join":["+",{"Fn::Split":[",",{"Ref":"CSV"}]}]}`, "x+y+z"},
		{"Sub string form", `{"Fn::Sub":"${A}-${B}-${AWS::IoT::Certificate::Id}"}`, "a-b-cid"},
		{"Sub no variables", `{"Fn::Sub":"plain $ {x} $"}`, "plain $ {x} $"},
		{"Sub literal escape", `{"Fn::Sub":"client/${!iot:ClientId}/${A}"}`, "client/${iot:ClientId}/a"},
		{"Sub list form", `{"Fn::Sub":["${X}.${A}",{"X":{"Fn::Join":["",["p",{"Ref":"B"}]]}}]}`, "pb.a"},
		{"Sub variable shadows parameter", `{"Fn::Sub":["${A}",{"A":"local"}]}`, "local"},
		{"Select int index", `{"Fn::Select":[1,["p","q","r"]]}`, "q"},
		{"Select string index", `{"Fn::Select":["2",["p","q","r"]]}`, "r"},
		{"Select over Split", `{"Fn::Select":[0,{"Fn::Split":[",",{"Ref":"CSV"}]}]}`, "x"},
		{"Select index from Ref", `{"Fn::Select":[{"Fn::Select":[1,["0","2"]]},{"Fn::Split":[",",{"Ref":"CSV"}]}]}`, "z"},
		{"Split", `{"Fn::Split":[",",{"Ref":"CSV"}]}`, []any{"x", "y", "z"}},
		{"Split no delimiter in source", `{"Fn::Split":["|","abc"]}`, []any{"abc"}},
		{"FindInMap", `{"Fn::FindInMap":["M","eu","url"]}`, "https://eu.example"},
		{"FindInMap list value", `{"Fn::FindInMap":["M","eu","hosts"]}`, []any{"h1", "h2"}},
		{"FindInMap key from Sub", `{"Fn::FindInMap":["M",{"Fn::Sub":["${X}u",{"X":"e"}]},"url"]}`, "https://eu.example"},
		{"deep nesting", `{"Fn::Join":["",[{"Fn::Select":[0,{"Fn::Split":["/",{"Fn::Sub":["${P}/rest",{"P":{"Fn::FindInMap":["M","us","url"]}}]}]}]}]]}`, "https:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := mustParse(t, fnTemplate(tc.value))
			r, err := tp.Evaluate(fnParams)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if got := r.DeviceConfiguration["v"]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("v = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestIntrinsicParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		wantPath string
		wantFn   string
		wantIn   string
	}{
		{"Ref not string", `{"Ref":["A"]}`, "DeviceConfiguration.v.Ref", "Ref", "want a parameter name"},
		{"Ref undeclared", `{"Ref":"Nope"}`, "DeviceConfiguration.v.Ref", "Ref", `"Nope" is not a declared parameter`},
		{"Ref pseudo parameter", `{"Ref":"AWS::Region"}`, "DeviceConfiguration.v.Ref", "Ref", "not a declared parameter"},
		{"function with sibling key", `{"Ref":"A","x":1}`, "DeviceConfiguration.v", "Ref", "only key"},
		{"unsupported Fn::If", `{"Fn::If":["c","a","b"]}`, "DeviceConfiguration.v.Fn::If", "Fn::If", "unsupported intrinsic function"},
		{"unsupported Fn::GetAtt", `{"Fn::GetAtt":["thing","Arn"]}`, "DeviceConfiguration.v.Fn::GetAtt", "Fn::GetAtt", "unsupported"},
		{"single colon misprint", `{"Fn:Join":["",["a"]]}`, "DeviceConfiguration.v.Fn:Join", "Fn:Join", "two colons"},
		{"Join arity", `{"Fn::Join":[""]}`, "DeviceConfiguration.v.Fn::Join", "Fn::Join", "list of 2"},
		{"Join not a list", `{"Fn::Join":"ab"}`, "DeviceConfiguration.v.Fn::Join", "Fn::Join", "list of 2"},
		{"Join list is string", `{"Fn::Join":["",{"Ref":"A"}]}`, "DeviceConfiguration.v.Fn::Join[1]", "Fn::Join", "want a list"},
		{"Join element object", `{"Fn::Join":["",["a",{"k":"v"}]]}`, "DeviceConfiguration.v.Fn::Join[1][1]", "Fn::Join", "want a string"},
		{"Join delimiter number", `{"Fn::Join":[1,["a"]]}`, "DeviceConfiguration.v.Fn::Join[0]", "Fn::Join", "delimiter"},
		{"Sub undeclared variable", `{"Fn::Sub":"${Nope}"}`, "DeviceConfiguration.v.Fn::Sub", "Fn::Sub", "${!Nope}"},
		{"Sub policy variable unescaped", `{"Fn::Sub":"${iot:Connection.Thing.ThingName}"}`, "DeviceConfiguration.v.Fn::Sub", "Fn::Sub", "neither a variable"},
		{"Sub unterminated", `{"Fn::Sub":"${A"}`, "DeviceConfiguration.v.Fn::Sub", "Fn::Sub", "unterminated"},
		{"Sub empty name", `{"Fn::Sub":"${}"}`, "DeviceConfiguration.v.Fn::Sub", "Fn::Sub", "empty"},
		{"Sub bad argument", `{"Fn::Sub":[{"Ref":"A"},{}]}`, "DeviceConfiguration.v.Fn::Sub", "Fn::Sub", "argument must be"},
		{"Sub variable list", `{"Fn::Sub":["${X}",{"X":["a"]}]}`, "DeviceConfiguration.v.Fn::Sub[1].X", "Fn::Sub", "want a string"},
		{"Select negative", `{"Fn::Select":[-1,["a"]]}`, "DeviceConfiguration.v.Fn::Select[0]", "Fn::Select", "non-negative integer"},
		{"Select fraction", `{"Fn::Select":[0.5,["a"]]}`, "DeviceConfiguration.v.Fn::Select[0]", "Fn::Select", "non-negative integer"},
		{"Select out of range literal", `{"Fn::Select":[3,["a","b"]]}`, "DeviceConfiguration.v.Fn::Select[0]", "Fn::Select", "out of range"},
		{"Select from string", `{"Fn::Select":[0,"abc"]}`, "DeviceConfiguration.v.Fn::Select[1]", "Fn::Select", "want a list"},
		{"Select index list", `{"Fn::Select":[[0],["a"]]}`, "DeviceConfiguration.v.Fn::Select[0]", "Fn::Select", "index is a list"},
		{"Split empty delimiter", `{"Fn::Split":["","abc"]}`, "DeviceConfiguration.v.Fn::Split[0]", "Fn::Split", "empty"},
		{"Split list source", `{"Fn::Split":[",",["a"]]}`, "DeviceConfiguration.v.Fn::Split[1]", "Fn::Split", "want a string"},
		{"FindInMap arity", `{"Fn::FindInMap":["M","eu"]}`, "DeviceConfiguration.v.Fn::FindInMap", "Fn::FindInMap", "list of 3"},
		{"FindInMap unknown map", `{"Fn::FindInMap":["X","eu","url"]}`, "DeviceConfiguration.v.Fn::FindInMap", "Fn::FindInMap", `no mapping "X"`},
		{"FindInMap unknown key", `{"Fn::FindInMap":["M","eu","port"]}`, "DeviceConfiguration.v.Fn::FindInMap", "Fn::FindInMap", `has no key "port"`},
		{"nested error path", `{"Fn::Join":["",[{"Fn::Sub":"${Q}"}]]}`, "DeviceConfiguration.v.Fn::Join[1][0].Fn::Sub", "Fn::Sub", "${Q}"},
		{"too deep", strings.Repeat(`{"Fn::Join":["",[`, MaxFunctionDepth+1) + `"x"` + strings.Repeat(`]]}`, MaxFunctionDepth+1), "", "Fn::Join", "nested deeper"},
		{"number out of range", `1e999`, "DeviceConfiguration.v", "", "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(fnTemplate(tc.value)))
			var te *Error
			if !errors.As(err, &te) || !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("Parse = %v, want an *Error wrapping ErrInvalidTemplate", err)
			}
			if tc.wantPath != "" && te.Path != tc.wantPath {
				t.Errorf("Path = %q, want %q", te.Path, tc.wantPath)
			}
			if te.Function != tc.wantFn {
				t.Errorf("Function = %q, want %q", te.Function, tc.wantFn)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error %q does not contain %q", err, tc.wantIn)
			}
		})
	}
}

func TestIntrinsicEvaluationErrors(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		params   map[string]string
		wantPath string
		wantFn   string
		wantIn   string
	}{
		{"Select index out of range", `{"Fn::Select":[5,{"Fn::Split":[",",{"Ref":"CSV"}]}]}`, nil, "DeviceConfiguration.v.Fn::Select[0]", "Fn::Select", "index 5 out of range for a list of 3"},
		{"Select index from parameter not a number", `{"Fn::Select":[{"Ref":"A"},["x"]]}`, nil, "DeviceConfiguration.v.Fn::Select[0]", "Fn::Select", "want a non-negative integer"},
		{"Select null element", `{"Fn::Select":[0,[null]]}`, nil, "DeviceConfiguration.v.Fn::Select[1]", "Fn::Select", "null"},
		{"FindInMap key from parameter", `{"Fn::FindInMap":["M",{"Ref":"A"},"url"]}`, nil, "DeviceConfiguration.v.Fn::FindInMap", "Fn::FindInMap", `has no key "a"`},
		{"Join element is list from FindInMap", `{"Fn::Join":["",[{"Fn::FindInMap":["M","eu","hosts"]}]]}`, nil, "DeviceConfiguration.v.Fn::Join[1]", "Fn::Join", "element 0 is a list"},
		{"Join of a string from FindInMap", `{"Fn::Join":["",{"Fn::FindInMap":["M","eu","url"]}]}`, nil, "DeviceConfiguration.v.Fn::Join[1]", "Fn::Join", "want a list"},
		{"Split source list from Select", `{"Fn::Split":[",",{"Fn::Select":[0,[["a"]]]}]}`, nil, "DeviceConfiguration.v.Fn::Split[1]", "Fn::Split", "want a string"},
		{"Split delimiter empty from parameter", `{"Fn::Split":[{"Ref":"E"},"abc"]}`, map[string]string{"E": ""}, "DeviceConfiguration.v.Fn::Split[0]", "Fn::Split", "delimiter is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := fnTemplate(tc.value)
			params := fnParams
			if tc.params != nil {
				body = strings.Replace(body, `"CSV":{"Type":"String"}`, `"CSV":{"Type":"String"},"E":{"Type":"String"}`, 1)
				params = map[string]string{"A": "a", "CSV": "x", "E": tc.params["E"]}
			}
			tp := mustParse(t, body)
			_, err := tp.Evaluate(params)
			var te *Error
			if !errors.As(err, &te) || !errors.Is(err, ErrEvaluation) {
				t.Fatalf("Evaluate = %v, want an *Error wrapping ErrEvaluation", err)
			}
			if te.Path != tc.wantPath || te.Function != tc.wantFn {
				t.Errorf("Path, Function = %q, %q, want %q, %q", te.Path, te.Function, tc.wantPath, tc.wantFn)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error %q does not contain %q", err, tc.wantIn)
			}
		})
	}
}

func TestSplitSub(t *testing.T) {
	tests := []struct {
		in   string
		want []subPart
	}{
		{"", nil},
		{"abc", []subPart{{text: "abc"}}},
		{"${A}", []subPart{{name: "A"}}},
		{"x${A}y${B}", []subPart{{text: "x"}, {name: "A"}, {text: "y"}, {name: "B"}}},
		{"${!A}", []subPart{{text: "${A}"}}},
		{"a${!A}${B}", []subPart{{text: "a${A}"}, {name: "B"}}},
		{"$A {B} $", []subPart{{text: "$A {B} $"}}},
	}
	for _, tc := range tests {
		got, reason := splitSub(tc.in)
		if reason != "" || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitSub(%q) = %+v, %q, want %+v", tc.in, got, reason, tc.want)
		}
	}
}
