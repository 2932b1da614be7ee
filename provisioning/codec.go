package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxPayload is AWS IoT's limit on a PUBLISH payload.
const MaxPayload = 128 * 1024

// Marshal encodes v in format f.
func Marshal(f Format, v any) ([]byte, error) {
	switch f {
	case FormatJSON:
		return json.Marshal(v)
	case FormatCBOR:
		return cborMarshal(v)
	}
	return nil, fmt.Errorf("marshal: unknown format %q", f)
}

// Unmarshal decodes a payload in format f into v. Unknown fields are ignored, as the
// service ignores them (the v1 SDK sends templateName in RegisterThing). An empty
// payload decodes to the zero value: that is what the docs say CreateKeysAndCertificate
// sends. For JSON, a payload of JSON whitespace only counts as empty too; for CBOR
// only zero bytes do, since 0x09, 0x0a, 0x0d and 0x20 are complete CBOR items.
func Unmarshal(f Format, data []byte, v any) error {
	if len(data) > MaxPayload {
		return fmt.Errorf("decode %s payload of %d bytes: %w", f, len(data), ErrPayloadTooLarge)
	}
	switch f {
	case FormatJSON:
		if len(bytes.Trim(data, jsonSpace)) == 0 {
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("decode json payload: %w", err)
		}
		// Decoder.More is not enough: it reports false for a stray '}' or ']'.
		if _, err := dec.Token(); err != io.EOF {
			return errors.New("decode json payload: data after the top-level value")
		}
		return nil
	case FormatCBOR:
		if len(data) == 0 {
			return nil
		}
		if err := cborUnmarshal(data, v); err != nil {
			return fmt.Errorf("decode cbor payload: %w", err)
		}
		return nil
	}
	return fmt.Errorf("decode: unknown format %q", f)
}

// jsonSpace is RFC 8259's whitespace; bytes.TrimSpace would also drop \v, \f and
// Unicode spaces, which JSON does not allow.
const jsonSpace = " \t\r\n"

// CreateKeysPayload is the request body of CreateKeysAndCertificate. The docs say
// the payload is empty; every AWS SDK (Python, C++ Device Client, JS, Java) sends the
// JSON text {} and the service accepts it, so JSON sends {}. No AWS client is known
// to send CBOR for this operation, so CBOR follows the docs and sends nothing: an
// empty CBOR map (0xA0) is not known to be accepted (PROTOCOL.md §1.2).
func CreateKeysPayload(f Format) []byte {
	if f == FormatJSON {
		return []byte("{}")
	}
	return nil
}

// DecodeReply decodes a reply published on t's accepted or rejected topic. For a
// rejected reply it returns a *RejectedError; accepted decodes into v.
func DecodeReply(t Topic, o Outcome, payload []byte, v any) error {
	switch o {
	case Accepted:
		if err := Unmarshal(t.Format, payload, v); err != nil {
			return fmt.Errorf("%s accepted reply: %w", t.Op, err)
		}
		return nil
	case Rejected:
		var e ErrorResponse
		if err := Unmarshal(t.Format, payload, &e); err != nil {
			return fmt.Errorf("%s rejected reply: %w", t.Op, err)
		}
		return &RejectedError{Op: t.Op, ErrorResponse: e}
	}
	return fmt.Errorf("%s reply: unknown outcome %q", t.Op, o)
}
