package policy

import "testing"

// benchClaimPolicy is the claim certificate policy of PROTOCOL.md section 1.7.
const benchClaimPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:eu-west-1:123456789012:client/*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
      "arn:aws:iot:eu-west-1:123456789012:topic/$aws/certificates/create/*",
      "arn:aws:iot:eu-west-1:123456789012:topic/$aws/certificates/create-from-csr/*",
      "arn:aws:iot:eu-west-1:123456789012:topic/$aws/provisioning-templates/GatewayTemplate/provision/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
      "arn:aws:iot:eu-west-1:123456789012:topicfilter/$aws/certificates/create/*",
      "arn:aws:iot:eu-west-1:123456789012:topicfilter/$aws/certificates/create-from-csr/*",
      "arn:aws:iot:eu-west-1:123456789012:topicfilter/$aws/provisioning-templates/GatewayTemplate/provision/*"]}
  ]
}`

// benchDevicePolicy is a typical template-attached device policy: client id = thing
// name, own telemetry and command topics, own shadow and jobs, one Deny.
const benchDevicePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}",
     "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}},
    {"Effect": "Allow", "Action": "iot:Publish", "Resource": [
      "arn:aws:iot:eu-west-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/telemetry/*",
      "arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
      "arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
      "arn:aws:iot:eu-west-1:123456789012:topicfilter/devices/${iot:Connection.Thing.ThingName}/commands/*",
      "arn:aws:iot:eu-west-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
      "arn:aws:iot:eu-west-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*"]},
    {"Effect": "Allow", "Action": "iot:Receive", "Resource": [
      "arn:aws:iot:eu-west-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/commands/*",
      "arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
      "arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*"]},
    {"Effect": "Deny", "Action": "iot:Publish", "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/delete"}
  ]
}`

func BenchmarkEvaluate(b *testing.B) {
	claim := []*Document{mustParse(b, benchClaimPolicy)}
	device := []*Document{mustParse(b, benchDevicePolicy)}
	const region, acct = "eu-west-1", "123456789012"
	claimVars := Variables{ClientID: "serial-000123", CertificateID: "0f3c"}
	deviceVars := Variables{ClientID: "gw-000123", ThingName: "gw-000123", CertificateID: "9ab1"}
	cases := []struct {
		name string
		docs []*Document
		req  Request
		vars Variables
		want Decision
	}{
		{"claim/connect", claim, Request{Action: ActionConnect, Resource: ClientARN(region, acct, "serial-000123")}, claimVars, Allow},
		{"claim/publish-csr", claim, Request{Action: ActionPublish, Resource: TopicARN(region, acct, "$aws/certificates/create-from-csr/json")}, claimVars, Allow},
		{"claim/subscribe-register", claim, Request{Action: ActionSubscribe, Resource: TopicFilterARN(region, acct, "$aws/provisioning-templates/GatewayTemplate/provision/json/accepted")}, claimVars, Allow},
		{"claim/publish-denied", claim, Request{Action: ActionPublish, Resource: TopicARN(region, acct, "devices/gw-000123/telemetry/temp")}, claimVars, ImplicitDeny},
		{"device/connect", device, Request{Action: ActionConnect, Resource: ClientARN(region, acct, "gw-000123")}, deviceVars, Allow},
		{"device/publish-telemetry", device, Request{Action: ActionPublish, Resource: TopicARN(region, acct, "devices/gw-000123/telemetry/temp")}, deviceVars, Allow},
		{"device/publish-denied", device, Request{Action: ActionPublish, Resource: TopicARN(region, acct, "$aws/things/gw-000123/shadow/delete")}, deviceVars, ExplicitDeny},
		{"device/receive-jobs", device, Request{Action: ActionReceive, Resource: TopicARN(region, acct, "$aws/things/gw-000123/jobs/notify-next")}, deviceVars, Allow},
		{"device/subscribe-other", device, Request{Action: ActionSubscribe, Resource: TopicFilterARN(region, acct, "$aws/things/gw-000999/shadow/#")}, deviceVars, ImplicitDeny},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if got := Evaluate(c.docs, c.req, c.vars); got != c.want {
				b.Fatalf("Evaluate = %v, want %v", got, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				Evaluate(c.docs, c.req, c.vars)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ name, doc string }{{"claim", benchClaimPolicy}, {"device", benchDevicePolicy}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse([]byte(c.doc)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
