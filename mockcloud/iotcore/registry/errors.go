package registry

import "errors"

var (
	// ErrNotFound means the named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a create met a record of the same name or id.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means the record is in a state that forbids the change (e.g. deleting
	// an ACTIVE or attached certificate, a status outside the allowed set).
	ErrConflict = errors.New("conflict")
	// ErrInvalid means a malformed argument (bad PEM, bad name, unknown status).
	ErrInvalid = errors.New("invalid argument")
	// ErrTokenInvalid means an ownership token that is empty, unknown, used or expired.
	ErrTokenInvalid = errors.New("certificate ownership token invalid")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("registry closed")
)
