package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestClientListThings(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.h) // 127.0.0.1:0
	t.Cleanup(srv.Close)
	ctx := context.Background()

	got, err := ListThings(ctx, srv.URL, euWest1)
	if err != nil {
		t.Fatal(err)
	}
	var gotNames []string
	for _, th := range got {
		gotNames = append(gotNames, th.ThingName)
	}
	if !slices.Equal(gotNames, []string{"gw-001", "gw-002", "gw-003", "sensor-1"}) {
		t.Fatalf("things %v", gotNames)
	}
	if got[0].ThingArn != "arn:aws:iot:eu-west-1:123456789012:thing/gw-001" || got[0].Attributes["serial"] != "S001" || got[0].Version != 2 {
		t.Fatalf("first thing %+v", got[0])
	}

	us, err := ListThings(ctx, srv.URL+"/", usEast1)
	if err != nil || len(us) != 1 || us[0].ThingName != "us-only" {
		t.Fatalf("us-east-1: %+v, %v", us, err)
	}

	_, err = ListThings(ctx, srv.URL, "mars-1")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Code != codeInvalidSignature || !strings.Contains(ae.Message, "mars-1") {
		t.Fatalf("unknown region: %v", err)
	}
	if _, err := ListThings(ctx, srv.URL, "Not A Region"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad region name: %v", err)
	}
}

// TestClientPages serves pages by hand: the client follows nextToken and the
// region it sends sits in the credential scope.
func TestClientPages(t *testing.T) {
	var scopes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		region, err := requestRegion(r)
		if err != nil {
			t.Errorf("client's Authorization: %v", err)
		}
		scopes = append(scopes, region)
		switch tok := r.URL.Query().Get("nextToken"); tok {
		case "":
			fmt.Fprint(w, `{"things":[{"thingName":"a"}],"nextToken":"t1"}`)
		case "t1":
			fmt.Fprint(w, `{"things":[{"thingName":"b"}],"nextToken":"t2"}`)
		case "t2":
			fmt.Fprint(w, `{"things":[{"thingName":"c"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	got, err := ListThings(context.Background(), srv.URL, "ap-northeast-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].ThingName != "c" || !slices.Equal(scopes, []string{"ap-northeast-1", "ap-northeast-1", "ap-northeast-1"}) {
		t.Fatalf("things %+v scopes %v", got, scopes)
	}

	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"things":[],"nextToken":"same"}`)
	}))
	t.Cleanup(loop.Close)
	if _, err := ListThings(context.Background(), loop.URL, "eu-west-1"); err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Fatalf("repeated token: %v", err)
	}
}

func TestParseAPIError(t *testing.T) {
	tests := []struct {
		name, header, body string
		want               APIError
	}{
		{"header wins", "ResourceNotFoundException:http://internal.amazon.com/", `{"message":"gone","code":"Other"}`,
			APIError{404, "ResourceNotFoundException", "gone"}},
		{"body code", "", `{"code":"InvalidRequestException","Message":"bad"}`, APIError{404, "InvalidRequestException", "bad"}},
		{"body __type", "", `{"__type":"com.amazonaws#ThrottlingException","message":"slow"}`, APIError{404, "ThrottlingException", "slow"}},
		{"not JSON", "", `<html>`, APIError{404, "Not Found", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseAPIError(404, tc.header, []byte(tc.body)); *got != tc.want {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
	if err := error(&APIError{404, codeNotFound, "x"}); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("APIError.Is: %v", err)
	}
}
