package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetboot/fleetboot/internal/safefile"
)

// StateVersion is the version of the state file this build writes. Older versions
// are migrated on load; newer ones are refused so a downgrade never corrupts state.
const StateVersion = 1

// stateFileName lives in the state folder.
const stateFileName = "state.json"

// maxStateFile bounds what LoadState reads: the state is small, and a huge file is a
// corruption, not a state.
const maxStateFile = 1 << 20

// Phase is a step of first boot. Phases are written as names, never numbers, so a
// state file stays readable across versions that add phases.
type Phase string

const (
	// PhaseNew: nothing done yet (a key may already exist in the keystore).
	PhaseNew Phase = "new"
	// PhaseCredentialed: the cloud issued a certificate, stored in the keystore,
	// with an ownership token not yet spent on RegisterThing.
	PhaseCredentialed Phase = "credentialed"
	// PhaseRegistered: RegisterThing succeeded; the identity is permanent.
	PhaseRegistered Phase = "registered"
	// PhaseOnline: the permanent identity connected at least once.
	PhaseOnline Phase = "online"
)

func (p Phase) valid() bool {
	switch p {
	case PhaseNew, PhaseCredentialed, PhaseRegistered, PhaseOnline:
		return true
	}
	return false
}

// Provisioned reports whether the device holds its permanent identity.
func (p Phase) Provisioned() bool { return p == PhaseRegistered || p == PhaseOnline }

// State is what a device remembers across reboots. It holds the ownership token,
// which is a secret: the file is 0600 and String never prints it.
type State struct {
	Version int   `json:"version"`
	Phase   Phase `json:"phase"`
	// Mode is the provisioning flow that produced the identity: keys, csr or jitp.
	Mode string `json:"mode,omitempty"`

	// Region and Endpoint are the home region: the resolved target of the global name
	// at first boot. The device stays pinned to Endpoint once registered.
	Region   string `json:"region,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// ServerName is the TLS name the endpoint is reached under (the global name).
	ServerName string `json:"serverName,omitempty"`
	// Addrs are the endpoint's addresses as last resolved, valid until AddrsExpire by
	// the clock of the boot that resolved them.
	Addrs       []string  `json:"addrs,omitempty"`
	AddrsExpire time.Time `json:"addrsExpire,omitempty"`

	CertificateID  string    `json:"certificateId,omitempty"`
	OwnershipToken string    `json:"ownershipToken,omitempty"`
	TokenIssued    time.Time `json:"tokenIssued,omitempty"`

	ThingName           string         `json:"thingName,omitempty"`
	DeviceConfiguration map[string]any `json:"deviceConfiguration,omitempty"`
	HandoffDone         bool           `json:"handoffDone,omitempty"`

	// Updated is the wall clock at the last write; it also serves as a floor for a
	// clock that reboots to 1970.
	Updated time.Time `json:"updated"`
}

// String is safe to log.
func (s *State) String() string {
	return fmt.Sprintf("phase=%s region=%s thing=%s certificate=%s", s.Phase, s.Region, s.ThingName, s.CertificateID)
}

// ErrStateVersion is returned for a state file written by a newer fleetboot.
var ErrStateVersion = errors.New("state file written by a newer fleetboot")

// ErrStateCorrupt is returned when the state file cannot be understood.
var ErrStateCorrupt = errors.New("state file corrupt")

// LoadState reads the state in dir. A missing file is a new device. The file holds
// the ownership token while credentialed, so it is read as a secret: never through
// a link, and narrowed to 0600 if an image or an older version left it wider.
func LoadState(dir string) (*State, error) {
	path := filepath.Join(dir, stateFileName)
	data, err := safefile.Read(path, safefile.Options{Kind: "state", Limit: maxStateFile, Secret: true, Narrow: true})
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: StateVersion, Phase: PhaseNew}, nil
	}
	if errors.Is(err, safefile.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrStateCorrupt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	defer clear(data)
	st, err := ParseState(data)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return st, nil
}

// ParseState decodes and validates a state file's bytes.
func ParseState(data []byte) (*State, error) {
	var probe struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStateCorrupt, err)
	}
	if probe.Version == nil {
		return nil, fmt.Errorf("%w: no version", ErrStateCorrupt)
	}
	if *probe.Version > StateVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads up to %d", ErrStateVersion, *probe.Version, StateVersion)
	}
	if *probe.Version < 1 {
		return nil, fmt.Errorf("%w: version %d", ErrStateCorrupt, *probe.Version)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st State
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStateCorrupt, err)
	}
	if !st.Phase.valid() {
		return nil, fmt.Errorf("%w: unknown phase %q", ErrStateCorrupt, st.Phase)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStateCorrupt, err)
	}
	return &st, nil
}

// check enforces what each phase implies, so a resumed boot never acts on half a state.
func (s *State) check() error {
	switch s.Phase {
	case PhaseCredentialed:
		if s.CertificateID == "" || s.OwnershipToken == "" {
			return errors.New("phase credentialed without certificate id or ownership token")
		}
	case PhaseRegistered, PhaseOnline:
		if s.ThingName == "" || s.Endpoint == "" {
			return fmt.Errorf("phase %s without thing name or endpoint", s.Phase)
		}
	}
	return nil
}

// SaveState writes st atomically: a temp file, fsync, rename over the old file,
// fsync of the folder. A power cut leaves either the old or the new state.
func SaveState(dir string, st *State) error {
	st.Version = StateVersion
	if err := st.check(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := privateDir(dir); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := writeFileAtomic(dir, stateFileName, append(data, '\n'), 0o600, 0o700); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// privateDir makes the state folder 0700: created so, or narrowed if it exists
// wider, as a folder made by an image or by systemd's StateDirectory= may be;
// the state can hold an ownership token.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSticky != 0 {
		return fmt.Errorf("state folder %s is a shared folder (sticky bit): set stateDir to a folder of its own", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, fi.Mode().Perm()&0o700)
	}
	return nil
}

// writeFileAtomic replaces dir/name with data, a file of mode. Missing folders on
// the way are made with dirMode.
func writeFileAtomic(dir, name string, data []byte, mode, dirMode os.FileMode) error {
	if err := mkdirAll(dir, dirMode); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	// CreateTemp makes 0600 files; a wider mode is set on the open handle before any
	// byte is written, so the final name never holds a file with the wrong mode.
	if mode != 0o600 {
		if err := tmp.Chmod(mode); err != nil {
			return err
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmpName, filepath.Join(dir, name)); err != nil {
		return err
	}
	ok = true
	// Temp files of writes a power cut interrupted may hold an older state, an
	// ownership token included; the folder sync below makes their removal durable.
	if stale, err := filepath.Glob(filepath.Join(dir, "."+name+".tmp-*")); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// mkdirAll makes dir and its missing parents with mode exactly: the umask does not
// narrow it, as it does not narrow the mode writeFileAtomic gives a file. Folders
// that exist are left as they are.
func mkdirAll(dir string, mode os.FileMode) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	for _, d := range missing {
		if err := os.Chmod(d, mode); err != nil {
			return err
		}
	}
	return nil
}
