package route53_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/fleetboot/fleetboot/mockcloud/route53"
)

// ExampleNewAPI mounts the Route 53 API in front of another handler, as a
// control plane would; the aws CLI reaches it with --endpoint-url.
func ExampleNewAPI() {
	srv, err := route53.New(route53.Config{}, nil) // no zones: an empty account
	if err != nil {
		panic(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		panic(err)
	}
	defer srv.Close()
	api, err := route53.NewAPI(srv, nil)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle(route53.APIPrefix, api)
	mux.Handle("/", http.NotFoundHandler()) // the rest of the control plane
	hs := httptest.NewServer(mux)
	defer hs.Close()

	body := `<CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">` +
		`<Name>example.org</Name><CallerReference>1</CallerReference></CreateHostedZoneRequest>`
	resp, err := http.Post(hs.URL+"/2013-04-01/hostedzone", "text/xml", strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, strings.Contains(string(b), "<Name>example.org.</Name>"))
	// Output: 201 Created true
}
