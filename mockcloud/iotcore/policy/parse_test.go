package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	long := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iot:Publish","Resource":"` +
		strings.Repeat("a", MaxDocumentChars) + `"}}`
	tests := []struct {
		name     string
		doc      string
		stmt     int
		field    string   // want ParseError.Field
		contains []string // substrings the message must carry
		tooLarge bool
	}{
		{name: "empty", doc: "  \n", stmt: -1, contains: []string{"empty document"}},
		{name: "not JSON", doc: `{"Version":`, stmt: -1, contains: []string{"invalid JSON"}},
		{name: "array at top", doc: `[{"Effect":"Allow"}]`, stmt: -1, contains: []string{"JSON object"}},
		{name: "trailing data", doc: `{"Statement":[]} {}`, stmt: -1, contains: []string{"after the top-level object"}},
		{name: "unknown top element", doc: `{"Version":"2012-10-17","Statment":[]}`, stmt: -1, field: "Statment", contains: []string{"unknown element"}},
		{name: "bad version", doc: `{"Version":"2012-10-18","Statement":[]}`, stmt: -1, field: "Version", contains: []string{`"2012-10-18"`}},
		{name: "version not string", doc: `{"Version":2012,"Statement":[]}`, stmt: -1, field: "Version", contains: []string{"string"}},
		{name: "no statement", doc: `{"Version":"2012-10-17"}`, stmt: -1, field: "Statement", contains: []string{"missing"}},
		{name: "empty statement list", doc: `{"Statement":[]}`, stmt: -1, field: "Statement", contains: []string{"empty list"}},
		{name: "statement is string", doc: `{"Statement":"Allow"}`, stmt: -1, field: "Statement", contains: []string{"object"}},
		{
			name: "effect lower case", stmt: 1, field: "Statement[1].Effect", contains: []string{`"Allow" or "Deny"`, `"allow"`},
			doc: `{"Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"},{"Effect":"allow","Action":"iot:*","Resource":"*"}]}`,
		},
		{name: "effect missing", doc: `{"Statement":{"Action":"iot:*","Resource":"*"}}`, stmt: 0, field: "Statement.Effect", contains: []string{"missing"}},
		{name: "no action", doc: `{"Statement":{"Effect":"Allow","Resource":"*"}}`, stmt: 0, field: "Statement", contains: []string{"needs Action or NotAction"}},
		{name: "action and notaction", doc: `{"Statement":{"Effect":"Allow","Action":"*","NotAction":"iot:Connect","Resource":"*"}}`, stmt: 0, field: "Statement", contains: []string{"both Action and NotAction"}},
		{name: "no resource", doc: `{"Statement":{"Effect":"Allow","Action":"*"}}`, stmt: 0, field: "Statement", contains: []string{"needs Resource or NotResource"}},
		{name: "action number", doc: `{"Statement":{"Effect":"Allow","Action":7,"Resource":"*"}}`, stmt: 0, field: "Statement.Action", contains: []string{"string or a list of strings"}},
		{name: "action list with number", doc: `{"Statement":{"Effect":"Allow","Action":["iot:Connect",7],"Resource":"*"}}`, stmt: 0, field: "Statement.Action", contains: []string{"element 1"}},
		{name: "action without service", doc: `{"Statement":[{"Effect":"Allow","Action":["Publish"],"Resource":"*"}]}`, stmt: 0, field: "Statement[0].Action[0]", contains: []string{`"Publish"`, "<service>:<action>"}},
		{name: "empty resource list", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":[]}}`, stmt: 0, field: "Statement.Resource", contains: []string{"empty list"}},
		{name: "empty resource string", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":["*",""]}}`, stmt: 0, field: "Statement.Resource", contains: []string{"element 1 is empty"}},
		{name: "principal", doc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, stmt: 0, field: "Statement.Principal", contains: []string{"not allowed"}},
		{name: "unknown statement element", doc: `{"Statement":{"Effect":"Allow","action":"*","Resource":"*"}}`, stmt: 0, field: "Statement.action", contains: []string{"unknown element"}},
		{
			// AWS's own connect-and-pub example used ${iot:clientId}; the service
			// rejected it (awsdocs/aws-iot-docs pull request 9).
			name: "variable wrong case", stmt: 0, field: "Statement[0].Resource[0]", contains: []string{"${iot:clientId}", "${iot:ClientId}", "case-sensitive"},
			doc: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Publish"],"Resource":["arn:aws:iot:us-east-1:123456789012:topic/${iot:clientId}"]}]}`,
		},
		{name: "unterminated variable", doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"topic/${iot:ClientId"}}`, stmt: 0, field: "Statement.Resource[0]", contains: []string{"unterminated"}},
		{name: "empty variable", doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"topic/${}"}}`, stmt: 0, field: "Statement.Resource[0]", contains: []string{"empty policy variable"}},
		{name: "variable default", doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"topic/${iot:ClientId, 'x'}"}}`, stmt: 0, field: "Statement.Resource[0]", contains: []string{"default values"}},
		{name: "condition operator", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"iot:ClientId":"1"}}}}`, stmt: 0, field: "Statement.Condition.NumericEquals", contains: []string{"not supported", "StringLike"}},
		{name: "set operator over unsupported operator", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:NumericEquals":{"iot:ClientId":["1"]}}}}`, stmt: 0, field: "Statement.Condition.ForAllValues:NumericEquals", contains: []string{"not supported", "ForAllValues:", "IfExists"}},
		{name: "set operator prefix twice", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:ForAnyValue:StringEquals":{"iot:ClientId":["a"]}}}}`, stmt: 0, field: "Statement.Condition.ForAllValues:ForAnyValue:StringEquals", contains: []string{"not supported"}},
		{name: "set operator prefix case", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"forallvalues:StringEquals":{"iot:ClientId":["a"]}}}}`, stmt: 0, field: "Statement.Condition.forallvalues:StringEquals", contains: []string{"not supported"}},
		{
			// IAM: multivalued keys require a set operator.
			name: "connect attributes without set operator", stmt: 0, field: "Statement.Condition.StringEquals.iot:ConnectAttributes", contains: []string{"multivalued", "ForAllValues:", "ForAnyValue:"},
			doc: `{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEquals":{"iot:ConnectAttributes":["LastWill"]}}}}`,
		},
		{name: "connect attributes IfExists without set operator", doc: `{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEqualsIfExists":{"iot:ConnectAttributes":"LastWill"}}}}`, stmt: 0, field: "Statement.Condition.StringEqualsIfExists.iot:ConnectAttributes", contains: []string{"multivalued"}},
		{name: "connect attributes Bool", doc: `{"Statement":{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"ForAllValues:Bool":{"iot:ConnectAttributes":"true"}}}}`, stmt: 0, field: "Statement.Condition.ForAllValues:Bool.iot:ConnectAttributes", contains: []string{"Bool applies only"}},
		{name: "empty value list without set operator", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":[]}}}}`, stmt: 0, field: "Statement.Condition.StringEquals.iot:ClientId", contains: []string{"empty list"}},
		{name: "set operator value not string", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":[7]}}}}`, stmt: 0, field: "Statement.Condition.ForAnyValue:StringEquals.iot:ConnectAttributes", contains: []string{"element 0"}},
		{name: "condition key", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"iot:Certificate.Subject.Organization":"x"}}}}`, stmt: 0, field: "Statement.Condition.StringEquals.iot:Certificate.Subject.Organization", contains: []string{"condition key not supported", "iot:ClientId"}},
		{name: "condition bool value", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"yes"}}}}`, stmt: 0, field: "Statement.Condition.Bool.iot:Connection.Thing.IsAttached", contains: []string{`"yes"`}},
		{name: "condition bool key", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"iot:ClientId":"true"}}}}`, stmt: 0, field: "Statement.Condition.Bool.iot:ClientId", contains: []string{"Bool applies only"}},
		{name: "condition not object", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":[]}}`, stmt: 0, field: "Statement.Condition", contains: []string{"object"}},
		{name: "too large", doc: long, stmt: -1, tooLarge: true, contains: []string{"excluding whitespace", "2048"}},
		{name: "too many raw bytes", doc: "{" + strings.Repeat(" ", MaxRawBytes) + "}", stmt: -1, tooLarge: true, contains: []string{"bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded (%d statements), want error", d.Len())
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if !errors.Is(err, ErrMalformedPolicy) {
				t.Errorf("errors.Is(%v, ErrMalformedPolicy) = false", err)
			}
			if got := errors.Is(err, ErrTooLarge); got != tt.tooLarge {
				t.Errorf("errors.Is(%v, ErrTooLarge) = %v, want %v", err, got, tt.tooLarge)
			}
			if pe.Statement != tt.stmt {
				t.Errorf("Statement = %d, want %d (%v)", pe.Statement, tt.stmt, err)
			}
			if pe.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", pe.Field, tt.field, err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if tt.field != "" && !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name field %q", err, tt.field)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	exactly := `{"Statement":{"Effect":"Allow","Action":"*","Resource":"` // 57 chars so far
	pad := MaxDocumentChars - len(exactly) - len(`"}}`)
	tests := []struct {
		name    string
		doc     string
		version string
		stmts   int
	}{
		{name: "single statement object, no version", doc: `{"Statement":{"Effect":"Deny","Action":"iot:Connect","Resource":"*"}}`, stmts: 1},
		{name: "legacy version", doc: `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, version: VersionLegacy, stmts: 1},
		{name: "id and sid", doc: `{"Version":"2012-10-17","Id":"p1","Statement":[{"Sid":"S1","Effect":"Allow","NotAction":["iot:Connect"],"NotResource":"*"},{"Effect":"Deny","Action":"*","Resource":"*"}]}`, version: VersionCurrent, stmts: 2},
		{name: "exactly at the size limit", doc: exactly + strings.Repeat("a", pad) + `"}}`, stmts: 1},
		{name: "whitespace does not count", doc: strings.Replace(exactly+strings.Repeat("a", pad)+`"}}`, ",", " ,\n\t ", -1), stmts: 1},
		{name: "unknown variables accepted", doc: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":["topic/${iot:Connection.Thing.Attributes[x]}","topic/${aws:SourceIp}","topic/${*}${?}${$}"]}}`, version: VersionCurrent, stmts: 1},
		{name: "set operators and IfExists", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"iot:ConnectAttributes":[]},"ForAnyValue:StringLikeIfExists":{"iot:connectattributes":"Last*","iot:ClientId":"a*"},"StringNotEqualsIfExists":{"iot:CertificateId":"x"},"BoolIfExists":{"iot:Connection.Thing.IsAttached":true}}}}`, stmts: 1},
		{name: "bool condition as JSON bool", doc: `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"iot:connection.thing.isattached":true}}}}`, stmts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if d.Version() != tt.version || d.Len() != tt.stmts {
				t.Errorf("Version %q, Len %d; want %q, %d", d.Version(), d.Len(), tt.version, tt.stmts)
			}
		})
	}
}
