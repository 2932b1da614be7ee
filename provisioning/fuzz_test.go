package provisioning

import (
	"bytes"
	"errors"
	"testing"
)

// decodeTargets are the types a payload is decoded into, on either side of the wire.
func decodeTargets() []func() any {
	return []func() any{
		func() any { return new(CreateKeysAndCertificateResponse) },
		func() any { return new(CreateCertificateFromCSRRequest) },
		func() any { return new(CreateCertificateFromCSRResponse) },
		func() any { return new(RegisterThingRequest) },
		func() any { return new(RegisterThingResponse) },
		func() any { return new(ErrorResponse) },
		func() any { return new(map[string]any) },
	}
}

// fuzzCodec checks, for every target type: decoding never panics, oversize input is
// always ErrPayloadTooLarge, and whatever decodes re-encodes to a stable form
// (encode → decode → encode gives the same bytes).
func fuzzCodec(t *testing.T, f Format, data []byte) {
	for _, target := range decodeTargets() {
		v := target()
		err := Unmarshal(f, data, v)
		if len(data) > MaxPayload {
			if !errors.Is(err, ErrPayloadTooLarge) {
				t.Fatalf("%d bytes: err = %v, want ErrPayloadTooLarge", len(data), err)
			}
			continue
		}
		if err != nil {
			continue
		}
		enc1, err := Marshal(f, v)
		if err != nil {
			// A decoded value that cannot be encoded again (CBOR keeps some
			// values JSON cannot hold, never the other way round) is only
			// acceptable for the generic map.
			if _, generic := v.(*map[string]any); generic || f == FormatCBOR {
				continue
			}
			t.Fatalf("%T decoded from %q does not encode: %v", v, data, err)
		}
		w := target()
		if err := Unmarshal(f, enc1, w); err != nil {
			t.Fatalf("%T: own encoding %q does not decode: %v", v, enc1, err)
		}
		enc2, err := Marshal(f, w)
		if err != nil {
			t.Fatalf("%T: second encoding: %v", w, err)
		}
		if !bytes.Equal(enc1, enc2) {
			t.Fatalf("%T: encoding not stable:\n%q\n%q", v, enc1, enc2)
		}
	}
}

func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		"", "{}", " \n", "null",
		`{"certificateId":"ab","certificatePem":"pem","privateKey":"key","certificateOwnershipToken":"tok"}`,
		`{"certificateSigningRequest":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"}`,
		`{"certificateOwnershipToken":"tok","parameters":{"SerialNumber":"GW-1"},"templateName":"t"}`,
		`{"thingName":"gw-1","deviceConfiguration":{"a":"b","n":1.5,"l":[true,null,{"x":"y"}]}}`,
		`{"statusCode":400,"errorCode":"InvalidCertificateOwnershipToken","errorMessage":"Certificate ownership token cannot be empty."}`,
		`{"statusCode":"400"}`, `{}}`, `[1,2]`, `{"parameters":{"a":1}}`, "\"\\ud800\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCodec(t, FormatJSON, data) })
}

func FuzzUnmarshalCBOR(f *testing.F) {
	for _, m := range wireMessages() {
		data, err := Marshal(FormatCBOR, m.v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, b := range [][]byte{
		nil, {0xa0}, {0xbf, 0xff}, {0x20}, {0xa0, 0xa0}, {0xa1, 0x61},
		{0xa1, 0x6a, 's', 't', 'a', 't', 'u', 's', 'C', 'o', 'd', 'e', 0x63, '4', '0', '0'}, // statusCode: "400"
		{0xa1, 0x63, 'a', 'b', 'c', 0xf9, 0x7e, 0x00},                                       // {"abc": NaN}
		{0xc1, 0x1a, 0x00, 0x00, 0x00, 0x00},                                                // tag 1 (epoch time)
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzCodec(t, FormatCBOR, data) })
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"$aws/certificates/create/json", "$aws/certificates/create/cbor/accepted",
		"$aws/certificates/create-from-csr/json/rejected",
		"$aws/provisioning-templates/GatewayTemplate/provision/json/accepted",
		"$aws/provisioning-templates/a b/provision/json", "$aws/certificates/create/json/",
		"", "/", "accepted", "$aws/things/x/shadow/update/accepted",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, o, ok := ParseTopic(s)
		if !ok {
			if tp != (Topic{}) || o != "" {
				t.Fatalf("not ok but returned %+v, %q", tp, o)
			}
			return
		}
		// A recognised topic is exactly the one its parts name.
		want := tp.Request()
		if o != "" {
			want = tp.Reply(o)
		}
		if want != s {
			t.Fatalf("ParseTopic(%q) = %+v, %q; that names %q", s, tp, o, want)
		}
		if tp.Op == OpRegisterThing && ValidTemplateName(tp.Template) != nil {
			t.Fatalf("invalid template %q accepted", tp.Template)
		}
		if tp.Op != OpRegisterThing && tp.Template != "" {
			t.Fatalf("template %q on %s", tp.Template, tp.Op)
		}
	})
}
