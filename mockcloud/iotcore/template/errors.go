package template

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidTemplate means a template body was rejected by Parse.
	ErrInvalidTemplate = errors.New("invalid provisioning template")
	// ErrBodyTooLong means a template body is longer than the limit (MaxBodyLength).
	ErrBodyTooLong = errors.New("provisioning template body too long")
	// ErrEvaluation means a valid template could not be resolved with the given
	// parameters (an index out of range, a missing mapping key, a wrong value type).
	ErrEvaluation = errors.New("provisioning template evaluation failed")
	// ErrMissingParameter means a parameter without a default was not supplied.
	// The error carrying it is a *MissingParameterError.
	ErrMissingParameter = errors.New("missing provisioning template parameter")
)

// Error is a Parse or Evaluate failure at one place in the template. It unwraps to
// ErrInvalidTemplate (from Parse) or ErrEvaluation (from Evaluate).
type Error struct {
	// Path locates the offending value, e.g. "Resources.thing.Properties.ThingName"
	// or "DeviceConfiguration.url.Fn::Join[1][0]". Empty for whole-body problems.
	Path string
	// Function is the innermost intrinsic function involved ("Fn::Join"), if any.
	Function string
	// Reason says what is wrong. It names parameters and functions; the only values
	// it may quote are mapping names and keys (which can come from a parameter),
	// never certificate material or policy text.
	Reason string

	kind error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Function != "" {
		b.WriteString(e.Function)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrInvalidTemplate or ErrEvaluation.
func (e *Error) Unwrap() error { return e.kind }

// MissingParameterError reports parameters that have neither a value nor a default.
// For JITP it means the device certificate lacks a subject field the template declares.
type MissingParameterError struct {
	// Name is the first missing parameter in sorted order.
	Name string
	// Names lists every missing parameter known at the time, sorted.
	Names []string
	// Path is where an undeclared built-in parameter was referenced; empty when the
	// missing parameter is declared in the Parameters section.
	Path string
}

func (e *MissingParameterError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if len(e.Names) > 1 {
		b.WriteString("missing parameters ")
		for i, n := range e.Names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", n)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "missing parameter %q", e.Name)
	return b.String()
}

// Is makes errors.Is(err, ErrMissingParameter) true.
func (e *MissingParameterError) Is(target error) bool { return target == ErrMissingParameter }

func parseErr(path, fn, format string, args ...any) *Error {
	return &Error{Path: path, Function: fn, Reason: fmt.Sprintf(format, args...), kind: ErrInvalidTemplate}
}

func evalErr(path, fn, format string, args ...any) *Error {
	return &Error{Path: path, Function: fn, Reason: fmt.Sprintf(format, args...), kind: ErrEvaluation}
}
