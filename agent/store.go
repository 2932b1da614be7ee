package agent

import (
	"encoding/json"
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

// MemStore keeps a state in memory as the bytes a state file would hold, so it
// checks, shares nothing with its callers and reads back exactly as a DirStore
// does. The zero value is a new device. Safe for concurrent use.
type MemStore struct {
	mu   sync.Mutex
	data []byte
}

// Load decodes the last saved state.
func (m *MemStore) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		return &State{Version: StateVersion, Phase: PhaseNew}, nil
	}
	return ParseState(m.data)
}

// Save keeps st if it holds together.
func (m *MemStore) Save(st *State) error {
	st.Version = StateVersion
	if err := st.check(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	m.mu.Lock()
	m.data = data
	m.mu.Unlock()
	return nil
}
