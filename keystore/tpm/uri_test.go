package tpm

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri  string
		want Location // zero: an error wrapping ErrInvalidURI
	}{
		{"tpm:", Location{Path: DefaultDevice, Handle: DefaultHandle}},
		{"tpm://", Location{Path: DefaultDevice, Handle: DefaultHandle}},
		{"tpm:///dev/tpmrm0", Location{Path: "/dev/tpmrm0", Handle: DefaultHandle}},
		{"TPM:///dev/tpm0", Location{Path: "/dev/tpm0", Handle: DefaultHandle}},
		{"tpm:/dev/tpmrm1", Location{Path: "/dev/tpmrm1", Handle: DefaultHandle}},
		{"tpm:///dev/../dev/tpm0", Location{Path: "/dev/tpm0", Handle: DefaultHandle}},
		{"tpm:///dev/tpmrm0?handle=0x81000020&dir=/var/lib/fleetboot/keys", Location{Path: "/dev/tpmrm0", Handle: 0x81000020, Dir: "/var/lib/fleetboot/keys"}},
		{"tpm:///dev/tpmrm0?handle=2164260865", Location{Path: "/dev/tpmrm0", Handle: 0x81000001}},
		{"tpm:///dev/tpmrm0?dir=keys", Location{Path: "/dev/tpmrm0", Handle: DefaultHandle, Dir: "keys"}},
		{"tpm://127.0.0.1:2321", Location{Addr: "127.0.0.1:2321", Handle: DefaultHandle}},
		{"tpm://127.0.0.1", Location{Addr: "127.0.0.1:2321", Handle: DefaultHandle}},
		{"tpm://127.1.2.3:4000/", Location{Addr: "127.1.2.3:4000", Handle: DefaultHandle}},
		{"tpm://[::1]:2321", Location{Addr: "[::1]:2321", Handle: DefaultHandle}},
		{"tpm://[::1]", Location{Addr: "[::1]:2321", Handle: DefaultHandle}},
		{"tpm://localhost:2321?handle=0x817fffff", Location{Addr: "localhost:2321", Handle: 0x817fffff}},

		{"file:///dev/tpmrm0", Location{}},
		{"tpm:dev/tpm0", Location{}},
		{"tpm://192.168.1.10:2321", Location{}},
		{"tpm://example.com:2321", Location{}},
		{"tpm://[fe80::1%25eth0]:2321", Location{}},
		{"tpm://127.0.0.1:0", Location{}},
		{"tpm://127.0.0.1:99999", Location{}},
		{"tpm://127.0.0.1:2321/dev/tpm0", Location{}},
		{"tpm://user:secret@127.0.0.1:2321", Location{}},
		{"tpm:///dev/tpmrm0#frag", Location{}},
		{"tpm:///dev/tpmrm0?handle=0x80000001", Location{}},
		{"tpm:///dev/tpmrm0?handle=0x81800000", Location{}},
		{"tpm:///dev/tpmrm0?handle=banana", Location{}},
		{"tpm:///dev/tpmrm0?handle=0x81000010&handle=0x81000011", Location{}},
		{"tpm:///dev/tpmrm0?dir=", Location{}},
		{"tpm:///dev/tpmrm0?ownerauth=x", Location{}},
		{"tpm:///dev/tpmrm0?%zz", Location{}},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURI(u)
			if tt.want == (Location{}) {
				if !errors.Is(err, keystore.ErrInvalidURI) {
					t.Fatalf("ParseURI = %+v, %v; want ErrInvalidURI", got, err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error quotes the URI's password: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseURI = %+v, %v; want %+v", got, err, tt.want)
			}
			checkRoundTrip(t, got)
		})
	}
}

func checkRoundTrip(t *testing.T, l Location) {
	t.Helper()
	u, err := url.Parse(l.String())
	if err != nil {
		t.Fatalf("String() = %q does not parse: %v", l.String(), err)
	}
	back, err := ParseURI(u)
	if err != nil || back != l {
		t.Fatalf("String() = %q reads back as %+v, %v; want %+v", l.String(), back, err, l)
	}
}

// FuzzParseURI: configuration input never panics, every failure wraps
// ErrInvalidURI, and what parses names exactly one TPM, an owner persistent
// handle, and survives String and ParseURI unchanged.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"tpm:", "tpm:///dev/tpmrm0", "tpm://127.0.0.1:2321?handle=0x81000010&dir=keys",
		"tpm://[::1]", "tpm:///dev/tpm0?dir=%2Fvar%2Flib", "tpm://10.0.0.1", "tpm:x?handle=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		l, err := ParseURI(u)
		if err != nil {
			if !errors.Is(err, keystore.ErrInvalidURI) {
				t.Fatalf("error %v does not wrap ErrInvalidURI", err)
			}
			return
		}
		if (l.Path == "") == (l.Addr == "") {
			t.Fatalf("%+v names not exactly one of a device and an address", l)
		}
		if l.Handle < minOwnerPersistent || l.Handle > maxOwnerPersistent {
			t.Fatalf("handle 0x%08x outside the owner range", l.Handle)
		}
		checkRoundTrip(t, l)
	})
}
