package policy_test

import (
	"fmt"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/policy"
)

func Example() {
	doc, err := policy.Parse([]byte(`{
	  "Version": "2012-10-17",
	  "Statement": [
	    {"Effect": "Allow", "Action": "iot:Connect",
	     "Resource": "arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
	    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"],
	     "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/*"},
	    {"Effect": "Deny", "Action": "iot:Publish",
	     "Resource": "arn:aws:iot:eu-west-1:123456789012:topic/devices/${iot:Connection.Thing.ThingName}/admin"}
	  ]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	attached := []*policy.Document{doc}
	vars := policy.Variables{ClientID: "gw-1", ThingName: "gw-1"}
	for _, req := range []policy.Request{
		{Action: policy.ActionConnect, Resource: policy.ClientARN("eu-west-1", "123456789012", "gw-1")},
		{Action: policy.ActionPublish, Resource: policy.TopicARN("eu-west-1", "123456789012", "devices/gw-1/temp")},
		{Action: policy.ActionPublish, Resource: policy.TopicARN("eu-west-1", "123456789012", "devices/gw-1/admin")},
		{Action: policy.ActionSubscribe, Resource: policy.TopicFilterARN("eu-west-1", "123456789012", "devices/gw-1/#")},
	} {
		fmt.Println(req.Action, policy.Evaluate(attached, req, vars))
	}
	// A certificate with no thing attached: the variable has no value.
	fmt.Println("no thing:", policy.Evaluate(attached, policy.Request{
		Action: policy.ActionConnect, Resource: policy.ClientARN("eu-west-1", "123456789012", "gw-1"),
	}, policy.Variables{ClientID: "gw-1"}))

	_, err = policy.Parse([]byte(`{"Statement":{"Effect":"allow","Action":"iot:*","Resource":"*"}}`))
	fmt.Println(err)
	// Output:
	// iot:Connect Allow
	// iot:Publish Allow
	// iot:Publish ExplicitDeny
	// iot:Subscribe ImplicitDeny
	// no thing: ImplicitDeny
	// malformed policy: Statement.Effect: must be "Allow" or "Deny", got "allow"
}
