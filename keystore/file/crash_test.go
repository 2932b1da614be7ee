package file

import (
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

var errPowerCut = errors.New("power cut")

// setup is a crash scenario: the identity before and after op.
type setup struct {
	old identity
	new identity
	op  func(ks *Keystore) error
}

func (s setup) run(ks *Keystore) error { return s.op(ks) }

// commitSteps records the fault-hook steps of the operation prepare returns.
func commitSteps[S interface{ run(*Keystore) error }](t *testing.T, prepare func(*testing.T, *Keystore) S) []string {
	t.Helper()
	ks := open(t, "")
	op := prepare(t, ks)
	var steps []string
	ks.gens.fault = func(s string) error { steps = append(steps, s); return nil }
	if err := op.run(ks); err != nil {
		t.Fatal(err)
	}
	if len(steps) < 5 {
		t.Fatalf("only %d commit steps recorded: %v", len(steps), steps)
	}
	return steps
}

// TestCrashAtEveryStep cuts power before each step of a commit (the commit
// stops with nothing cleaned up), reopens the folder as a reboot would, and
// checks that the keystore holds exactly the old identity or exactly the new
// one, a key with its own certificate, and that the next commit works.
func TestCrashAtEveryStep(t *testing.T) {
	ca := newCA(t)
	scenarios := []struct {
		name string
		// prepare puts the old identity in ks and returns the operation under
		// test with the identity it should produce.
		prepare func(t *testing.T, ks *Keystore) setup
	}{
		{"import over generated key with certificate", func(t *testing.T, ks *Keystore) setup {
			k, err := ks.GenerateKey(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			oldLeaf := ca.issue(t, k.Public(), "old")
			if err := ks.StoreCertificate(ctx, oldLeaf, nil); err != nil {
				t.Fatal(err)
			}
			nk := newKey(t, "")
			nl := ca.issue(t, nk.Public(), "new")
			return setup{
				old: identity{pub: k.Public(), leaf: oldLeaf},
				new: identity{pub: nk.Public(), leaf: nl},
				op:  func(ks *Keystore) error { return ks.ImportIdentity(ctx, nk, nl, []*x509.Certificate{ca.cert}) },
			}
		}},
		{"import over imported identity", func(t *testing.T, ks *Keystore) setup {
			ok := newKey(t, keystore.RSA2048)
			ol := ca.issue(t, ok.Public(), "old")
			if err := ks.ImportIdentity(ctx, ok, ol, nil); err != nil {
				t.Fatal(err)
			}
			nk := newKey(t, "")
			nl := ca.issue(t, nk.Public(), "new")
			return setup{
				old: identity{pub: ok.Public(), leaf: ol},
				new: identity{pub: nk.Public(), leaf: nl},
				op:  func(ks *Keystore) error { return ks.ImportIdentity(ctx, nk, nl, nil) },
			}
		}},
		{"import into empty keystore", func(t *testing.T, ks *Keystore) setup {
			nk := newKey(t, "")
			nl := ca.issue(t, nk.Public(), "new")
			return setup{
				new: identity{pub: nk.Public(), leaf: nl},
				op:  func(ks *Keystore) error { return ks.ImportIdentity(ctx, nk, nl, nil) },
			}
		}},
		{"store certificate", func(t *testing.T, ks *Keystore) setup {
			k, err := ks.GenerateKey(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			nl := ca.issue(t, k.Public(), "new")
			return setup{
				old: identity{pub: k.Public()},
				new: identity{pub: k.Public(), leaf: nl},
				op:  func(ks *Keystore) error { return ks.StoreCertificate(ctx, nl, []*x509.Certificate{ca.cert}) },
			}
		}},
		{"generate key", func(t *testing.T, ks *Keystore) setup {
			// The new identity is whatever key is made: checked below by
			// accepting any one key without a certificate.
			return setup{op: func(ks *Keystore) error {
				_, err := ks.GenerateKey(ctx, "")
				return err
			}}
		}},
	}
	for _, sc := range scenarios {
		steps := commitSteps(t, sc.prepare)
		for i, step := range steps {
			t.Run(fmt.Sprintf("%s/%d-%s", sc.name, i, step), func(t *testing.T) {
				ks := open(t, "")
				s := sc.prepare(t, ks)
				ks.gens.fault = func(cur string) error {
					if cur == step {
						return errPowerCut
					}
					return nil
				}
				if err := s.op(ks); !errors.Is(err, errPowerCut) {
					t.Fatalf("operation: %v, want the injected power cut", err)
				}
				got := load(t, ks.Dir())
				switch {
				case got.equal(s.old):
				case sc.name == "generate key" && got.pub != nil && got.leaf == nil:
				case got.equal(s.new):
				default:
					t.Fatalf("after a power cut before %q the keystore holds neither the old nor the new identity", step)
				}
				if got.leaf != nil {
					if err := keystore.MatchCertificate(got.pub, got.leaf); err != nil {
						t.Fatalf("key without its certificate after a power cut: %v", err)
					}
				}
				// The device retries after the reboot: the next commit must work
				// and clear the debris.
				fresh := open(t, ks.Dir())
				k := newKey(t, "")
				if err := fresh.ImportIdentity(ctx, k, ca.issue(t, k.Public(), "retry"), nil); err != nil {
					t.Fatalf("import after power cut: %v", err)
				}
				assertNoDebris(t, fresh)
			})
		}
	}
}
