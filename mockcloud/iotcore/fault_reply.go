package iotcore

import (
	"fmt"
	"time"

	"github.com/fleetboot/fleetboot/provisioning"
	mqtt "github.com/mochi-mqtt/server/v2"
	"go.uber.org/zap"
)

// throttledReply is the rejected payload of a throttled request. AWS names the
// error ThrottlingException; the message is that of AWS's throttling errors.
func throttledReply(f provisioning.Format, status int) []byte {
	out, err := provisioning.Marshal(f, provisioning.ErrorResponse{
		StatusCode: status, ErrorCode: provisioning.CodeThrottling, ErrorMessage: "Rate exceeded.",
	})
	if err != nil { // three plain fields cannot fail to encode; keep the reply well-formed anyway
		return []byte(fmt.Sprintf(`{"statusCode":%d,"errorCode":"ThrottlingException","errorMessage":"Rate exceeded."}`, status))
	}
	return out
}

// replyWithFaults sends a provisioning reply as the plan says: not at all, after a
// delay, twice, or instead closes the connection.
func (r *Region) replyWithFaults(cl *mqtt.Client, p principal, t provisioning.Topic, outcome provisioning.Outcome, reply []byte, plan replyPlan) {
	topic := t.Reply(outcome)
	log := r.log.With(zap.String("client_id", p.clientID), zap.String("topic", topic))
	switch {
	case plan.drop:
		log.Info("fault: request applied, connection closed instead of the reply")
		cl.Stop(fmt.Errorf("%w: connection closed after %s", errFault, t.Op))
		return
	case plan.lose:
		log.Info("fault: request applied, reply lost")
		return
	}
	if plan.delay > 0 {
		log.Info("fault: reply held back", zap.Duration("delay", plan.delay))
		timer := time.NewTimer(plan.delay)
		select {
		case <-timer.C:
		case <-plan.changed:
			timer.Stop()
		case <-r.ctx.Done():
			timer.Stop()
			return
		}
	}
	r.deliver(cl, p, topic, reply)
	if plan.duplicate {
		log.Info("fault: reply sent twice")
		r.deliver(cl, p, topic, reply)
	}
}
