//go:build !notpm

package tpm

import (
	"encoding/binary"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// Warnings after which the TPM expects the same command again (TPM 2.0 Part 2,
// 6.6.3): TPM_RC_YIELDED, TPM_RC_TESTING (a self-test of the algorithm is
// running) and TPM_RC_RETRY. swtpm answers an ECDSA or RSA signature with
// TPM_RC_RETRY now and then; tpm2-tss and the kernel resend too.
const (
	rcYielded = 0x908
	rcTesting = 0x90a
	rcRetry   = 0x922
)

// retryBudget bounds the resends of one command; backoff doubles from 1 ms.
const retryBudget = 20 * time.Second

type retryTPM struct {
	transport.TPM
	sleep func(time.Duration)
}

// Send resends the command while the TPM asks for it. Commands here use
// password sessions only, so a resend is the same command.
func (r retryTPM) Send(cmd []byte) ([]byte, error) {
	wait, spent := time.Millisecond, time.Duration(0)
	for {
		rsp, err := r.TPM.Send(cmd)
		if err != nil || len(rsp) < tpmHeaderSize || spent >= retryBudget {
			return rsp, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case rcYielded, rcTesting, rcRetry:
		default:
			return rsp, nil
		}
		r.sleep(wait)
		spent += wait
		wait = min(2*wait, time.Second)
	}
}
