package template

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func addFixtureSeeds(f *testing.F, add func(body []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
	for _, v := range []string{
		`{"Fn::Sub":["${X}-${A}",{"X":{"Fn::Select":["1",{"Fn::Split":[",",{"Ref":"CSV"}]}]}}]}`,
		`{"Fn::FindInMap":["M",{"Ref":"A"},"url"]}`,
		`{"Fn::Join":["/",{"Fn::FindInMap":["M","eu","hosts"]}]}`,
		`{"Fn::Select":[{"Ref":"A"},["x"]]}`,
	} {
		add([]byte(fnTemplate(v)))
	}
}

// checkError asserts the error contract: every failure is typed.
func checkError(t *testing.T, err error) {
	var te *Error
	var me *MissingParameterError
	switch {
	case errors.As(err, &me):
		if !errors.Is(err, ErrMissingParameter) || me.Name == "" || len(me.Names) == 0 || me.Names[0] != me.Name {
			t.Fatalf("malformed MissingParameterError %#v", me)
		}
	case errors.As(err, &te):
		if !errors.Is(err, ErrInvalidTemplate) && !errors.Is(err, ErrEvaluation) && !errors.Is(err, ErrBodyTooLong) {
			t.Fatalf("*Error %q wraps no sentinel", err)
		}
	default:
		t.Fatalf("untyped error %T %q", err, err)
	}
}

func evaluateTwice(t *testing.T, tp *Template, params map[string]string) {
	r1, err1 := tp.Evaluate(params)
	r2, err2 := tp.Evaluate(params)
	if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
		t.Fatalf("Evaluate not deterministic: %v / %v", err1, err2)
	}
	if err1 != nil {
		checkError(t, err1)
		return
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Fatalf("Evaluate not deterministic:\n%+v\n%+v", r1, r2)
	}
	if _, err := json.Marshal(r1); err != nil {
		t.Fatalf("Result does not encode: %v", err)
	}
	for _, p := range r1.Policies {
		if p.PolicyName == "" || (p.PolicyDocument != "" && !json.Valid([]byte(p.PolicyDocument))) {
			t.Fatalf("bad policy %+v", p)
		}
	}
	if r1.Certificate != nil && r1.Certificate.Status != StatusActive && r1.Certificate.Status != StatusInactive {
		t.Fatalf("status %q", r1.Certificate.Status)
	}
}

func FuzzParse(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) { f.Add(b) })
	f.Add([]byte(`{"Resources":{}}`))
	f.Add([]byte(`{"Resources":{"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":"{}"}}},"Mappings":{"M":{"a":{"b":["c"]}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tp, err := Parse(body)
		_, err2 := Parse(body)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Parse not deterministic: %v / %v", err, err2)
		}
		if err != nil {
			checkError(t, err)
			return
		}
		names := tp.ParameterNames()
		if !slices.IsSorted(names) {
			t.Fatalf("ParameterNames not sorted: %q", names)
		}
		// Every declared parameter and built-in supplied: only value-dependent
		// evaluation errors remain.
		params := map[string]string{}
		for _, n := range append(names, BuiltinParameters()...) {
			params[n] = "0"
		}
		evaluateTwice(t, tp, params)
		evaluateTwice(t, tp, nil)
	})
}

// FuzzEvaluate takes a template body and parameters written one "name=value" per line.
func FuzzEvaluate(f *testing.F) {
	addFixtureSeeds(f, func(b []byte) {
		f.Add(b, []byte("A=eu\nCSV=1,2\nSerialNumber=GW-1\nAWS::IoT::Certificate::Id=abc\nDeviceLocation=Seattle"))
	})
	f.Add([]byte(fnTemplate(`{"Fn::Select":[{"Ref":"A"},{"Fn::Split":[{"Ref":"B"},{"Ref":"CSV"}]}]}`)), []byte("A=1\nB=,\nCSV=x,y"))
	f.Add([]byte(fnTemplate(`{"Fn::Select":[{"Ref":"A"},{"Fn::Split":[{"Ref":"B"},{"Ref":"CSV"}]}]}`)), []byte("A=-1\nB=\nCSV="))
	f.Fuzz(func(t *testing.T, body, paramText []byte) {
		tp, err := Parse(body)
		if err != nil {
			checkError(t, err)
			return
		}
		params := map[string]string{}
		for line := range strings.SplitSeq(string(paramText), "\n") {
			k, v, _ := strings.Cut(line, "=")
			params[k] = v
		}
		evaluateTwice(t, tp, params)
	})
}
