package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st, err := LoadState(dir)
	if err != nil || st.Phase != PhaseNew {
		t.Fatalf("fresh state: %v, %v", st, err)
	}
	st = &State{Phase: PhaseCredentialed, CertificateID: "ab", OwnershipToken: "secret-token", Region: "eu-west-1", Updated: time.Unix(1_800_000_000, 0).UTC()}
	if err := SaveState(dir, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != PhaseCredentialed || got.OwnershipToken != "secret-token" || got.Version != StateVersion {
		t.Fatalf("loaded %+v", got)
	}
	if strings.Contains(got.String(), "secret-token") {
		t.Fatal("String prints the ownership token")
	}
	fi, err := os.Stat(filepath.Join(dir, stateFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
}

func TestStateRejects(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      error
	}{
		{"not json", "{", ErrStateCorrupt},
		{"no version", `{"phase":"new"}`, ErrStateCorrupt},
		{"future version", `{"version":99,"phase":"quantum"}`, ErrStateVersion},
		{"unknown phase", `{"version":1,"phase":"half-done"}`, ErrStateCorrupt},
		{"phase as number", `{"version":1,"phase":2}`, ErrStateCorrupt},
		{"credentialed without token", `{"version":1,"phase":"credentialed","certificateId":"x"}`, ErrStateCorrupt},
		{"registered without thing", `{"version":1,"phase":"registered","endpoint":"e"}`, ErrStateCorrupt},
		{"unknown field", `{"version":1,"phase":"new","extra":1}`, ErrStateCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, stateFileName), []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadState(dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q does not name the file", err)
			}
			// Nothing is lost: the bad file is left for inspection.
			if data, _ := os.ReadFile(filepath.Join(dir, stateFileName)); string(data) != tc.doc {
				t.Fatal("the state file was changed")
			}
		})
	}
}

func TestSaveStateRefusesInconsistentState(t *testing.T) {
	dir := t.TempDir()
	if err := SaveState(dir, &State{Phase: PhaseRegistered}); err == nil {
		t.Fatal("saved a registered state without thing")
	}
	if _, err := os.Stat(filepath.Join(dir, stateFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused state reached the disk")
	}
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"version":1,"phase":"new","updated":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":1,"phase":"online","thingName":"gw-1","endpoint":"e","addrs":["127.0.0.1"],"deviceConfiguration":{"a":[1,{"b":null}]}}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ParseState(data)
		if err != nil {
			if !errors.Is(err, ErrStateCorrupt) && !errors.Is(err, ErrStateVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !st.Phase.valid() || st.check() != nil {
			t.Fatalf("accepted an invalid state %+v", st)
		}
	})
}
