package agent_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/fleetboot/fleetboot/agent"
)

// ClassOf reads the class of an *Error anywhere in the chain; anything else,
// a context's end included, is transient.
func TestClassOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want agent.Class
	}{
		{"classified", &agent.Error{Class: agent.ClassRejected, Step: "register thing", Err: errors.New("no")}, agent.ClassRejected},
		{"wrapped", fmt.Errorf("boot: %w", &agent.Error{Class: agent.ClassIdentity, Step: "connect", Err: errors.New("no")}), agent.ClassIdentity},
		{"classified cancel", &agent.Error{Class: agent.ClassConfig, Step: "load", Err: context.Canceled}, agent.ClassConfig},
		{"canceled", context.Canceled, agent.ClassTransient},
		{"wrapped canceled", fmt.Errorf("resolve: %w", context.Canceled), agent.ClassTransient},
		{"deadline", context.DeadlineExceeded, agent.ClassTransient},
		{"plain", errors.New("connection reset"), agent.ClassTransient},
	} {
		if got := agent.ClassOf(tc.err); got != tc.want {
			t.Errorf("%s: ClassOf(%v) = %s, want %s", tc.name, tc.err, got, tc.want)
		}
	}
}
