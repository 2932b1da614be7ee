package controlplane

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

func BenchmarkRegionFromAuthorization(b *testing.B) {
	h := authFor("ap-northeast-1")
	for b.Loop() {
		if _, err := regionFromAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}

func benchServe(b *testing.B, f *fixture, method, target string) {
	b.Helper()
	auth := authFor(euWest1)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(method, target, nil)
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkListThings pages through a region of 200 things, 25 at a time, the
// way `aws iot list-things` and the rig's `mockcloud things` read a fleet.
func BenchmarkListThings(b *testing.B) {
	f := newFixture(b)
	for i := range 200 {
		if _, err := f.stores[euWest1].PutThing(registry.Thing{Name: fmt.Sprintf("bench-%04d", i), Attributes: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
			b.Fatal(err)
		}
	}
	benchServe(b, f, http.MethodGet, "/things?maxResults=25&nextToken="+encodePageToken("bench-0100"))
}

func BenchmarkDescribeCertificate(b *testing.B) {
	f := newFixture(b)
	benchServe(b, f, http.MethodGet, "/certificates/"+f.certs["device"])
}
