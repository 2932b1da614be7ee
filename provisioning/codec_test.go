package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const (
	secretKey   = "-----BEGIN PRIVATE KEY-----\nSECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----\n"
	secretToken = "SECRET-OWNERSHIP-TOKEN"
)

// wireMessages are one value of every message type; ptr returns a fresh zero value
// of the same type to decode into.
func wireMessages() []struct {
	name string
	v    any
	ptr  func() any
} {
	return []struct {
		name string
		v    any
		ptr  func() any
	}{
		{"CreateKeysAndCertificateResponse", &CreateKeysAndCertificateResponse{
			CertificateID: strings.Repeat("ab", 32), CertificatePEM: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
			PrivateKey: secretKey, CertificateOwnershipToken: secretToken,
		}, func() any { return new(CreateKeysAndCertificateResponse) }},
		{"CreateCertificateFromCSRRequest", &CreateCertificateFromCSRRequest{
			CertificateSigningRequest: "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n",
		}, func() any { return new(CreateCertificateFromCSRRequest) }},
		{"CreateCertificateFromCSRResponse", &CreateCertificateFromCSRResponse{
			CertificateID: strings.Repeat("cd", 32), CertificatePEM: "pem", CertificateOwnershipToken: secretToken,
		}, func() any { return new(CreateCertificateFromCSRResponse) }},
		{"RegisterThingRequest", &RegisterThingRequest{
			CertificateOwnershipToken: secretToken, Parameters: map[string]string{"SerialNumber": "GW-000123", "Site": "fra1"},
		}, func() any { return new(RegisterThingRequest) }},
		{"RegisterThingRequestNoParameters", &RegisterThingRequest{CertificateOwnershipToken: secretToken},
			func() any { return new(RegisterThingRequest) }},
		{"RegisterThingResponse", &RegisterThingResponse{
			ThingName: "gw-GW-000123",
			DeviceConfiguration: map[string]any{
				"mqttHost": "iot.example.com", "enabled": true,
				"nested": map[string]any{"region": "eu-central-1", "list": []any{"a", "b"}},
			},
		}, func() any { return new(RegisterThingResponse) }},
		{"RegisterThingResponseNoConfiguration", &RegisterThingResponse{ThingName: "gw-1"},
			func() any { return new(RegisterThingResponse) }},
		{"ErrorResponse", &ErrorResponse{StatusCode: 400, ErrorCode: CodeInvalidOwnershipToken, ErrorMessage: "Certificate ownership token cannot be empty."},
			func() any { return new(ErrorResponse) }},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatCBOR} {
		for _, m := range wireMessages() {
			t.Run(string(f)+"/"+m.name, func(t *testing.T) {
				data, err := Marshal(f, m.v)
				if err != nil {
					t.Fatal(err)
				}
				got := m.ptr()
				if err := Unmarshal(f, data, got); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, m.v) {
					t.Errorf("round trip:\n got %#v\nwant %#v", got, m.v)
				}
			})
		}
	}
}

// TestCodecFieldNames pins the wire names: CBOR uses the JSON names as text keys.
func TestCodecFieldNames(t *testing.T) {
	req := RegisterThingRequest{CertificateOwnershipToken: "tok", Parameters: map[string]string{"k": "v"}}
	j, err := Marshal(FormatJSON, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"certificateOwnershipToken":"tok","parameters":{"k":"v"}}`; string(j) != want {
		t.Errorf("json = %s, want %s", j, want)
	}
	c, err := Marshal(FormatCBOR, req)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := Unmarshal(FormatCBOR, c, &generic); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"certificateOwnershipToken": "tok", "parameters": map[string]any{"k": "v"}}
	if !reflect.DeepEqual(generic, want) {
		t.Errorf("cbor map = %v, want %v", generic, want)
	}
	// No parameters: the key is left out rather than sent as null.
	j, _ = Marshal(FormatJSON, RegisterThingRequest{CertificateOwnershipToken: "tok"})
	if bytes.Contains(j, []byte("parameters")) {
		t.Errorf("json without parameters = %s", j)
	}
}

func TestUnmarshalIgnoresUnknownFields(t *testing.T) {
	body := map[string]any{
		"certificateOwnershipToken": "tok",
		"parameters":                map[string]any{"SerialNumber": "1"},
		"templateName":              "GatewayTemplate", // the v1 SDK sends it
		"somethingNew":              []any{1, 2},
	}
	want := RegisterThingRequest{CertificateOwnershipToken: "tok", Parameters: map[string]string{"SerialNumber": "1"}}
	for _, f := range []Format{FormatJSON, FormatCBOR} {
		data, err := Marshal(f, body)
		if err != nil {
			t.Fatal(err)
		}
		var got RegisterThingRequest
		if err := Unmarshal(f, data, &got); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", f, got, want)
		}
	}
}

func TestUnmarshalEmptyCreateKeysPayloads(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		data []byte
	}{
		{"json empty", FormatJSON, nil},
		{"json whitespace", FormatJSON, []byte(" \r\n\t")},
		{"json {}", FormatJSON, []byte("{}")},
		{"json { } padded", FormatJSON, []byte(" { }\n")},
		{"cbor empty", FormatCBOR, nil},
		{"cbor empty map", FormatCBOR, []byte{0xa0}},
		{"cbor indefinite empty map", FormatCBOR, []byte{0xbf, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s struct{}
			if err := Unmarshal(tt.f, tt.data, &s); err != nil {
				t.Errorf("into struct: %v", err)
			}
			var m map[string]any
			if err := Unmarshal(tt.f, tt.data, &m); err != nil || len(m) != 0 {
				t.Errorf("into map: %v, %v", m, err)
			}
		})
	}
}

func TestCreateKeysPayload(t *testing.T) {
	if got := CreateKeysPayload(FormatJSON); string(got) != "{}" {
		t.Errorf("json payload = %q, want {}", got)
	}
	if got := CreateKeysPayload(FormatCBOR); len(got) != 0 {
		t.Errorf("cbor payload = %x, want empty", got)
	}
	for _, f := range []Format{FormatJSON, FormatCBOR} {
		var m map[string]any
		if err := Unmarshal(f, CreateKeysPayload(f), &m); err != nil {
			t.Errorf("%s: own payload does not decode: %v", f, err)
		}
	}
}

func TestUnmarshalTooLarge(t *testing.T) {
	// Valid JSON of exactly MaxPayload bytes passes; one byte more does not.
	atLimit := append([]byte("{}"), bytes.Repeat([]byte(" "), MaxPayload-2)...)
	var v map[string]any
	if err := Unmarshal(FormatJSON, atLimit, &v); err != nil {
		t.Errorf("payload of exactly %d bytes: %v", MaxPayload, err)
	}
	over := append(atLimit, ' ')
	for _, f := range []Format{FormatJSON, FormatCBOR} {
		err := Unmarshal(f, over, &v)
		if !errors.Is(err, ErrPayloadTooLarge) {
			t.Errorf("%s: %d bytes: err = %v, want ErrPayloadTooLarge", f, len(over), err)
		}
		err = DecodeReply(CreateKeysTopic(f), Accepted, over, &CreateKeysAndCertificateResponse{})
		if !errors.Is(err, ErrPayloadTooLarge) {
			t.Errorf("%s: DecodeReply: err = %v, want ErrPayloadTooLarge", f, err)
		}
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	cborStatusString, err := Marshal(FormatCBOR, map[string]any{"statusCode": "400", "errorCode": "X"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		f        Format
		data     []byte
		mentions string // the error must name what is wrong
	}{
		{"json statusCode as string", FormatJSON, []byte(`{"statusCode":"400","errorCode":"X","errorMessage":"m"}`), "statusCode"},
		{"cbor statusCode as string", FormatCBOR, cborStatusString, "statusCode"},
		{"json truncated", FormatJSON, []byte(`{"statusCode":4`), "json"},
		{"json stray brace", FormatJSON, []byte(`{}}`), "after the top-level value"},
		{"json two values", FormatJSON, []byte(`{} {}`), "after the top-level value"},
		{"json vertical tab only", FormatJSON, []byte("\v"), "json"},
		{"json array", FormatJSON, []byte(`[1]`), "json"},
		{"cbor trailing item", FormatCBOR, []byte{0xa0, 0xa0}, "cbor"},
		{"cbor lone 0x20 is -1, not whitespace", FormatCBOR, []byte{0x20}, "cbor"},
		{"cbor truncated map", FormatCBOR, []byte{0xa1, 0x61}, "cbor"},
		{"cbor duplicate key", FormatCBOR, []byte{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02}, "cbor"},
		{"unknown format", Format("xml"), []byte("<a/>"), "xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e ErrorResponse
			err := Unmarshal(tt.f, tt.data, &e)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", e)
			}
			if !strings.Contains(err.Error(), tt.mentions) {
				t.Errorf("error %q does not mention %q", err, tt.mentions)
			}
			// Through DecodeReply a malformed rejected reply is not a RejectedError.
			if tt.f != "xml" {
				err := DecodeReply(CreateKeysTopic(tt.f), Rejected, tt.data, nil)
				if _, ok := AsRejected(err); ok || err == nil {
					t.Errorf("DecodeReply = %v, want a decoding error", err)
				}
			}
		})
	}
}

func TestDecodeReply(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatCBOR} {
		topic := RegisterThingTopic("tmpl", f)
		rej, _ := Marshal(f, ErrorResponse{StatusCode: 429, ErrorCode: CodeThrottling, ErrorMessage: "slow down"})
		err := DecodeReply(topic, Rejected, rej, &RegisterThingResponse{})
		wrapped := fmt.Errorf("register: %w", err)
		r, ok := AsRejected(wrapped)
		if !ok {
			t.Fatalf("%s: %v is not a RejectedError", f, err)
		}
		if r.Op != OpRegisterThing || r.StatusCode != 429 || r.ErrorCode != CodeThrottling || r.ErrorMessage != "slow down" {
			t.Errorf("%s: %+v", f, r)
		}
		if !r.Throttled() || r.TokenRejected() {
			t.Errorf("%s: Throttled=%v TokenRejected=%v", f, r.Throttled(), r.TokenRejected())
		}
		if want := "RegisterThing rejected: 429 ThrottlingException: slow down"; r.Error() != want {
			t.Errorf("Error() = %q, want %q", r.Error(), want)
		}

		acc, _ := Marshal(f, RegisterThingResponse{ThingName: "gw-1"})
		var resp RegisterThingResponse
		if err := DecodeReply(topic, Accepted, acc, &resp); err != nil || resp.ThingName != "gw-1" {
			t.Errorf("%s: accepted: %+v, %v", f, resp, err)
		}
		if err := DecodeReply(topic, Outcome("maybe"), acc, &resp); err == nil {
			t.Errorf("%s: unknown outcome: want an error", f)
		}
	}
	tok := &RejectedError{ErrorResponse: ErrorResponse{StatusCode: 400, ErrorCode: CodeInvalidOwnershipToken}}
	if !tok.TokenRejected() || tok.Throttled() {
		t.Errorf("token rejection: TokenRejected=%v Throttled=%v", tok.TokenRejected(), tok.Throttled())
	}
	if _, ok := AsRejected(errors.New("other")); ok {
		t.Error("AsRejected of a plain error: ok")
	}
}

// TestSecretsStayOutOfLogs prints secret-bearing messages every way a log line
// might, and looks for the secrets.
func TestSecretsStayOutOfLogs(t *testing.T) {
	values := []any{
		CreateKeysAndCertificateResponse{CertificateID: "id", PrivateKey: secretKey, CertificateOwnershipToken: secretToken},
		&CreateKeysAndCertificateResponse{CertificateID: "id", PrivateKey: secretKey, CertificateOwnershipToken: secretToken},
		CreateCertificateFromCSRResponse{CertificateID: "id", CertificateOwnershipToken: secretToken},
		&CreateCertificateFromCSRResponse{CertificateID: "id", CertificateOwnershipToken: secretToken},
		RegisterThingRequest{CertificateOwnershipToken: secretToken},
		&RegisterThingRequest{CertificateOwnershipToken: secretToken},
	}
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel))
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, "SECRET") {
				t.Errorf("%T printed with %s: %s", v, verb, s)
			}
		}
		log.Info("msg", zap.Any("any", v))
		if om, ok := v.(zapcore.ObjectMarshaler); ok {
			log.Info("msg", zap.Object("object", om))
		}
	}
	if err := log.Sync(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "SECRET") {
		t.Errorf("zap output holds a secret:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), `"certificate_id":"id"`) {
		t.Errorf("zap output lacks the public fields:\n%s", buf.String())
	}
	// The wire encoding must of course still carry them.
	j, _ := json.Marshal(values[0])
	if !strings.Contains(string(j), secretToken) {
		t.Error("json encoding lost the token")
	}
}
