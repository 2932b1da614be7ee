package provisioning

import (
	"errors"
	"fmt"

	"go.uber.org/zap/zapcore"
)

// CreateKeysAndCertificateResponse is the accepted reply of CreateKeysAndCertificate.
// PrivateKey is the only copy of the key there will ever be.
type CreateKeysAndCertificateResponse struct {
	CertificateID             string `json:"certificateId" cbor:"certificateId"`
	CertificatePEM            string `json:"certificatePem" cbor:"certificatePem"`
	PrivateKey                string `json:"privateKey" cbor:"privateKey"`
	CertificateOwnershipToken string `json:"certificateOwnershipToken" cbor:"certificateOwnershipToken"`
}

// String keeps the key and the token out of logs that print the value.
func (r CreateKeysAndCertificateResponse) String() string {
	return fmt.Sprintf("CreateKeysAndCertificate accepted: certificate %s", r.CertificateID)
}

// CreateCertificateFromCSRRequest is the request of CreateCertificateFromCsr.
type CreateCertificateFromCSRRequest struct {
	CertificateSigningRequest string `json:"certificateSigningRequest" cbor:"certificateSigningRequest"`
}

// CreateCertificateFromCSRResponse is the accepted reply of CreateCertificateFromCsr.
type CreateCertificateFromCSRResponse struct {
	CertificateID             string `json:"certificateId" cbor:"certificateId"`
	CertificatePEM            string `json:"certificatePem" cbor:"certificatePem"`
	CertificateOwnershipToken string `json:"certificateOwnershipToken" cbor:"certificateOwnershipToken"`
}

func (r CreateCertificateFromCSRResponse) String() string {
	return fmt.Sprintf("CreateCertificateFromCsr accepted: certificate %s", r.CertificateID)
}

// RegisterThingRequest is the request of RegisterThing. The template name travels
// in the topic only.
type RegisterThingRequest struct {
	CertificateOwnershipToken string            `json:"certificateOwnershipToken" cbor:"certificateOwnershipToken"`
	Parameters                map[string]string `json:"parameters,omitempty" cbor:"parameters,omitempty"`
}

func (r RegisterThingRequest) String() string {
	return fmt.Sprintf("RegisterThing request: %d parameters", len(r.Parameters))
}

// RegisterThingResponse is the accepted reply of RegisterThing. DeviceConfiguration is
// the template's section after evaluation; SDKs model it as strings, but a template may
// hold other JSON values, so they are kept as they came.
type RegisterThingResponse struct {
	ThingName           string         `json:"thingName" cbor:"thingName"`
	DeviceConfiguration map[string]any `json:"deviceConfiguration,omitempty" cbor:"deviceConfiguration,omitempty"`
}

// ErrorResponse is the rejected reply, the same shape for all three operations.
type ErrorResponse struct {
	StatusCode   int    `json:"statusCode" cbor:"statusCode"`
	ErrorCode    string `json:"errorCode" cbor:"errorCode"`
	ErrorMessage string `json:"errorMessage" cbor:"errorMessage"`
}

// Error codes the service is known to send, and the ones the mock sends where AWS
// documents none (PROTOCOL.md §1.5).
const (
	CodeInvalidOwnershipToken = "InvalidCertificateOwnershipToken"
	CodeInvalidPayload        = "InvalidPayload"
	CodeInvalidCSR            = "InvalidCertificateSigningRequest"
	CodeTemplateNotFound      = "ResourceNotFoundException"
	CodeInvalidParameters     = "InvalidParameters"
	CodeThrottling            = "ThrottlingException"
	CodeAccessDenied          = "AccessDenied"
	CodeInternal              = "InternalFailure"
)

// RejectedError is a rejected reply as a Go error. Callers decide with errors.As.
type RejectedError struct {
	Op Operation
	ErrorResponse
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("%s rejected: %d %s: %s", e.Op, e.StatusCode, e.ErrorCode, e.ErrorMessage)
}

// Throttled reports whether the service asked the device to slow down.
func (e *RejectedError) Throttled() bool {
	return e.StatusCode == 429 || e.ErrorCode == CodeThrottling
}

// TokenRejected reports whether the ownership token was refused: empty, unknown,
// expired or already used. The device needs new credentials.
func (e *RejectedError) TokenRejected() bool {
	return e.ErrorCode == CodeInvalidOwnershipToken
}

// AsRejected unwraps a RejectedError from err.
func AsRejected(err error) (*RejectedError, bool) {
	var r *RejectedError
	ok := errors.As(err, &r)
	return r, ok
}

// GoString keeps %#v from printing the key and the token field by field.
func (r CreateKeysAndCertificateResponse) GoString() string { return r.String() }

// GoString keeps %#v from printing the token.
func (r CreateCertificateFromCSRResponse) GoString() string { return r.String() }

// GoString keeps %#v from printing the token.
func (r RegisterThingRequest) GoString() string { return r.String() }

// MarshalLogObject gives zap the public fields only (zap.Object, and zap.Any, which
// prefers this to reflection).
func (r CreateKeysAndCertificateResponse) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("certificate_id", r.CertificateID)
	enc.AddBool("has_private_key", r.PrivateKey != "")
	enc.AddBool("has_token", r.CertificateOwnershipToken != "")
	return nil
}

// MarshalLogObject gives zap the public fields only.
func (r CreateCertificateFromCSRResponse) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("certificate_id", r.CertificateID)
	enc.AddBool("has_token", r.CertificateOwnershipToken != "")
	return nil
}

// MarshalLogObject gives zap the parameter names, not the token.
func (r RegisterThingRequest) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddBool("has_token", r.CertificateOwnershipToken != "")
	enc.AddInt("parameters", len(r.Parameters))
	return nil
}
