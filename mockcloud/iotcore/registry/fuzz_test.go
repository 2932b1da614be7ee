package registry_test

import (
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// FuzzRegistryRecord decodes arbitrary stored bytes as every record type: a corrupt
// value must give an error, never a panic.
func FuzzRegistryRecord(f *testing.F) {
	f.Add([]byte(`{"id":"ab","pem":"x","status":"ACTIVE","createdAt":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"name":"gw","attributes":{"a":"b"},"groups":["g"],"version":3}`))
	f.Add([]byte(`{"hash":"00","certId":"ab","expiresAt":"not a time"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = registry.DecodeRecord(data, &registry.CACertificate{})
		_ = registry.DecodeRecord(data, &registry.Certificate{})
		_ = registry.DecodeRecord(data, &registry.Thing{})
		_ = registry.DecodeRecord(data, &registry.ThingGroup{})
		_ = registry.DecodeRecord(data, &registry.Policy{})
		_ = registry.DecodeRecord(data, &registry.Template{})
		var tok registry.Token
		if err := registry.DecodeRecord(data, &tok); err == nil && tok.ExpiresAt.IsZero() && tok.Hash == "" && tok.CertID == "" {
			return // decoded nothing of interest; fine
		}
	})
}
