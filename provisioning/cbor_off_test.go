//go:build nocbor

package provisioning

import (
	"errors"
	"testing"
)

func TestNoCBORBuildRefusesCBOR(t *testing.T) {
	if _, err := Marshal(FormatCBOR, RegisterThingRequest{}); !errors.Is(err, ErrNoCBOR) {
		t.Fatalf("Marshal = %v, want ErrNoCBOR", err)
	}
	if err := Unmarshal(FormatCBOR, []byte{0xa0}, &RegisterThingResponse{}); !errors.Is(err, ErrNoCBOR) {
		t.Fatalf("Unmarshal = %v, want ErrNoCBOR", err)
	}
	var v RegisterThingResponse
	if err := Unmarshal(FormatJSON, []byte(`{"thingName":"a"}`), &v); err != nil || v.ThingName != "a" {
		t.Fatalf("JSON still works: %v %+v", err, v)
	}
}
