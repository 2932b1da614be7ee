package mockcloud

import (
	_ "embed"
	"strings"
)

// Names of what every rig region is seeded with. Rigs, the demo and device.yaml
// rely on them: keep them stable.
const (
	TemplateName      = "GatewayProvisioning"
	ClaimPolicyName   = "FleetbootClaimPolicy"
	DevicePolicyName  = "GatewayDevicePolicy"
	GatewayThingGroup = "gateways"
	// MakerCAName is the CommonName of the maker CA every rig creates.
	MakerCAName = "Example Maker Device CA"
)

// gatewayTemplate: parameter SerialNumber required, Site optional; thing
// gw-<SerialNumber> in group gateways; certificate ACTIVE; the device policy.
//
//go:embed defaults/GatewayProvisioning.json
var gatewayTemplate string

// claimPolicy is least privilege for fleet provisioning by claim (PROTOCOL.md §1.7):
// connect only with the agent's claim client ids (fleetboot-claim-…), so that a
// holder of the fleet-wide claim cannot connect under a device's thing name and knock
// it off; both create flows, and the default template only.
const claimPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:REGION:ACCOUNT:client/fleetboot-claim-*"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
      "arn:aws:iot:REGION:ACCOUNT:topic/$aws/certificates/create/*",
      "arn:aws:iot:REGION:ACCOUNT:topic/$aws/certificates/create-from-csr/*",
      "arn:aws:iot:REGION:ACCOUNT:topic/$aws/provisioning-templates/TEMPLATE/provision/*"]},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": [
      "arn:aws:iot:REGION:ACCOUNT:topicfilter/$aws/certificates/create/*",
      "arn:aws:iot:REGION:ACCOUNT:topicfilter/$aws/certificates/create-from-csr/*",
      "arn:aws:iot:REGION:ACCOUNT:topicfilter/$aws/provisioning-templates/TEMPLATE/provision/*"]}
  ]
}`

// devicePolicy lets a device whose client id is its thing name connect and use
// gateways/<thing>/#.
const devicePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:REGION:ACCOUNT:client/${iot:Connection.Thing.ThingName}"},
    {"Effect": "Allow", "Action": ["iot:Publish", "iot:RetainPublish", "iot:Receive"], "Resource": "arn:aws:iot:REGION:ACCOUNT:topic/gateways/${iot:Connection.Thing.ThingName}/*"},
    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": "arn:aws:iot:REGION:ACCOUNT:topicfilter/gateways/${iot:Connection.Thing.ThingName}/*"}
  ]
}`

func regionPolicy(doc, region, account string) string {
	return strings.NewReplacer("REGION", region, "ACCOUNT", account, "TEMPLATE", TemplateName).Replace(doc)
}
