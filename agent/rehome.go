package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/internal/safefile"
)

// rehomeFileName holds the re-provisioning backoff beside state.json. It is its
// own file so that a device that keeps being refused keeps backing off across
// restarts whatever state.json holds (rehoming rewrites that to "new").
const rehomeFileName = "rehome.json"

// Re-provisioning after refusals waits base·2^(n-1), capped, for the n-th time in
// a row (half of it fixed, half jittered). A thing whose certificates keep being
// refused costs one certificate per wait, so the cap is long.
var rehomeWait = struct{ base, limit time.Duration }{30 * time.Second, time.Hour}

// RehomeRecord is how often this device provisioned again after refusals of its
// identity without then getting online, and when it may do so next.
type RehomeRecord struct {
	// Attempts counts re-provisionings since the device was last online.
	Attempts int `json:"attempts"`
	// Pending: the wait for attempt Attempts was decided and not yet served.
	Pending bool `json:"pending,omitempty"`
	// NotBefore is when the pending attempt may start, by a clock that could be
	// believed when it was decided; zero when it could not.
	NotBefore time.Time `json:"notBefore,omitzero"`
	// Wait is the pending attempt's wait, served again in full after a restart
	// whose clock cannot be believed.
	Wait time.Duration `json:"waitNanos,omitempty"`
	// Certificate is the refused certificate; Reason the last refusal.
	Certificate string `json:"certificate,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// RehomeStore keeps the RehomeRecord between boots.
type RehomeStore interface {
	LoadRehome() (RehomeRecord, error)
	SaveRehome(RehomeRecord) error
}

// RehomeFile is rehome.json in a state folder, written atomically.
type RehomeFile string

// LoadRehome reads the record; no file is a zero record.
func (f RehomeFile) LoadRehome() (RehomeRecord, error) {
	var r RehomeRecord
	p := filepath.Join(string(f), rehomeFileName)
	// A few hundred bytes when sound; the limit keeps a wrong file from filling memory.
	data, err := safefile.Read(p, safefile.Options{Kind: "rehome record", Limit: 4096, NoLinks: true})
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return RehomeRecord{}, fmt.Errorf("%s: %w", p, err)
	}
	return r, nil
}

// SaveRehome replaces the record; after it returns a power cut keeps it.
func (f RehomeFile) SaveRehome(r RehomeRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return writeFileAtomic(string(f), rehomeFileName, append(data, '\n'), 0o600, 0o700)
}

// MemRehome keeps the record in memory, for agents whose state is a MemStore.
type MemRehome struct {
	mu sync.Mutex
	r  RehomeRecord
}

func (m *MemRehome) LoadRehome() (RehomeRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.r, nil
}

func (m *MemRehome) SaveRehome(r RehomeRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.r = r
	return nil
}

// rehomeDelay is the wait before the n-th re-provisioning in a row.
func (a *Agent) rehomeDelay(n int) time.Duration {
	base, limit := rehomeWait.base, rehomeWait.limit
	r := rand.Float64
	if a.retry != nil {
		base, limit, r = a.retry.Base, a.retry.Cap, a.retry.Rand
		if r == nil {
			r = rand.Float64
		}
	}
	ceil := base
	for i := 1; i < n && ceil < limit; i++ {
		ceil *= 2
	}
	ceil = min(ceil, limit)
	return ceil/2 + time.Duration(r()*float64(ceil/2))
}

// waitBeforeRehome decides (or, after a restart, resumes) the wait before
// provisioning again, records it before waiting, logs what it does and why, and
// waits. It returns ctx's error if ctx ends first.
func (a *Agent) waitBeforeRehome(ctx context.Context, reason error) error {
	st := a.current()
	rec, err := a.rehomeStore.LoadRehome()
	if err != nil {
		// Unknown history: wait as long as the cap allows rather than hammer.
		a.log.Warn("re-provisioning record unreadable; waiting the longest backoff", zap.Error(err))
		rec = RehomeRecord{Attempts: 30}
	}
	now, trusted := trustedNow(a.now(), st.Updated)
	var wait time.Duration
	switch {
	case rec.Pending && trusted && !rec.NotBefore.IsZero():
		wait = max(rec.NotBefore.Sub(now), 0)
	case rec.Pending:
		wait = rec.Wait
	default:
		rec.Attempts++
		wait = a.rehomeDelay(rec.Attempts)
		rec.Pending, rec.Wait, rec.NotBefore = true, wait, time.Time{}
		if trusted {
			rec.NotBefore = now.Add(wait)
		}
	}
	rec.Certificate = st.CertificateID
	if reason != nil {
		rec.Reason = reason.Error()
	}
	if err := a.retryDiskFull(ctx, rehomeFileName, func() error { return a.rehomeStore.SaveRehome(rec) }); err != nil {
		return storageErr("save re-provisioning record", err)
	}
	a.log.Warn("the home region refuses this identity; provisioning again with the claim certificate after a backoff",
		zap.String("thing", st.ThingName), zap.String("region", st.Region), zap.String("certificate", st.CertificateID),
		zap.Int("attempt", rec.Attempts), zap.Duration("wait", wait), zap.Time("not_before", rec.NotBefore),
		zap.NamedError("reason", reason),
		zap.String("why", fmt.Sprintf("%d refusals in a row of the identity itself (no CONNACK or a certificate alert); each re-provisioning costs a certificate, so the wait doubles up to %s, also across restarts", rehomeAfter, a.rehomeCap())))
	return a.sleep(ctx, wait)
}

func (a *Agent) rehomeCap() time.Duration {
	if a.retry != nil {
		return a.retry.Cap
	}
	return rehomeWait.limit
}

// rehomeServed marks the pending wait as used: the next refusal starts a longer one.
func (a *Agent) rehomeServed(ctx context.Context) error {
	rec, err := a.rehomeStore.LoadRehome()
	if err != nil || !rec.Pending {
		return nil
	}
	rec.Pending, rec.Wait, rec.NotBefore = false, 0, time.Time{}
	if err := a.retryDiskFull(ctx, rehomeFileName, func() error { return a.rehomeStore.SaveRehome(rec) }); err != nil {
		return storageErr("save re-provisioning record", err)
	}
	return nil
}

// rehomeOnline forgets the backoff once the device is online with its identity.
func (a *Agent) rehomeOnline() {
	rec, err := a.rehomeStore.LoadRehome()
	if err != nil || rec == (RehomeRecord{}) {
		return
	}
	if err := a.rehomeStore.SaveRehome(RehomeRecord{}); err != nil {
		a.log.Warn("could not reset the re-provisioning record", zap.Error(err))
		return
	}
	a.log.Info("online after re-provisioning; backoff reset", zap.Int("attempts", rec.Attempts))
}
