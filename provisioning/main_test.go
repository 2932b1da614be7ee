package provisioning

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: paho's workers, dial
// attempts and reply waiters must all stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
