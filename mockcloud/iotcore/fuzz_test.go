package iotcore_test

import (
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/provisioning"
	"go.uber.org/zap"
)

// FuzzProvisioningRequest sends any payload to the three request topics in both
// formats: the reply is always a well-formed accepted or rejected payload.
func FuzzProvisioningRequest(f *testing.F) {
	rg := newRig(f, func(c *iotcore.Config) { c.KeyPoolSize = 0; c.Logger = zap.NewNop() })
	p := rg.region.Provisioner()
	f.Add(uint8(0), false, []byte(""))
	f.Add(uint8(0), false, []byte("{}"))
	f.Add(uint8(1), false, []byte(`{"certificateSigningRequest":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"}`))
	f.Add(uint8(2), false, []byte(`{"certificateOwnershipToken":"x","parameters":{"SerialNumber":"1"}}`))
	f.Add(uint8(2), true, []byte{0xa1, 0x78, 0x19, 'c', 'e', 'r', 't', 'i', 'f', 'i', 'c', 'a', 't', 'e', 'O', 'w', 'n', 'e', 'r', 's', 'h', 'i', 'p', 'T', 'o', 'k', 'e', 'n', 0x61, 'x'})
	f.Add(uint8(1), true, []byte{0xbf, 0xff})
	f.Add(uint8(2), false, []byte(`{"parameters":[1,2]}`))
	f.Fuzz(func(t *testing.T, op uint8, cbor bool, payload []byte) {
		format := provisioning.FormatJSON
		if cbor {
			format = provisioning.FormatCBOR
		}
		topic := []provisioning.Topic{
			provisioning.CreateKeysTopic(format),
			provisioning.CreateFromCSRTopic(format),
			provisioning.RegisterThingTopic(templateName, format),
		}[int(op)%3]
		out, reply := p.Handle(t.Context(), topic, payload, "fuzz")
		switch out {
		case provisioning.Accepted:
			var v map[string]any
			if err := provisioning.Unmarshal(format, reply, &v); err != nil || len(v) == 0 {
				t.Fatalf("accepted reply does not decode: %v", err)
			}
		case provisioning.Rejected:
			var e provisioning.ErrorResponse
			if err := provisioning.Unmarshal(format, reply, &e); err != nil {
				t.Fatalf("rejected reply does not decode: %v", err)
			}
			if e.StatusCode < 400 || e.ErrorCode == "" || e.ErrorMessage == "" {
				t.Fatalf("rejected reply incomplete: %+v", e)
			}
		default:
			t.Fatalf("outcome %q", out)
		}
	})
}
