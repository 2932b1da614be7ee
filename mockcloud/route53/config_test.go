package route53

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestRigConfigValid(t *testing.T) {
	if err := rigConfig(t).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	geo := func(r Record) Config {
		return Config{Zones: []Zone{{Name: "example.com", Records: []Record{
			{Name: "a.example.com", Type: "A", SetIdentifier: "x", Geo: &GeoLocation{Country: "*"}, Values: []string{"192.0.2.1"}},
			r,
		}}}}
	}
	records := func(rs ...Record) Config {
		return Config{Zones: []Zone{{Name: "example.com", Records: rs}}}
	}
	a := func(name string) Record { return Record{Name: name, Type: "A", Values: []string{"192.0.2.1"}} }
	locs := func(ls ...Location) Config {
		c := records(a("a.example.com"))
		c.Locations = ls
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want string // start of one of the joined errors
	}{
		{"unknown country", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Country: "XX"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo.country: "XX" is not ISO 3166-1 alpha-2`},
		{"lower-case country", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Country: "de"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo.country: "de" is not ISO 3166-1 alpha-2`},
		{"continent with country", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Continent: "EU", Country: "DE"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo.continent: cannot be combined with country or subdivision`},
		{"unknown continent", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Continent: "XX"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo.continent: "XX" is not one of AF AN AS EU NA OC SA`},
		{"subdivision outside US", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Country: "DE", Subdivision: "BY"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo.subdivision: "BY" needs country US`},
		{"unknown state", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Country: "US", Subdivision: "ZZ"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo.subdivision: "ZZ" is not a US state code`},
		{"subdivision of the default", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Country: "*", Subdivision: "WA"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo.subdivision: not allowed with the default location "*"`},
		{"empty geo", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo: give a continent, a country or country "*" (default)`},
		{"country without IP data", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Country: "BV"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo.country: "BV": Route 53 has no geolocation data for it`},
		{"geo without set identifier", geo(Record{Name: "a.example.com", Type: "A", Geo: &GeoLocation{Country: "DE"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].setIdentifier: a geolocation record needs a set identifier of 1-128 characters`},
		{"repeated set identifier", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "x", Geo: &GeoLocation{Country: "DE"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].setIdentifier: "x" repeats zones[0].records[0]`},
		{"repeated location", geo(Record{Name: "a.example.com", Type: "A", SetIdentifier: "y", Geo: &GeoLocation{Country: "*"}, Values: []string{"192.0.2.2"}}),
			`zones[0].records[1].geo: same location as zones[0].records[0]`},
		{"plain set beside geolocation sets", geo(a("a.example.com")),
			`zones[0].records[1]: repeats the a.example.com A record set of zones[0].records[0]; a name and type have one plain set or only geolocation sets`},
		{"set identifier without geo", records(Record{Name: "b.example.com", Type: "A", SetIdentifier: "s", Values: []string{"192.0.2.1"}}),
			`zones[0].records[0].setIdentifier: only geolocation records take a set identifier`},
		{"two plain sets", records(a("b.example.com"), a("b.example.com")),
			`zones[0].records[1]: repeats the b.example.com A record set of zones[0].records[0]; a name and type have one plain set or only geolocation sets`},
		{"CNAME beside A", records(a("b.example.com"), Record{Name: "b.example.com", Type: "CNAME", Values: []string{"c.example.com."}}),
			`zones[0].records[1]: b.example.com has a CNAME and other records`},
		{"CNAME at the apex", records(Record{Name: "example.com", Type: "CNAME", Values: []string{"c.example.net."}}),
			`zones[0].records[0].type: CNAME not allowed at the zone apex`},
		{"CNAME with two values", records(Record{Name: "b.example.com", Type: "CNAME", Values: []string{"c.example.net.", "d.example.net."}}),
			`zones[0].records[0].values: a CNAME record has exactly one value, got 2`},
		{"NS below the apex", records(Record{Name: "sub.example.com", Type: "NS", Values: []string{"ns.example.net."}}),
			`zones[0].records[0].name: NS records only at the zone apex (delegations are not supported)`},
		{"SOA twice", Config{Zones: []Zone{{Name: "example.com", SOA: SOA{Serial: 7}, Records: []Record{
			{Name: "@", Type: "SOA", Values: []string{"ns.example.com. h.example.com. 1 2 3 4 5"}}}}}},
			`zones[0].records[0]: the zone has soa settings; give the SOA once`},
		{"name outside the zone", records(a("a.example.net")),
			`zones[0].records[0].name: "a.example.net" is not a domain name inside zone "example.com"`},
		{"name in a more specific zone", Config{Zones: []Zone{
			{Name: "example.com", Records: []Record{a("x.sub.example.com")}},
			{Name: "sub.example.com"},
		}}, `zones[0].records[0].name: "x.sub.example.com" belongs to zone "sub.example.com", which is more specific`},
		{"wildcard", records(a("*.example.com")),
			`zones[0].records[0].name: "*.example.com": wildcard names are not supported`},
		{"lower-case type", records(Record{Name: "b.example.com", Type: "a", Values: []string{"192.0.2.1"}}),
			`zones[0].records[0].type: "a" is not one of A AAAA CNAME TXT MX SRV CAA PTR NS SOA (upper case)`},
		{"bad A value", records(Record{Name: "b.example.com", Type: "A", Values: []string{"192.0.2.1", "not-an-ip"}}),
			`zones[0].records[0].values[1]: "not-an-ip" is not A record data`},
		{"no values", records(Record{Name: "b.example.com", Type: "A"}),
			`zones[0].records[0].values: at least one value is needed`},
		{"TTL too large", records(Record{Name: "b.example.com", Type: "A", TTL: 1 << 31, Values: []string{"192.0.2.1"}}),
			`zones[0].records[0].ttl: 2147483648 exceeds 2147483647`},
		{"zone twice", Config{Zones: []Zone{{Name: "example.com"}, {Name: "Example.com."}}},
			`zones[1].name: "Example.com." repeats zones[0]`},
		{"zone without name", Config{Zones: []Zone{{}}}, `zones[0].name: required`},
		{"bad soa mname", Config{Zones: []Zone{{Name: "example.com", SOA: SOA{MName: "a..b"}}}},
			`zones[0].soa.mname: "a..b" is not a domain name`},
		{"public address", func() Config { c := records(a("b.example.com")); c.Addr = "0.0.0.0:53"; return c }(),
			`addr: "0.0.0.0:53": host must be a loopback IP address (127.0.0.0/8, ::1) or localhost`},
		{"bad port", func() Config { c := records(a("b.example.com")); c.Addr = "127.0.0.1:dns"; return c }(),
			`addr: "127.0.0.1:dns": port "dns" is not a number 0-65535`},
		{"location cidr", locs(Location{CIDR: "198.51.100.0/33", Country: "US"}),
			`locations[0].cidr: "198.51.100.0/33" is not a CIDR`},
		{"location host bits", locs(Location{CIDR: "198.51.100.7/24", Country: "US"}),
			`locations[0].cidr: "198.51.100.7/24" has host bits set; want 198.51.100.0/24`},
		{"location twice", locs(Location{CIDR: "198.51.100.0/24", Country: "US"}, Location{CIDR: "198.51.100.0/24", Country: "DE"}),
			`locations[1].cidr: 198.51.100.0/24 repeats locations[0]`},
		{"location without place", locs(Location{CIDR: "198.51.100.0/24"}),
			`locations[0]: give a country or a continent`},
		{"location country", locs(Location{CIDR: "198.51.100.0/24", Country: "XX"}),
			`locations[0].country: "XX" is not ISO 3166-1 alpha-2`},
		{"location continent contradicts country", locs(Location{CIDR: "198.51.100.0/24", Country: "DE", Continent: "AS"}),
			`locations[0].continent: "AS" contradicts country "DE", which is in EU`},
		{"location subdivision", locs(Location{CIDR: "198.51.100.0/24", Country: "CA", Subdivision: "QC"}),
			`locations[0].subdivision: "QC" needs country US`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatalf("Validate passed, want %s", tc.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("%v is not ErrInvalidConfig", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("%v carries no *FieldError", err)
			}
			lines := strings.Split(err.Error(), "\n")
			found := false
			for _, l := range lines {
				found = found || strings.HasPrefix(l, tc.want)
			}
			if !found {
				t.Errorf("errors:\n%s\nwant a line:\n%s", err, tc.want)
			}
			if _, nerr := New(tc.cfg, nil); !errors.Is(nerr, ErrInvalidConfig) {
				t.Errorf("New = %v, want ErrInvalidConfig", nerr)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"minimal", Config{Zones: []Zone{{Name: "example.com"}}}},
		{"no zones (an empty account)", Config{}},
		{"IPv6 loopback and localhost", Config{Addr: "[::1]:0", Zones: []Zone{{Name: "example.com"}}}},
		{"localhost", Config{Addr: "localhost:1053", Zones: []Zone{{Name: "example.com"}}}},
		{"SOA as a record, relative apex", Config{Zones: []Zone{{Name: "example.com.", Records: []Record{
			{Name: "@", Type: "SOA", Values: []string{"ns.example.com. h.example.com. 5 2 3 4 5"}},
			{Name: "EXAMPLE.COM", Type: "NS", Values: []string{"ns.example.com."}},
			{Name: "m.example.com.", Type: "MX", Values: []string{"10 mail.example.com."}},
			{Name: "t.example.com", Type: "TXT", Values: []string{`"a; b (c)"`}},
			{Name: "s.example.com", Type: "AAAA", SetIdentifier: "ca", Geo: &GeoLocation{Country: "US", Subdivision: "CA"}, Values: []string{"2001:db8::1"}},
		}}}}},
		{"one set identifier across names", Config{Zones: []Zone{{Name: "example.com", Records: []Record{
			{Name: "a.example.com", Type: "A", SetIdentifier: "r", Geo: &GeoLocation{Continent: "EU"}, Values: []string{"192.0.2.1"}},
			{Name: "b.example.com", Type: "A", SetIdentifier: "r", Geo: &GeoLocation{Continent: "EU"}, Values: []string{"192.0.2.1"}},
		}}}}},
		{"location by continent only", Config{Zones: []Zone{{Name: "example.com"}}, Locations: []Location{{CIDR: "10.0.0.0/8", Continent: "AN"}}}},
		{"location with matching continent", Config{Zones: []Zone{{Name: "example.com"}}, Locations: []Location{{CIDR: "10.0.0.0/8", Continent: "EU", Country: "DE"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestYAMLFieldNames(t *testing.T) {
	cfg := Config{Addr: "127.0.0.1:1053", Zones: []Zone{{
		Name: "example.com", IncludeTargetRecords: true, SOA: SOA{MName: "ns.example.com"},
		Records: []Record{{Name: "a.example.com", Type: "A", SetIdentifier: "x", Geo: &GeoLocation{Country: "US", Subdivision: "WA"}, Values: []string{"192.0.2.1"}}},
	}}, Locations: []Location{{CIDR: "10.0.0.0/8", Continent: "EU"}}}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"addr:", "zones:", "locations:", "includeTargetRecords:", "setIdentifier:", "geo:",
		"subdivision:", "cidr:", "continent:", "mname:", "values:"} {
		if !strings.Contains(string(b), key) {
			t.Errorf("YAML lacks %s:\n%s", key, b)
		}
	}
	var back Config
	if err := yaml.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCountryTable(t *testing.T) {
	if len(countryContinent) != 250 {
		t.Fatalf("%d countries, want the 249 of ISO 3166-1 and XK", len(countryContinent))
	}
	for cc, cont := range countryContinent {
		if _, ok := continents[cont]; !ok || len(cc) != 2 || strings.ToUpper(cc) != cc {
			t.Errorf("%s → %s", cc, cont)
		}
	}
	for cc, cont := range map[string]string{"US": "NA", "DE": "EU", "JP": "AS", "BR": "SA", "AU": "OC", "ZA": "AF", "AQ": "AN", "UA": "EU"} {
		if countryContinent[cc] != cont {
			t.Errorf("%s → %s, want %s", cc, countryContinent[cc], cont)
		}
	}
}
