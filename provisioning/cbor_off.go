//go:build nocbor

package provisioning

import "errors"

// CBORSupported says whether this build can speak the CBOR topics; see cbor.go.
const CBORSupported = false

// ErrNoCBOR is returned by every CBOR encode and decode in a build with the tag nocbor.
var ErrNoCBOR = errors.New("this build has no CBOR support (built with -tags nocbor); use the JSON topics")

func cborMarshal(any) ([]byte, error) { return nil, ErrNoCBOR }

func cborUnmarshal([]byte, any) error { return ErrNoCBOR }
