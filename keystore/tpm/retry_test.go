//go:build !notpm

package tpm

import (
	"encoding/binary"
	"testing"
	"time"
)

type scriptedTPM struct {
	codes []uint32 // response codes to answer with, in order; the last repeats
	sent  int
}

func (s *scriptedTPM) Send([]byte) ([]byte, error) {
	c := s.codes[min(s.sent, len(s.codes)-1)]
	s.sent++
	rsp := response(10, nil)
	binary.BigEndian.PutUint32(rsp[6:], c)
	return rsp, nil
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name     string
		codes    []uint32
		wantSent int
		wantRC   uint32
	}{
		{"success at once", []uint32{0}, 1, 0},
		{"retry, yielded, testing, then success", []uint32{rcRetry, rcYielded, rcTesting, 0}, 4, 0},
		{"an error is not retried", []uint32{0x98e /* TPM_RC_BAD_AUTH */, 0}, 1, 0x98e},
		{"gives up after the budget", []uint32{rcRetry}, 0, rcRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &scriptedTPM{codes: tt.codes}
			var slept time.Duration
			r := retryTPM{TPM: fake, sleep: func(d time.Duration) { slept += d }}
			rsp, err := r.Send(response(10, nil))
			if err != nil {
				t.Fatal(err)
			}
			if rc := binary.BigEndian.Uint32(rsp[6:]); rc != tt.wantRC {
				t.Fatalf("response code 0x%x, want 0x%x", rc, tt.wantRC)
			}
			if tt.wantSent > 0 && fake.sent != tt.wantSent {
				t.Fatalf("sent %d times, want %d", fake.sent, tt.wantSent)
			}
			if tt.wantSent == 0 && slept < retryBudget {
				t.Fatalf("gave up after %v of backoff, want %v", slept, retryBudget)
			}
		})
	}
}
