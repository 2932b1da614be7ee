package controlplane

import (
	"errors"
	"net/http"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/route53"
)

// Error types and their status codes as the AWS IoT model (botocore's iot
// service-2.json) declares them; the last four are not in the model but are what
// AWS's front door answers for bad signatures, unknown paths and wrong methods.
const (
	codeNotFound            = "ResourceNotFoundException"          // 404
	codeInvalidRequest      = "InvalidRequestException"            // 400
	codeAlreadyExists       = "ResourceAlreadyExistsException"     // 409
	codeCertificateState    = "CertificateStateException"          // 406
	codeConflict            = "ConflictingResourceUpdateException" // 409
	codeUnauthorized        = "UnauthorizedException"              // 401
	codeUnavailable         = "ServiceUnavailableException"        // 503
	codeInternal            = "InternalFailureException"           // 500
	codeNotImplemented      = "NotImplementedException"            // 501
	codeIncompleteSignature = "IncompleteSignatureException"       // 403
	codeInvalidSignature    = "InvalidSignatureException"          // 403
	codeUnknownOperation    = "UnknownOperationException"          // 404
	codeMethodNotAllowed    = "MethodNotAllowedException"          // 405
)

var statusOf = map[string]int{
	codeNotFound:            http.StatusNotFound,
	codeInvalidRequest:      http.StatusBadRequest,
	codeAlreadyExists:       http.StatusConflict,
	codeCertificateState:    http.StatusNotAcceptable,
	codeConflict:            http.StatusConflict,
	codeUnauthorized:        http.StatusUnauthorized,
	codeUnavailable:         http.StatusServiceUnavailable,
	codeInternal:            http.StatusInternalServerError,
	codeNotImplemented:      http.StatusNotImplemented,
	codeIncompleteSignature: http.StatusForbidden,
	codeInvalidSignature:    http.StatusForbidden,
	codeUnknownOperation:    http.StatusNotFound,
	codeMethodNotAllowed:    http.StatusMethodNotAllowed,
}

func apiErr(code, msg string) *APIError {
	st, ok := statusOf[code]
	if !ok {
		st = http.StatusInternalServerError
	}
	return &APIError{StatusCode: st, Code: code, Message: msg}
}

// toAPIError maps registry and hook errors to the AWS error a client would see.
// Registry messages are safe to show: they name records, never keys or tokens.
func toAPIError(err error) *APIError {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, ErrNotFound),
		errors.Is(err, route53.ErrUnknownSetIdentifier):
		return apiErr(codeNotFound, err.Error())
	case errors.Is(err, registry.ErrInvalid), errors.Is(err, ErrInvalidArgument):
		return apiErr(codeInvalidRequest, err.Error())
	case errors.Is(err, registry.ErrAlreadyExists):
		return apiErr(codeAlreadyExists, err.Error())
	case errors.Is(err, registry.ErrConflict):
		return apiErr(codeConflict, err.Error())
	case errors.Is(err, registry.ErrClosed), errors.Is(err, ErrRegionUnavailable):
		return apiErr(codeUnavailable, err.Error())
	}
	return apiErr(codeInternal, err.Error())
}
