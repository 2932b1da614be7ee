package policy

import (
	"testing"
)

func TestPatternMatch(t *testing.T) {
	vars := &Variables{ClientID: "dev*1", ThingName: "thing1"}
	tests := []struct {
		pattern string
		s       string
		want    bool
	}{
		{"*", "", true},
		{"*", "anything/at:all", true},
		{"a*", "a", true},
		{"a*b", "ab", true},
		{"a*b", "axxb", true},
		{"a*b", "axxbx", false},
		{"a*b*c", "a/b/b/c", true},
		{"a*b*c", "abcb", false},
		{"**x", "yyx", true},
		{"?", "", false},
		{"?", "é", true},
		{"??", "é", false},
		{"a?c", "abc", true},
		{"a?c", "a/c", true},
		{"a?c", "ac", false},
		{"*?", "", false},
		{"*?", "x", true},
		{"+/#", "+/#", true},
		{"+/#", "a/b", false},
		{"a/${iot:ClientId}/b", "a/dev*1/b", true},
		{"a/${iot:ClientId}/b", "a/devX1/b", false},
		{"a/${iot:ClientId}/b", "a/dev1/b", false},
		{"${iot:Connection.Thing.ThingName}*", "thing1/x", true},
		{"*${iot:Connection.Thing.ThingName}", "xthing1", true},
		{"${iot:Connection.Thing.IsAttached}", "true", true},
		{"${iot:CertificateId}", "", false},
		{"${iot:Thing.ThingName}", "${iot:Thing.ThingName}", false},
		{"x${*}y${?}z${$}", "x*y?z$", true},
		{"x${*}y", "xaaay", false},
		{"$aws/things/*", "$aws/things/t/shadow", true},
		{"${not-closed", "", false},
	}
	for _, tt := range tests {
		p, err := compile(tt.pattern, true, true)
		if err != nil {
			if tt.pattern == "${not-closed" {
				continue
			}
			t.Fatalf("compile(%q): %v", tt.pattern, err)
		}
		if got := p.match(tt.s, vars, false); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
		if got, want := p.match(tt.s, vars, false), refMatch(t, tt.pattern, tt.s, vars); got != want {
			t.Errorf("%q vs %q: match %v, reference %v", tt.pattern, tt.s, got, want)
		}
	}
}

func TestPatternFold(t *testing.T) {
	p, err := compile("iot:Pub*", true, false)
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"iot:Publish": true, "IOT:PUBLISH": true, "iot:publish": true, "iot:Receive": false} {
		if got := p.match(s, nil, true); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
	if p.match("IOT:PUBLISH", nil, false) {
		t.Error("case-sensitive match of IOT:PUBLISH against iot:Pub* succeeded")
	}
}

func TestARNs(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{ClientARN("eu-west-1", "123456789012", "dev1"), "arn:aws:iot:eu-west-1:123456789012:client/dev1"},
		{TopicARN("eu-west-1", "123456789012", "$aws/things/t/shadow/update"), "arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/t/shadow/update"},
		{TopicFilterARN("eu-west-1", "123456789012", "a/+/#"), "arn:aws:iot:eu-west-1:123456789012:topicfilter/a/+/#"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{ImplicitDeny: "ImplicitDeny", Allow: "Allow", ExplicitDeny: "ExplicitDeny", 7: "Decision(invalid)"} {
		if d.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(d), d.String(), want)
		}
		if d.Allowed() != (d == Allow) {
			t.Errorf("%v.Allowed() = %v", d, d.Allowed())
		}
	}
	var zero Decision
	if zero.Allowed() {
		t.Error("the zero Decision allows")
	}
}

func mustParse(t testing.TB, doc string) *Document {
	t.Helper()
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return d
}

func TestEvaluateSemantics(t *testing.T) {
	const arn = "arn:aws:iot:us-east-1:123456789012:"
	attached := Variables{ClientID: "thing1", ThingName: "thing1", CertificateID: "c0ffee"}
	bare := Variables{ClientID: "thing1"}
	tests := []struct {
		name string
		docs []string
		req  Request
		vars Variables
		want Decision
	}{
		{
			name: "NotAction allows everything but Connect",
			docs: []string{`{"Statement":{"Effect":"Allow","NotAction":"iot:Connect","Resource":"*"}}`},
			req:  Request{Action: ActionPublish, Resource: arn + "topic/a"}, vars: bare, want: Allow,
		},
		{
			name: "NotAction excludes Connect",
			docs: []string{`{"Statement":{"Effect":"Allow","NotAction":"iot:connect","Resource":"*"}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/thing1"}, vars: bare, want: ImplicitDeny,
		},
		{
			name: "Deny with NotResource denies everything outside",
			docs: []string{
				`{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"},{"Effect":"Deny","Action":"iot:Publish","NotResource":"` + arn + `topic/ok/*"}]}`,
			},
			req: Request{Action: ActionPublish, Resource: arn + "topic/other"}, vars: bare, want: ExplicitDeny,
		},
		{
			name: "NotResource with an unresolved variable applies nowhere",
			docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","NotResource":"` + arn + `topic/${iot:Connection.Thing.ThingName}/*"}]}`},
			req:  Request{Action: ActionPublish, Resource: arn + "topic/elsewhere"}, vars: bare, want: ImplicitDeny,
		},
		{
			name: "NotResource with a resolved variable",
			docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","NotResource":"` + arn + `topic/${iot:Connection.Thing.ThingName}/*"}]}`},
			req:  Request{Action: ActionPublish, Resource: arn + "topic/elsewhere"}, vars: attached, want: Allow,
		},
		{
			name: "unresolved entry does not hide the others",
			docs: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":["` + arn + `client/${iot:Connection.Thing.ThingName}","` + arn + `client/thing1"]}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/thing1"}, vars: bare, want: Allow,
		},
		{
			name: "StringLike condition with a variable",
			docs: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringLike":{"iot:ClientId":"${iot:Connection.Thing.ThingName}-*"}}}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/thing1-shadow"}, vars: Variables{ClientID: "thing1-shadow", ThingName: "thing1"}, want: Allow,
		},
		{
			name: "StringEquals treats * literally",
			docs: []string{`{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":"dev*"}}}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/dev1"}, vars: Variables{ClientID: "dev1"}, want: ImplicitDeny,
		},
		{
			name: "StringEqualsIgnoreCase",
			docs: []string{`{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"IOT:CLIENTID":["DEV1","dev2"]}}}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/dev1"}, vars: Variables{ClientID: "dev1"}, want: Allow,
		},
		{
			name: "StringNotEquals with a missing key holds",
			docs: []string{`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"iot:Connection.Thing.ThingName":"thing1"}}}}`, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/thing1"}, vars: bare, want: ExplicitDeny,
		},
		{
			name: "StringEquals with a missing key fails",
			docs: []string{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"iot:CertificateId":""}}}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/thing1"}, vars: bare, want: ImplicitDeny,
		},
		{
			name: "conditions are ANDed",
			docs: []string{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"},"StringEquals":{"iot:CertificateId":"other"}}}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/thing1"}, vars: attached, want: ImplicitDeny,
		},
		{
			name: "Bool false",
			docs: []string{`{"Statement":{"Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":false}}}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/thing1"}, vars: bare, want: ExplicitDeny,
		},
		{
			name: "nil documents are skipped",
			docs: []string{"", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			req:  Request{Action: ActionConnect, Resource: arn + "client/x"}, vars: bare, want: Allow,
		},
		{
			name: "no documents",
			req:  Request{Action: ActionConnect, Resource: arn + "client/x"}, vars: bare, want: ImplicitDeny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var docs []*Document
			for _, s := range tt.docs {
				if s == "" {
					docs = append(docs, nil)
					continue
				}
				docs = append(docs, mustParse(t, s))
			}
			if got := Evaluate(docs, tt.req, tt.vars); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	docs := []*Document{
		mustParse(t, `{"Statement":[{"Sid":"Conn","Effect":"Allow","Action":"iot:Connect","Resource":"*"},{"Sid":"Pub","Effect":"Allow","Action":"iot:Publish","Resource":"*"}]}`),
		mustParse(t, `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoShadow","Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:r:a:topic/$aws/*"}]}`),
	}
	tests := []struct {
		req  Request
		want Result
	}{
		{Request{Action: ActionPublish, Resource: "arn:aws:iot:r:a:topic/x"}, Result{Decision: Allow, Policy: 0, Statement: 1, Sid: "Pub"}},
		{Request{Action: ActionPublish, Resource: "arn:aws:iot:r:a:topic/$aws/x"}, Result{Decision: ExplicitDeny, Policy: 1, Statement: 1, Sid: "NoShadow"}},
		{Request{Action: ActionSubscribe, Resource: "arn:aws:iot:r:a:topicfilter/x"}, Result{Decision: Allow, Policy: 1, Statement: 0}},
	}
	for _, tt := range tests {
		if got := Explain(docs, tt.req, Variables{ClientID: "c"}); got != tt.want {
			t.Errorf("Explain(%v) = %+v, want %+v", tt.req, got, tt.want)
		}
	}
	if got := Explain(nil, Request{Action: ActionConnect, Resource: "x"}, Variables{}); got != (Result{Decision: ImplicitDeny, Policy: -1, Statement: -1}) {
		t.Errorf("Explain(nil) = %+v", got)
	}
}
