package route53

import "errors"

var (
	// ErrInvalidConfig is the category of every Validate and New failure; the
	// wrapped *FieldError names the field.
	ErrInvalidConfig = errors.New("invalid route53 config")
	// ErrUnknownSetIdentifier means SetHealthy named a set identifier that no
	// record of the config carries.
	ErrUnknownSetIdentifier = errors.New("unknown set identifier")
	// ErrUnknownHealthCheck means a health check ID the server does not hold.
	ErrUnknownHealthCheck = errors.New("unknown health check")
	// ErrAlreadyStarted means Start was called on a running server.
	ErrAlreadyStarted = errors.New("route53 server already started")
	// ErrClosed means Start was called after Close.
	ErrClosed = errors.New("route53 server closed")
	// errMalformedECS marks an EDNS Client Subnet option that RFC 7871 says
	// to answer with FORMERR.
	errMalformedECS = errors.New("malformed EDNS Client Subnet option")
)

// FieldError is one problem of a Config, located by its YAML path such as
// "zones[0].records[3].geo.country". It matches ErrInvalidConfig with
// errors.Is.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Is makes every FieldError an ErrInvalidConfig.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidConfig }
