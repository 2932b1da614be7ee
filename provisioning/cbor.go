//go:build !nocbor

package provisioning

import (
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// CBORSupported says whether this build can speak the CBOR topics. Devices that
// never use them can drop the codec (about 380 KiB of an arm64 binary) with the
// build tag nocbor.
const CBORSupported = true

var (
	cborEnc cbor.EncMode
	cborDec cbor.DecMode
)

func init() {
	var err error
	// Nested maps must decode to map[string]any so that a CBOR deviceConfiguration
	// looks the same as a JSON one to the rest of the program.
	cborDec, err = cbor.DecOptions{
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		MaxNestedLevels:  16,
		MaxArrayElements: 4096,
		MaxMapPairs:      4096,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthAllowed,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	cborEnc, err = cbor.EncOptions{Sort: cbor.SortCanonical}.EncMode()
	if err != nil {
		panic(err)
	}
}

func cborMarshal(v any) ([]byte, error) { return cborEnc.Marshal(v) }

func cborUnmarshal(data []byte, v any) error { return cborDec.Unmarshal(data, v) }
