package registry_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// benchPolicy is the size of the rig's device policy, whose records the broker
// reads on every MQTT operation.
const benchPolicy = `{"Version":"2012-10-17","Statement":[` +
	`{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"},` +
	`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":["arn:aws:iot:eu-west-1:123456789012:topic/gateways/${iot:Connection.Thing.ThingName}/*","arn:aws:iot:eu-west-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/*"]},` +
	`{"Effect":"Allow","Action":"iot:Subscribe","Resource":["arn:aws:iot:eu-west-1:123456789012:topicfilter/gateways/${iot:Connection.Thing.ThingName}/*","arn:aws:iot:eu-west-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/*"]}]}`

// benchStore holds n provisioned certificates, each with a thing and the policy.
func benchStore(b *testing.B, n int, noSync bool) (*registry.Store, []string) {
	b.Helper()
	c := &clock{now: time.Now()}
	s, err := registry.Open(b.TempDir(), registry.Options{Region: "eu-west-1", AccountID: "123456789012", Clock: c.Now, NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.CreatePolicy("device", benchPolicy); err != nil {
		b.Fatal(err)
	}
	var ids []string
	for i := range n {
		cert, err := s.CreatePendingCertificate(selfSigned(b), fmt.Sprintf("token-%d", i), c.Now().Add(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		_, err = s.RegisterThing(registry.RegisterThingRequest{
			TokenHash: fmt.Sprintf("token-%d", i), CertStatus: registry.StatusActive,
			Thing:    &registry.ThingSpec{Name: fmt.Sprintf("thing-%d", i)},
			Policies: []registry.PolicySpec{{Name: "device"}},
		})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, cert.ID)
	}
	return s, ids
}

// BenchmarkReads are the registry reads of one MQTT connection's life: the
// certificate (TLS), its things (CONNECT) and its policies (every operation).
func BenchmarkReads(b *testing.B) {
	s, ids := benchStore(b, 64, false)
	for _, bc := range []struct {
		name string
		read func(id string) error
	}{
		{"GetCertificate", func(id string) error { _, err := s.GetCertificate(id); return err }},
		{"ThingsForCertificate", func(id string) error { _, err := s.ThingsForCertificate(id); return err }},
		{"PoliciesForCertificate", func(id string) error { _, err := s.PoliciesForCertificate(id); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := bc.read(ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkProvision is the registry's share of fleet provisioning, 64 devices
// at a time as in a fleet: each a pending certificate with its token, then
// RegisterThing. ns/op is the throughput, batching included; fsync costs what
// the disk under TMPDIR makes it cost.
func BenchmarkProvision(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("nosync=%v", noSync), func(b *testing.B) { benchProvision(b, noSync) })
	}
}

func benchProvision(b *testing.B, noSync bool) {
	s, _ := benchStore(b, 0, noSync)
	now := time.Now()
	pems := make(chan string, b.N)
	for range b.N {
		pems <- selfSigned(b)
	}
	close(pems)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // 64 writers on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			tok := fmt.Sprintf("bench-%d", i)
			if _, err := s.CreatePendingCertificate(<-pems, tok, now.Add(time.Hour)); err != nil {
				b.Error(err)
				return
			}
			_, err := s.RegisterThing(registry.RegisterThingRequest{
				TokenHash: tok, CertStatus: registry.StatusActive,
				Thing:    &registry.ThingSpec{Name: fmt.Sprintf("bench-%d", i)},
				Policies: []registry.PolicySpec{{Name: "device"}},
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
