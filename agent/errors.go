package agent

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/fleetboot/fleetboot/provisioning"
)

// Class sorts failures by what the operator (or systemd) should do about them.
type Class string

const (
	// ClassConfig: the configuration or local files are wrong; retrying cannot help.
	ClassConfig Class = "config"
	// ClassRejected: the cloud refused a request; the cloud side needs fixing
	// (template, policy, parameters).
	ClassRejected Class = "rejected"
	// ClassThrottled: the cloud asked the fleet to slow down; retry later.
	ClassThrottled Class = "throttled"
	// ClassIdentity: the region does not accept the device's certificate.
	ClassIdentity Class = "identity"
	// ClassPolicy: the region accepted the identity (CONNACK came) and then closed
	// the connection over something the device policy denies: the status topic or
	// its retained Will. Not a refusal of the identity, so never a reason to
	// provision again; the policy can be fixed in the cloud while the device retries.
	ClassPolicy Class = "policy"
	// ClassTransient: network, DNS, a region down, a reply lost or late, a full
	// disk; retry.
	ClassTransient Class = "transient"
)

// Error carries a class and the step that failed. Callers decide with errors.As.
type Error struct {
	Class Class
	Step  string
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Hint says what to do about the failure, for the one log line an operator reads.
func (e *Error) Hint() string {
	switch e.Class {
	case ClassConfig:
		return "fix the configuration or the files it names; `fleetboot check` shows what is used"
	case ClassRejected:
		return "the cloud refused the request: check the provisioning template, its parameters and the claim policy"
	case ClassThrottled:
		return "the cloud is throttling: the agent backs off and retries"
	case ClassIdentity:
		return "the region does not accept this device's certificate: check it is ACTIVE, or reset the device to provision again"
	case ClassPolicy:
		return "the device policy denies the status topic or its retained Will: allow iot:Publish and iot:RetainPublish on it; the agent backs off and retries"
	default:
		return "network or DNS failure, or no reply from the cloud in time: the agent retries with backoff"
	}
}

// ClassOf returns the class of err; unclassified errors (a context's end among
// them) are transient.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassTransient
}

func classify(step string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	c := ClassTransient
	if r, ok := provisioning.AsRejected(err); ok {
		switch {
		case r.Throttled():
			c = ClassThrottled
		case r.StatusCode >= 500:
			c = ClassTransient
		default:
			c = ClassRejected
		}
	}
	var refused *provisioning.ConnectRefusedError
	if errors.As(err, &refused) && refused.NotAuthorized() {
		c = ClassIdentity
	}
	// AWS's answer to a CONNECT its policy denies (MQTT 3.1.1): TLS done, CONNECT
	// sent, connection closed without CONNACK. A TCP or DNS failure never gets here.
	var closed *provisioning.ConnectClosedError
	if errors.As(err, &closed) {
		c = ClassIdentity
	}
	if certificateRefused(err) {
		c = ClassIdentity
	}
	return &Error{Class: c, Step: step, Err: err}
}

func configErr(step string, err error) error {
	return &Error{Class: ClassConfig, Step: step, Err: err}
}

// storageErr classes a failed state or key write: a full disk or quota is
// transient (space can come back: logs rotate, a journal is vacuumed), anything
// else is the configuration's.
func storageErr(step string, err error) error {
	if diskFull(err) {
		return &Error{Class: ClassTransient, Step: step, Err: fmt.Errorf("disk full: %w", err)}
	}
	return configErr(step, err)
}

// diskFull reports ENOSPC or EDQUOT anywhere in err's chain.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// ErrNotProvisioned is returned by operations that need the permanent identity.
var ErrNotProvisioned = errors.New("device not provisioned")

// ErrNoReply means the cloud did not answer a request within provisioning.timeout:
// the request or its reply was lost, or the reply came too late. A transient
// failure; the next attempt uses a new connection.
var ErrNoReply = errors.New("no reply from the cloud")

// certificateRefused reports whether the server ended the TLS handshake with an alert
// about our certificate (bad_certificate, certificate_revoked, certificate_unknown…):
// the region does not accept this identity. Such alerts arrive as a net.OpError
// whose Op is "remote error".
func certificateRefused(err error) bool {
	_, ok := provisioning.CertificateAlert(err)
	return ok
}
