package iotcore_test

import (
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/mochi-mqtt/server/v2/packets"
)

// iot:Connect is judged with the CONNECT's iot:ConnectAttributes: PersistentConnect
// for a session that outlives the connection, LastWill for a Will. The policies
// are AWS's examples ("Connect policy examples"), with iot:Publish for the Will.
func TestConnectAttributesJudgeConnect(t *testing.T) {
	const publishT = `{"Effect":"Allow","Action":["iot:Publish","iot:RetainPublish"],"Resource":"arn:aws:iot:eu-west-1:123456789012:topic/t/*"}`
	onlyPersistent := `{"Version":"2012-10-17","Statement":[` + publishT + `,` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"ForAllValues:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}}]}`
	noPersistent := `{"Version":"2012-10-17","Statement":[` + publishT + `,` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},` +
		`{"Effect":"Deny","Action":"iot:Connect","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"iot:ConnectAttributes":["PersistentConnect"]}}}]}`
	will := packets.ConnectParams{WillFlag: true, WillTopic: "t/will", WillPayload: []byte("offline"), Clean: true}
	persistent5 := packets.Properties{SessionExpiryInterval: 3600, SessionExpiryIntervalFlag: true}
	rg := newRig(t)
	for _, tc := range []struct {
		name    string
		policy  string
		version byte
		cp      packets.ConnectParams
		props   packets.Properties
		ok      bool
	}{
		{"no attributes", onlyPersistent, 4, packets.ConnectParams{Clean: true}, packets.Properties{}, true},
		{"persistent session", onlyPersistent, 4, packets.ConnectParams{}, packets.Properties{}, true},
		{"Will", onlyPersistent, 4, will, packets.Properties{}, false},
		{"MQTT 5 session with expiry", onlyPersistent, 5, packets.ConnectParams{}, persistent5, true},
		{"persistent session denied", noPersistent, 4, packets.ConnectParams{}, packets.Properties{}, false},
		{"MQTT 5 clean start 0 without expiry is not persistent", noPersistent, 5, packets.ConnectParams{}, packets.Properties{}, true},
		{"MQTT 5 session with expiry denied", noPersistent, 5, packets.ConnectParams{}, persistent5, false},
		{"Will allowed", noPersistent, 4, will, packets.Properties{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := rg.newDevice("attrs-"+tc.name, tc.policy, registry.StatusActive)
			tc.cp.ClientIdentifier = "attrs"
			w := rg.dialWireProps(dev, tc.version, tc.cp, tc.props)
			ack := w.connack()
			if accepted := ack != nil && ack.ReasonCode == 0; accepted != tc.ok {
				t.Fatalf("CONNECT: accepted %v (CONNACK %s), want %v", accepted, connackCode(ack), tc.ok)
			}
		})
	}
}
