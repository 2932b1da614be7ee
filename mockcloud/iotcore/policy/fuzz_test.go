package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// fuzzRequests are evaluated on every document FuzzParse accepts.
var fuzzRequests = []Request{
	{Action: ActionConnect, Resource: "arn:aws:iot:us-east-1:123456789012:client/thing1"},
	{Action: ActionPublish, Resource: "arn:aws:iot:us-east-1:123456789012:topic/thing1/a"},
	{Action: ActionSubscribe, Resource: "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create/#"},
	{Action: ActionReceive, Resource: "arn:aws:iot:us-east-1:123456789012:topic/my/topic"},
	{Action: ActionConnect, Resource: "arn:aws:iot:us-east-1:123456789012:client/thing1", ConnectAttributes: LastWill},
	{Action: ActionConnect, Resource: "arn:aws:iot:us-east-1:123456789012:client/thing1", ConnectAttributes: PersistentConnect | LastWill},
}

// FuzzParse: Parse never panics; an accepted document re-encodes canonically (the
// encoding is a fixed point) and the re-encoding decides every request the same way.
func FuzzParse(f *testing.F) {
	for _, ex := range loadExamples(f).Examples {
		for _, p := range ex.Policies {
			f.Add([]byte(p))
		}
	}
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotAction":"iot:Connect","NotResource":["*"],"Condition":{"StringNotLike":{"iot:ClientId":"a*"}}}}`))
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"x${*}${iot:clientId}"}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"ForAllValues:StringEquals":{"iot:ConnectAttributes":[]},"ForAnyValue:StringNotLikeIfExists":{"iot:ClientId":["a*"]}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := Parse(doc)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformedPolicy) {
				t.Fatalf("error %v is not a *ParseError matching ErrMalformedPolicy", err)
			}
			return
		}
		out, err := d.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		d2, err := Parse(out)
		if errors.Is(err, ErrTooLarge) {
			return // lists and brackets added by the canonical form can cross the limit
		}
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, err := d2.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("canonical form is not stable:\n%s\n%s", out, out2)
		}
		for _, vars := range []Variables{{ClientID: "thing1", ThingName: "thing1", CertificateID: "c1"}, {ClientID: "*"}} {
			for _, req := range fuzzRequests {
				if a, b := Evaluate([]*Document{d}, req, vars), Evaluate([]*Document{d2}, req, vars); a != b {
					t.Fatalf("%v %+v: original %v, re-encoded %v (%s)", req, vars, a, b, out)
				}
			}
		}
	})
}

func fuzzDoc(t *testing.T, stmts ...map[string]string) (*Document, error) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"Version": VersionCurrent, "Statement": stmts})
	if err != nil {
		t.Fatal(err)
	}
	return Parse(raw)
}

// FuzzEvaluate: Evaluate never panics; a Deny statement with the same action and
// resource as an Allow always wins, in the same document or another; and the
// resource matcher agrees with a regexp-based reference.
func FuzzEvaluate(f *testing.F) {
	f.Add("arn:aws:iot:r:a:topic/${iot:ClientId}/*", "arn:aws:iot:r:a:topic/dev1/x", "dev1", "", "iot:Publish")
	f.Add("arn:aws:iot:r:a:client/${iot:Connection.Thing.ThingName}", "arn:aws:iot:r:a:client/t", "t", "t", "iot:Connect")
	f.Add("topicfilter/some/+/topic", "topicfilter/some/+/topic", "c", "", "iot:Subscribe")
	f.Add("*a*?b*", "xxaybbb", "c", "", "*")
	f.Add("topic/${*}${?}", "topic/*?", "c", "", "IOT:PUBLISH")
	f.Add("topic/é?", "topic/éé", "", "", "iot:*")
	f.Fuzz(func(t *testing.T, pattern, resource, clientID, thing, action string) {
		allow := map[string]string{"Effect": "Allow", "Action": action, "Resource": pattern}
		deny := map[string]string{"Effect": "Deny", "Action": action, "Resource": pattern}
		allowOnly, err := fuzzDoc(t, allow)
		if err != nil {
			return
		}
		both, err := fuzzDoc(t, allow, deny)
		if errors.Is(err, ErrTooLarge) {
			return // two statements can cross the size limit where one does not
		}
		if err != nil {
			t.Fatalf("allow statement parses, the same with a deny does not: %v", err)
		}
		denyOnly, err := fuzzDoc(t, deny)
		if err != nil {
			t.Fatalf("allow statement parses, same-shaped deny does not: %v", err)
		}
		req := Request{Action: action, Resource: resource}
		vars := Variables{ClientID: clientID, ThingName: thing}
		allowed := Evaluate([]*Document{allowOnly}, req, vars)
		for _, docs := range [][]*Document{{both}, {allowOnly, denyOnly}, {denyOnly, allowOnly}} {
			got := Evaluate(docs, req, vars)
			if got == Allow {
				t.Fatalf("deny statement lost: %v", req)
			}
			if allowed == Allow && got != ExplicitDeny {
				t.Fatalf("allow applied, deny did not: %v -> %v", req, got)
			}
		}
		// Differential check of the resource matcher. regexp wants valid UTF-8, and its
		// cost with many stars is high, so huge inputs skip the check.
		if len(pattern)*len(resource) > 1<<16 || !allValid(pattern, resource, clientID, thing) || !allowOnly.stmts[0].actions[0].match(action, nil, true) {
			return
		}
		if want := refMatch(t, pattern, resource, &vars); (allowed == Allow) != want {
			t.Fatalf("pattern %q resource %q vars %+v: Evaluate %v, reference match %v", pattern, resource, vars, allowed, want)
		}
	})
}

func allValid(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
