package controlplane

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// walk follows a list call page by page and returns every item's field.
func (f *fixture) walk(t *testing.T, method, path, limitName, limit, tokenIn, tokenOut, list, field string) (all []string, pages int) {
	t.Helper()
	u, err := url.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	token := ""
	for {
		q := u.Query()
		q.Set(limitName, limit)
		if token != "" {
			q.Set(tokenIn, token)
		}
		a := f.do(t, method, u.EscapedPath()+"?"+q.Encode(), euWest1, "")
		a.wantOK(t)
		all = append(all, names(t, a.body, list, field)...)
		pages++
		next, _ := a.body[tokenOut].(string)
		if next == "" {
			return all, pages
		}
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		token = next
	}
}

func TestPagination(t *testing.T) {
	f := newFixture(t)
	eu := f.stores[euWest1]
	for i := range 3 {
		if _, err := eu.CreatePolicy(fmt.Sprintf("p%d", i), `{}`); err != nil {
			t.Fatal(err)
		}
		pem, _, _ := selfSigned(t, fmt.Sprintf("c%d", i), false, nil, nil)
		if _, err := eu.RegisterCertificate(pem, registry.StatusActive, ""); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, method, path, limitName, tokenIn, tokenOut, list, field string
		wantLen                                                       int
	}{
		{"ListThings", http.MethodGet, "/things", "maxResults", "nextToken", "nextToken", "things", "thingName", 4},
		{"ListThingGroups", http.MethodGet, "/thing-groups", "maxResults", "nextToken", "nextToken", "thingGroups", "groupName", 2},
		{"ListThingsInThingGroup", http.MethodGet, "/thing-groups/gateways/things", "maxResults", "nextToken", "nextToken", "things", "", 2},
		{"ListThingPrincipals", http.MethodGet, "/things/gw-001/principals", "maxResults", "nextToken", "nextToken", "principals", "", 1},
		{"ListCertificates", http.MethodGet, "/certificates", "pageSize", "marker", "nextMarker", "certificates", "certificateId", 6},
		{"ListCertificates ascending", http.MethodGet, "/certificates?isAscendingOrder=true", "pageSize", "marker", "nextMarker", "certificates", "certificateId", 6},
		{"ListPolicies", http.MethodGet, "/policies", "pageSize", "marker", "nextMarker", "policies", "policyName", 5},
		{"ListAttachedPolicies", http.MethodPost, "/attached-policies/" + f.certs["claim"], "pageSize", "marker", "nextMarker", "policies", "policyName", 1},
		{"ListProvisioningTemplates", http.MethodGet, "/provisioning-templates", "maxResults", "nextToken", "nextToken", "templates", "templateName", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			whole, pages := f.walk(t, tc.method, tc.path, tc.limitName, "250", tc.tokenIn, tc.tokenOut, tc.list, tc.field)
			if pages != 1 || len(whole) != tc.wantLen {
				t.Fatalf("one big page: %d items in %d pages, want %d in 1", len(whole), pages, tc.wantLen)
			}
			paged, pages := f.walk(t, tc.method, tc.path, tc.limitName, "1", tc.tokenIn, tc.tokenOut, tc.list, tc.field)
			if !slices.Equal(paged, whole) || pages != tc.wantLen {
				t.Fatalf("pages of 1: %v in %d pages, want %v", paged, pages, whole)
			}
		})
	}
}

// TestPaginationStableUnderInserts adds a thing between pages: nothing handed
// out repeats and nothing that existed is skipped.
func TestPaginationStableUnderInserts(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/things?maxResults=2", euWest1, "")
	first := names(t, a.body, "things", "thingName")
	if _, err := f.stores[euWest1].PutThing(registry.Thing{Name: "gw-000"}); err != nil {
		t.Fatal(err)
	}
	a = f.do(t, http.MethodGet, "/things?maxResults=10&nextToken="+url.QueryEscape(a.body["nextToken"].(string)), euWest1, "")
	rest := names(t, a.body, "things", "thingName")
	if got := append(first, rest...); !slices.Equal(got, []string{"gw-001", "gw-002", "gw-003", "sensor-1"}) {
		t.Fatalf("walk %v", got)
	}
}

func TestPaginate(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	var got []string
	tok := ""
	for {
		page, next, err := paginate(items, id, false, tok, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		tok = next
	}
	if !slices.Equal(got, items) {
		t.Fatalf("ascending walk %v", got)
	}
	desc := []string{"e", "d", "c", "b", "a"}
	page, next, err := paginate(desc, id, true, encodePageToken("c"), 10)
	if err != nil || !slices.Equal(page, []string{"b", "a"}) || next != "" {
		t.Fatalf("descending after c: %v %q %v", page, next, err)
	}
	// A token past the end gives an empty last page, not an error.
	if page, next, err := paginate(items, id, false, encodePageToken("z"), 2); err != nil || len(page) != 0 || next != "" {
		t.Fatalf("past the end: %v %q %v", page, next, err)
	}
	if _, _, err := paginate(items, id, false, "!!", 2); err == nil {
		t.Fatal("bad token accepted")
	}
}
