package controlplane

import "errors"

var (
	// ErrInvalidOptions means New was given options it cannot serve (no regions, a
	// duplicate or unnamed region, a region without registry, an unknown default).
	ErrInvalidOptions = errors.New("invalid control plane options")
	// ErrNotFound is what a mock hook wraps when it is asked about something it does
	// not know (a DNS set identifier, a region); the call then answers 404.
	ErrNotFound = errors.New("not found")
	// ErrInvalidArgument is what a mock hook wraps to refuse an argument; the call
	// then answers 400.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrRegionUnavailable means the region is down (Options.RegistryOf gave no
	// store, or its store is closed); the call answers 503 ServiceUnavailableException.
	ErrRegionUnavailable = errors.New("region unavailable")

	// errNoAuthorization means the request carries no SigV4 credential at all.
	errNoAuthorization = errors.New("no SigV4 credential")
	// errMalformedAuthorization means an Authorization header or X-Amz-Credential
	// that is not a SigV4 credential scope.
	errMalformedAuthorization = errors.New("malformed SigV4 credential")
	// errBadPageToken means a nextToken or marker this server did not hand out.
	errBadPageToken = errors.New("invalid pagination token")
)

// APIError is an AWS restJson1 error as the service sends it: the status code, the
// error type (x-amzn-ErrorType) and the message. The client in this package returns
// it for every non-2xx answer.
type APIError struct {
	StatusCode int
	Code       string // e.g. ResourceNotFoundException
	Message    string
}

func (e *APIError) Error() string {
	return e.Code + " (HTTP " + itoa(e.StatusCode) + "): " + e.Message
}

// Is lets callers test the category: errors.Is(err, ErrNotFound) holds for a
// ResourceNotFoundException.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == codeNotFound
	case ErrInvalidArgument:
		return e.Code == codeInvalidRequest
	case ErrRegionUnavailable:
		return e.Code == codeUnavailable
	}
	return false
}
