package iotcore_test

import (
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
)

// A RegisterThing repeated with its used token: refused by default; with
// RegisterThingReplay the same request gets the same answer (a device whose reply
// was lost goes on with its one certificate) and any other request is refused.
func TestRegisterThingReplay(t *testing.T) {
	for _, replay := range []bool{false, true} {
		name := "refuse"
		if replay {
			name = "replay"
		}
		t.Run(name, func(t *testing.T) {
			rg := newRig(t, func(c *iotcore.Config) { c.RegisterThingReplay = replay })
			p := rg.region.Provisioner()
			f := provisioning.FormatJSON
			created := createFromCSR(t, p)
			register := func(serial string) (provisioning.Outcome, []byte) {
				return p.Handle(t.Context(), provisioning.RegisterThingTopic(templateName, f), marshal(t, f, provisioning.RegisterThingRequest{
					CertificateOwnershipToken: created.CertificateOwnershipToken, Parameters: map[string]string{"SerialNumber": serial},
				}), "c")
			}
			out, reply := register("R-1")
			var first provisioning.RegisterThingResponse
			unmarshal(t, f, reply, &first)
			if out != provisioning.Accepted || first.ThingName == "" {
				t.Fatalf("RegisterThing: %s %s", out, reply)
			}

			out, reply = register("R-1")
			if !replay {
				checkRejected(t, f, out, reply, 400, provisioning.CodeInvalidOwnershipToken)
			} else {
				var again provisioning.RegisterThingResponse
				unmarshal(t, f, reply, &again)
				if out != provisioning.Accepted || again.ThingName != first.ThingName {
					t.Fatalf("repeated RegisterThing: %s %s, want %q again", out, reply, first.ThingName)
				}
			}
			// Another request with the used token is refused either way.
			out, reply = register("R-2")
			checkRejected(t, f, out, reply, 400, provisioning.CodeInvalidOwnershipToken)
			principals, err := rg.reg.PrincipalsForThing(first.ThingName)
			if err != nil || len(principals) != 1 {
				t.Fatalf("thing %s principals %v, %v: want the one certificate", first.ThingName, principals, err)
			}
			if _, err := rg.reg.GetThing("R-2"); err == nil {
				t.Fatal("a refused request created a thing")
			}

			// Once the token expires it is refused, and the ACTIVE certificate stays.
			rg.clock.Advance(2 * time.Hour)
			out, reply = register("R-1")
			checkRejected(t, f, out, reply, 400, provisioning.CodeInvalidOwnershipToken)
			if c, err := rg.reg.GetCertificate(created.CertificateID); err != nil || c.Status != registry.StatusActive {
				t.Fatalf("certificate after token expiry: %+v, %v", c, err)
			}
		})
	}
}
