package agent

import (
	"fmt"
	"sync"
)

// StateStore keeps the state between boots. A device keeps it in a file of its
// state folder (DirStore); a simulator running thousands of devices in one
// process keeps each in memory (MemStore), as it keeps their keys.
type StateStore interface {
	// Load returns the saved state, or a new device's if nothing was saved.
	Load() (*State, error)
	// Save replaces the saved state; after it returns, a power cut keeps st.
	Save(st *State) error
}

// DirStore is the state file in a folder: LoadState and SaveState.
type DirStore string

// Load reads the state file.
func (d DirStore) Load() (*State, error) { return LoadState(string(d)) }

// Save writes the state file atomically.
func (d DirStore) Save(st *State) error { return SaveState(string(d), st) }

// MemStore keeps a state in memory, checked as a saved file is. The zero value is
// a new device. Safe for concurrent use.
type MemStore struct {
	mu sync.Mutex
	st *State
}

// Load returns a copy of the last saved state.
func (m *MemStore) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil {
		return &State{Version: StateVersion, Phase: PhaseNew}, nil
	}
	c := *m.st
	c.Addrs = append([]string(nil), m.st.Addrs...)
	return &c, nil
}

// Save keeps a copy of st if it holds together.
func (m *MemStore) Save(st *State) error {
	st.Version = StateVersion
	if err := st.check(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	c := *st
	c.Addrs = append([]string(nil), st.Addrs...)
	m.mu.Lock()
	m.st = &c
	m.mu.Unlock()
	return nil
}
