package provisioning

import (
	"strings"
	"testing"
)

func TestTopicNames(t *testing.T) {
	tests := []struct {
		name     string
		topic    Topic
		request  string
		accepted string
		rejected string
	}{
		{"create keys json", CreateKeysTopic(FormatJSON), "$aws/certificates/create/json",
			"$aws/certificates/create/json/accepted", "$aws/certificates/create/json/rejected"},
		{"create keys cbor", CreateKeysTopic(FormatCBOR), "$aws/certificates/create/cbor",
			"$aws/certificates/create/cbor/accepted", "$aws/certificates/create/cbor/rejected"},
		{"csr json", CreateFromCSRTopic(FormatJSON), "$aws/certificates/create-from-csr/json",
			"$aws/certificates/create-from-csr/json/accepted", "$aws/certificates/create-from-csr/json/rejected"},
		{"csr cbor", CreateFromCSRTopic(FormatCBOR), "$aws/certificates/create-from-csr/cbor",
			"$aws/certificates/create-from-csr/cbor/accepted", "$aws/certificates/create-from-csr/cbor/rejected"},
		{"register json", RegisterThingTopic("gw_Template-1", FormatJSON), "$aws/provisioning-templates/gw_Template-1/provision/json",
			"$aws/provisioning-templates/gw_Template-1/provision/json/accepted", "$aws/provisioning-templates/gw_Template-1/provision/json/rejected"},
		{"register cbor", RegisterThingTopic("t", FormatCBOR), "$aws/provisioning-templates/t/provision/cbor",
			"$aws/provisioning-templates/t/provision/cbor/accepted", "$aws/provisioning-templates/t/provision/cbor/rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.topic.Request(); got != tt.request {
				t.Errorf("Request() = %q, want %q", got, tt.request)
			}
			if got := tt.topic.Reply(Accepted); got != tt.accepted {
				t.Errorf("Reply(Accepted) = %q, want %q", got, tt.accepted)
			}
			if got := tt.topic.Reply(Rejected); got != tt.rejected {
				t.Errorf("Reply(Rejected) = %q, want %q", got, tt.rejected)
			}
			if r := tt.topic.Replies(); len(r) != 2 || r[0] != tt.accepted || r[1] != tt.rejected {
				t.Errorf("Replies() = %q", r)
			}
			// Every name must be within AWS's topic limits: 7 slashes, 256 bytes.
			for _, s := range []string{tt.request, tt.accepted, tt.rejected} {
				if n := strings.Count(s, "/"); n > 7 || len(s) > 256 {
					t.Errorf("%q: %d slashes, %d bytes", s, n, len(s))
				}
			}
			for _, c := range []struct {
				s string
				o Outcome
			}{{tt.request, ""}, {tt.accepted, Accepted}, {tt.rejected, Rejected}} {
				got, o, ok := ParseTopic(c.s)
				if !ok || got != tt.topic || o != c.o {
					t.Errorf("ParseTopic(%q) = %+v, %q, %v; want %+v, %q, true", c.s, got, o, ok, tt.topic, c.o)
				}
			}
		})
	}
}

func TestParseTopicRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"/",
		"accepted",
		"$aws/certificates/create",
		"$aws/certificates/create/xml",
		"$aws/certificates/create/JSON",
		"$aws/certificates/create/json/",
		"$aws/certificates/create/json/accepted/accepted",
		"$aws/certificates/create/json/other",
		"aws/certificates/create/json",
		"$aws/certificates/create-from-csr/json/extra/accepted",
		"$aws/certificates/delete/json",
		"$aws/provisioning-templates/provision/json",
		"$aws/provisioning-templates/bad name/provision/json",
		"$aws/provisioning-templates/+/provision/json",
		"$aws/provisioning-templates//provision/json/accepted",
		"$aws/provisioning-templates/" + strings.Repeat("a", 37) + "/provision/json",
		"$aws/provisioning-templates/t/register/json",
		"$aws/things/gw/shadow/update/accepted",
	} {
		if tp, o, ok := ParseTopic(s); ok {
			t.Errorf("ParseTopic(%q) = %+v, %q, true; want not ok", s, tp, o)
		}
	}
}

func TestValidTemplateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"GatewayTemplate_v2-prod", true},
		{strings.Repeat("x", 36), true},
		{"", false},
		{strings.Repeat("x", 37), false},
		{"with space", false},
		{"slash/inside", false},
		{"plus+", false},
		{"dot.name", false},
		{"ümlaut", false},
	}
	for _, tt := range tests {
		if err := ValidTemplateName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidTemplateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	// The refusal names the character as written, not one byte of it.
	if err := ValidTemplateName("ümlaut"); err == nil || !strings.Contains(err.Error(), "'ü' at byte 0") {
		t.Errorf("ValidTemplateName(%q) = %v, want it to name 'ü' at byte 0", "ümlaut", err)
	}
}

func TestParseFormat(t *testing.T) {
	for s, want := range map[string]Format{"json": FormatJSON, "cbor": FormatCBOR} {
		if f, err := ParseFormat(s); err != nil || f != want {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, err)
		}
	}
	for _, s := range []string{"", "JSON", "xml", "cbor "} {
		if _, err := ParseFormat(s); err == nil {
			t.Errorf("ParseFormat(%q): want an error", s)
		}
	}
}
