package policy

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformedPolicy means the document is not a valid AWS IoT policy (the service
	// answers MalformedPolicyException). Every error Parse returns matches it.
	ErrMalformedPolicy = errors.New("malformed policy")
	// ErrTooLarge means the document exceeds MaxDocumentChars characters excluding
	// whitespace, or MaxRawBytes bytes in all.
	ErrTooLarge = errors.New("policy document too large")
)

// ParseError says what is wrong with a policy document and where. Callers that only
// need the category use errors.Is(err, ErrMalformedPolicy) or errors.Is(err,
// ErrTooLarge).
type ParseError struct {
	// Statement is the zero-based index of the statement at fault, or -1 for a problem
	// outside any statement. A Statement given as one object has index 0.
	Statement int
	// Field is the JSON path of the offending element, e.g. "Statement[1].Resource[0]";
	// empty for the document as a whole.
	Field string
	// Reason is a human-readable description.
	Reason string

	kind error // ErrMalformedPolicy or ErrTooLarge
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%v: %s", e.kind, e.Reason)
	}
	return fmt.Sprintf("%v: %s: %s", e.kind, e.Field, e.Reason)
}

// Unwrap returns the category: ErrMalformedPolicy or ErrTooLarge.
func (e *ParseError) Unwrap() error { return e.kind }

// Is makes every ParseError, a too-large one included, match ErrMalformedPolicy.
func (e *ParseError) Is(target error) bool { return target == ErrMalformedPolicy }

func malformed(stmt int, field, format string, args ...any) *ParseError {
	return &ParseError{Statement: stmt, Field: field, Reason: fmt.Sprintf(format, args...), kind: ErrMalformedPolicy}
}

func tooLarge(format string, args ...any) *ParseError {
	return &ParseError{Statement: -1, Reason: fmt.Sprintf(format, args...), kind: ErrTooLarge}
}
