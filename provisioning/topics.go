package provisioning

import (
	"fmt"
	"strings"
)

// ClaimClientIDPrefix begins the client id of every connection made with the
// claim certificate; a random suffix follows. A claim policy can allow iot:Connect
// on client/fleetboot-claim-* only, and the permanent connection, whose client id
// is the thing name, is told apart by it.
const ClaimClientIDPrefix = "fleetboot-claim-"

// Format is the payload encoding named in every fleet provisioning topic.
type Format string

const (
	FormatJSON Format = "json"
	FormatCBOR Format = "cbor"
)

// ParseFormat accepts the topic spelling of a format.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatJSON, FormatCBOR:
		return Format(s), nil
	}
	return "", fmt.Errorf("payload format %q: want %q or %q", s, FormatJSON, FormatCBOR)
}

// Operation is one of the three fleet provisioning MQTT APIs.
type Operation string

const (
	OpCreateKeysAndCertificate Operation = "CreateKeysAndCertificate"
	OpCreateCertificateFromCSR Operation = "CreateCertificateFromCsr"
	OpRegisterThing            Operation = "RegisterThing"
)

// Outcome is the last level of a reply topic.
type Outcome string

const (
	Accepted Outcome = "accepted"
	Rejected Outcome = "rejected"
)

// Topic names one request topic; the reply topics hang below it.
type Topic struct {
	Op       Operation
	Format   Format
	Template string // RegisterThing only
}

// CreateKeysTopic is where CreateKeysAndCertificate requests are published.
func CreateKeysTopic(f Format) Topic { return Topic{Op: OpCreateKeysAndCertificate, Format: f} }

// CreateFromCSRTopic is where CreateCertificateFromCsr requests are published.
func CreateFromCSRTopic(f Format) Topic { return Topic{Op: OpCreateCertificateFromCSR, Format: f} }

// RegisterThingTopic is where RegisterThing requests for template are published.
func RegisterThingTopic(template string, f Format) Topic {
	return Topic{Op: OpRegisterThing, Format: f, Template: template}
}

// Request is the topic a device publishes to.
func (t Topic) Request() string {
	switch t.Op {
	case OpCreateKeysAndCertificate:
		return "$aws/certificates/create/" + string(t.Format)
	case OpCreateCertificateFromCSR:
		return "$aws/certificates/create-from-csr/" + string(t.Format)
	case OpRegisterThing:
		return "$aws/provisioning-templates/" + t.Template + "/provision/" + string(t.Format)
	}
	return ""
}

// Reply is the topic the service answers on.
func (t Topic) Reply(o Outcome) string { return t.Request() + "/" + string(o) }

// Replies lists both reply topics, the filters a device subscribes to before it publishes.
func (t Topic) Replies() []string { return []string{t.Reply(Accepted), t.Reply(Rejected)} }

// ParseTopic recognises a request topic or one of its reply topics. The outcome is
// empty for a request topic. ok is false for any other topic.
func ParseTopic(topic string) (t Topic, outcome Outcome, ok bool) {
	parts := strings.Split(topic, "/")
	if len(parts) > 0 {
		switch last := Outcome(parts[len(parts)-1]); last {
		case Accepted, Rejected:
			outcome = last
			parts = parts[:len(parts)-1]
		}
	}
	if len(parts) < 4 || parts[0] != "$aws" {
		return Topic{}, "", false
	}
	f, err := ParseFormat(parts[len(parts)-1])
	if err != nil {
		return Topic{}, "", false
	}
	switch {
	case len(parts) == 4 && parts[1] == "certificates" && parts[2] == "create":
		return CreateKeysTopic(f), outcome, true
	case len(parts) == 4 && parts[1] == "certificates" && parts[2] == "create-from-csr":
		return CreateFromCSRTopic(f), outcome, true
	case len(parts) == 5 && parts[1] == "provisioning-templates" && parts[3] == "provision":
		if ValidTemplateName(parts[2]) != nil {
			return Topic{}, "", false
		}
		return RegisterThingTopic(parts[2], f), outcome, true
	}
	return Topic{}, "", false
}

// ValidTemplateName applies AWS's rule: 1–36 characters of [0-9A-Za-z_-].
func ValidTemplateName(name string) error {
	if len(name) == 0 || len(name) > 36 {
		return fmt.Errorf("template name %q: length %d, want 1 to 36", name, len(name))
	}
	for i, c := range name {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return fmt.Errorf("template name %q: character %q at byte %d not in [0-9A-Za-z_-]", name, c, i)
		}
	}
	return nil
}
