package route53

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

type want struct {
	rcode   int
	answers []string // "TYPE data", in order
	soa     string   // zone of the SOA expected in authority, "" for none
	aa      bool
}

func checkReply(t *testing.T, got *dns.Msg, w want) {
	t.Helper()
	if got.Rcode != w.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[got.Rcode], dns.RcodeToString[w.rcode])
	}
	if a := answerData(got); !slices.Equal(a, w.answers) {
		t.Errorf("answers %q, want %q", a, w.answers)
	}
	if got.Authoritative != w.aa {
		t.Errorf("AA %v, want %v", got.Authoritative, w.aa)
	}
	switch {
	case w.soa == "" && len(got.Ns) != 0:
		t.Errorf("authority %v, want empty", got.Ns)
	case w.soa != "":
		if len(got.Ns) != 1 {
			t.Fatalf("authority %v, want one SOA of %s", got.Ns, w.soa)
		}
		soa, ok := got.Ns[0].(*dns.SOA)
		if !ok || soa.Hdr.Name != w.soa {
			t.Errorf("authority %v, want SOA of %s", got.Ns[0], w.soa)
		} else if soa.Hdr.Ttl != DefaultSOAMinimum {
			t.Errorf("negative SOA TTL %d, want %d (RFC 2308)", soa.Hdr.Ttl, DefaultSOAMinimum)
		}
	}
}

func TestAnswers(t *testing.T) {
	s := newRigServer(t, nil)
	usCNAME := "CNAME " + usEast1
	euCNAME := "CNAME " + euWest1
	apCNAME := "CNAME " + apNE1
	tests := []struct {
		name  string
		qname string
		qtype uint16
		src   string
		ecs   string
		want  want
	}{
		{"source US gets us-east-1 and its address", globalName, dns.TypeA, "127.0.1.1", "",
			want{answers: []string{usCNAME, "A 127.0.0.11"}, aa: true}},
		{"source DE gets eu-west-1 by continent", globalName, dns.TypeA, "127.0.2.1", "",
			want{answers: []string{euCNAME, "A 127.0.0.12"}, aa: true}},
		{"source JP gets ap-northeast-1", globalName, dns.TypeA, "127.0.3.1", "",
			want{answers: []string{apCNAME, "A 127.0.0.13"}, aa: true}},
		{"unmapped source gets the default", globalName, dns.TypeA, "127.0.0.1", "",
			want{answers: []string{euCNAME, "A 127.0.0.12"}, aa: true}},
		{"ECS beats the source address", globalName, dns.TypeA, "127.0.1.1", "203.0.113.0/24",
			want{answers: []string{apCNAME, "A 127.0.0.13"}, aa: true}},
		{"ECS /32 inside a /24 entry", globalName, dns.TypeA, "127.0.0.1", "198.51.100.7/32",
			want{answers: []string{usCNAME, "A 127.0.0.11"}, aa: true}},
		{"ECS IPv6", globalName, dns.TypeA, "127.0.0.1", "2001:db8:1::/48",
			want{answers: []string{usCNAME, "A 127.0.0.11"}, aa: true}},
		{"ECS unmapped gets the default", globalName, dns.TypeA, "127.0.1.1", "10.0.0.0/8",
			want{answers: []string{euCNAME, "A 127.0.0.12"}, aa: true}},
		{"ECS shorter than every entry matches none", globalName, dns.TypeA, "127.0.1.1", "198.51.0.0/16",
			want{answers: []string{euCNAME, "A 127.0.0.12"}, aa: true}},
		{"ECS source prefix 0 falls back to the source address", globalName, dns.TypeA, "127.0.3.1", "0.0.0.0/0",
			want{answers: []string{apCNAME, "A 127.0.0.13"}, aa: true}},
		{"CNAME query gets the CNAME alone", globalName, dns.TypeCNAME, "127.0.1.1", "",
			want{answers: []string{usCNAME}, aa: true}},
		{"CNAME chased to a name without the type", globalName, dns.TypeTXT, "127.0.1.1", "",
			want{answers: []string{usCNAME}, soa: "amazonaws.com.", aa: true}},
		{"AAAA through the CNAME is NODATA at the target", globalName, dns.TypeAAAA, "127.0.2.1", "",
			want{answers: []string{euCNAME}, soa: "amazonaws.com.", aa: true}},

		{"subdivision beats country", "ladder.example.com.", dns.TypeTXT, "127.0.0.1", "100.64.1.0/24",
			want{answers: []string{`TXT "us-wa"`}, aa: true}},
		{"country beats continent", "ladder.example.com.", dns.TypeTXT, "127.0.0.1", "198.51.100.0/24",
			want{answers: []string{`TXT "us"`}, aa: true}},
		{"continent of the country", "ladder.example.com.", dns.TypeTXT, "127.0.0.1", "100.64.3.0/24",
			want{answers: []string{`TXT "na"`}, aa: true}},
		{"location entry with a continent only", "ladder.example.com.", dns.TypeTXT, "127.0.0.1", "100.64.2.0/24",
			want{answers: []string{`TXT "oc"`}, aa: true}},
		{"no match falls to the default", "ladder.example.com.", dns.TypeTXT, "127.0.0.1", "192.0.2.0/24",
			want{answers: []string{`TXT "default"`}, aa: true}},
		{"unmapped falls to the default", "ladder.example.com.", dns.TypeTXT, "127.0.0.1", "",
			want{answers: []string{`TXT "default"`}, aa: true}},

		{"no record for the location and no default", "jp-only.example.com.", dns.TypeA, "127.0.1.1", "",
			want{soa: "example.com.", aa: true}},
		{"unmapped and no default", "jp-only.example.com.", dns.TypeA, "127.0.0.1", "",
			want{soa: "example.com.", aa: true}},
		{"the one covered location", "jp-only.example.com.", dns.TypeA, "127.0.3.1", "",
			want{answers: []string{"A 127.0.0.13"}, aa: true}},
		{"name without the type is NODATA", "www.example.com.", dns.TypeAAAA, "127.0.0.1", "",
			want{soa: "example.com.", aa: true}},
		{"empty non-terminal is NODATA", "iot.example.com.", dns.TypeA, "127.0.0.1", "",
			want{soa: "example.com.", aa: true}},
		{"missing name is NXDOMAIN", "nope.example.com.", dns.TypeA, "127.0.0.1", "",
			want{rcode: dns.RcodeNameError, soa: "example.com.", aa: true}},
		{"below an existing name is NXDOMAIN", "x.www.example.com.", dns.TypeA, "127.0.0.1", "",
			want{rcode: dns.RcodeNameError, soa: "example.com.", aa: true}},
		{"name outside every zone is REFUSED", "example.org.", dns.TypeA, "127.0.0.1", "",
			want{rcode: dns.RcodeRefused}},
		{"parent of a zone is REFUSED", "com.", dns.TypeNS, "127.0.0.1", "",
			want{rcode: dns.RcodeRefused}},
		{"dangling CNAME chases to NXDOMAIN (RFC 6604)", "dangling.example.com.", dns.TypeA, "127.0.0.1", "",
			want{rcode: dns.RcodeNameError, answers: []string{"CNAME missing.example.com."}, soa: "example.com.", aa: true}},
		{"CNAME loop stops", "loop1.example.com.", dns.TypeA, "127.0.0.1", "",
			want{answers: []string{"CNAME loop2.example.com.", "CNAME loop1.example.com."}, aa: true}},
		{"plain set, all values", "www.example.com.", dns.TypeA, "127.0.0.1", "",
			want{answers: []string{"A 192.0.2.10", "A 192.0.2.11"}, aa: true}},
		{"ANY lists every type", "www.example.com.", dns.TypeANY, "127.0.0.1", "",
			want{answers: []string{"A 192.0.2.10", "A 192.0.2.11", `TXT "plain text"`}, aa: true}},
		{"apex NS", "example.com.", dns.TypeNS, "127.0.0.1", "",
			want{answers: []string{"NS ns1.example.com."}, aa: true}},
		{"apex SOA", "amazonaws.com.", dns.TypeSOA, "127.0.0.1", "",
			want{answers: []string{"SOA ns1.amazonaws.com. hostmaster.amazonaws.com. 1 7200 900 1209600 60"}, aa: true}},
		{"zone transfer is REFUSED", "example.com.", dns.TypeAXFR, "127.0.0.1", "",
			want{rcode: dns.RcodeRefused}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := question(tc.qname, tc.qtype)
			if tc.ecs != "" {
				q = withECS(q, tc.ecs)
			}
			checkReply(t, exchange(t, s, q, tc.src, false), tc.want)
		})
	}
}

func TestIncludeTargetRecordsOff(t *testing.T) {
	s := newRigServer(t, func(c *Config) { c.Zones[0].IncludeTargetRecords = false })
	got := exchange(t, s, question(globalName, dns.TypeA), "127.0.1.1", false)
	checkReply(t, got, want{answers: []string{"CNAME " + usEast1}, aa: true})
	got = exchange(t, s, question("dangling.example.com.", dns.TypeA), "127.0.1.1", false)
	checkReply(t, got, want{answers: []string{"CNAME missing.example.com."}, aa: true})
}

func TestCaseInsensitiveAndQuestionPreserved(t *testing.T) {
	s := newRigServer(t, nil)
	const asked = "GLOBAL.iot.Example.COM."
	got := exchange(t, s, question(asked, dns.TypeA), "127.0.1.1", false)
	if len(got.Question) != 1 || got.Question[0].Name != asked {
		t.Fatalf("question %v, want %s", got.Question, asked)
	}
	if len(got.Answer) != 2 || got.Answer[0].Header().Name != asked {
		t.Fatalf("answer %v, want owner %s first", got.Answer, asked)
	}
	// The shared record must not have been renamed.
	again := exchange(t, s, question(globalName, dns.TypeA), "127.0.1.1", false)
	if again.Answer[0].Header().Name != globalName {
		t.Fatalf("owner %s after a mixed-case query, want %s", again.Answer[0].Header().Name, globalName)
	}
	got = exchange(t, s, question("NOPE.Example.Com.", dns.TypeA), "127.0.1.1", false)
	checkReply(t, got, want{rcode: dns.RcodeNameError, soa: "example.com.", aa: true})
}

func TestHeaderHandling(t *testing.T) {
	s := newRigServer(t, nil)
	tests := []struct {
		name      string
		build     func() *dns.Msg
		rcode     int
		wantOPT   bool
		wantDO    bool
		questions int
	}{
		{"NOTIFY is not implemented", func() *dns.Msg {
			q := question("example.com.", dns.TypeSOA)
			q.Opcode = dns.OpcodeNotify
			return q
		}, dns.RcodeNotImplemented, false, false, 1},
		{"UPDATE is not implemented", func() *dns.Msg {
			q := question("example.com.", dns.TypeSOA)
			q.Opcode = dns.OpcodeUpdate
			return q
		}, dns.RcodeNotImplemented, false, false, 1},
		{"two questions are a format error", func() *dns.Msg {
			q := question("www.example.com.", dns.TypeA)
			q.Question = append(q.Question, dns.Question{Name: "example.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
			return q
		}, dns.RcodeFormatError, false, false, 2},
		{"no question is a format error", func() *dns.Msg {
			q := question("www.example.com.", dns.TypeA)
			q.Question = nil
			return q
		}, dns.RcodeFormatError, false, false, 0},
		{"two OPT records are a format error", func() *dns.Msg {
			q := question("www.example.com.", dns.TypeA).SetEdns0(1232, false)
			q.Extra = append(q.Extra, q.Extra[0])
			return q
		}, dns.RcodeFormatError, false, false, 1},
		{"EDNS version 1 gets BADVERS", func() *dns.Msg {
			q := question("www.example.com.", dns.TypeA).SetEdns0(1232, false)
			q.IsEdns0().SetVersion(1)
			return q
		}, dns.RcodeBadVers, true, false, 1},
		{"class CHAOS is refused", func() *dns.Msg {
			q := question("version.bind.", dns.TypeTXT)
			q.Question[0].Qclass = dns.ClassCHAOS
			return q
		}, dns.RcodeRefused, false, false, 1},
		{"OPT answered with OPT, DO copied", func() *dns.Msg {
			return question("www.example.com.", dns.TypeA).SetEdns0(4096, true)
		}, dns.RcodeSuccess, true, true, 1},
		{"no OPT, no OPT back", func() *dns.Msg {
			return question("www.example.com.", dns.TypeA)
		}, dns.RcodeSuccess, false, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, s, tc.build(), "127.0.0.1", false)
			if got.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[got.Rcode], dns.RcodeToString[tc.rcode])
			}
			opt := got.IsEdns0()
			if (opt != nil) != tc.wantOPT {
				t.Errorf("OPT %v, want present=%v", opt, tc.wantOPT)
			}
			if opt != nil && opt.Do() != tc.wantDO {
				t.Errorf("DO %v, want %v", opt.Do(), tc.wantDO)
			}
			if opt != nil && opt.UDPSize() != advertisedUDPSize {
				t.Errorf("payload size %d, want %d", opt.UDPSize(), advertisedUDPSize)
			}
			if len(got.Question) != tc.questions {
				t.Errorf("question %v, want %d entries echoed", got.Question, tc.questions)
			}
		})
	}
}

func TestResponsesAreIgnored(t *testing.T) {
	s := newRigServer(t, nil)
	q := question("www.example.com.", dns.TypeA)
	q.Response = true
	w := &recorder{}
	s.ServeDNS(w, q)
	if len(w.msgs) != 0 {
		t.Fatalf("answered a response: %v", w.msgs)
	}
}

func TestTruncation(t *testing.T) {
	s := newRigServer(t, nil)
	tests := []struct {
		name    string
		build   func() *dns.Msg
		tcp     bool
		wantTC  bool
		answers int
	}{
		{"UDP without EDNS is cut at 512", func() *dns.Msg { return question("big.example.com.", dns.TypeTXT) }, false, true, -1},
		{"UDP with a 512 payload is cut", func() *dns.Msg { return question("big.example.com.", dns.TypeTXT).SetEdns0(512, false) }, false, true, -1},
		{"UDP with a 1232 payload fits", func() *dns.Msg { return question("big.example.com.", dns.TypeTXT).SetEdns0(1232, false) }, false, false, 8},
		{"TCP is never cut", func() *dns.Msg { return question("big.example.com.", dns.TypeTXT) }, true, false, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, s, tc.build(), "127.0.0.1", tc.tcp)
			if got.Truncated != tc.wantTC {
				t.Errorf("TC %v, want %v", got.Truncated, tc.wantTC)
			}
			if tc.answers >= 0 && len(got.Answer) != tc.answers {
				t.Errorf("%d answers, want %d", len(got.Answer), tc.answers)
			}
			if tc.wantTC && len(got.Answer) >= 8 {
				t.Errorf("TC set but all %d answers present", len(got.Answer))
			}
		})
	}
}

func TestFailover(t *testing.T) {
	tests := []struct {
		name      string
		unhealthy []string
		qname     string
		qtype     uint16
		src       string
		want      []string // answer data; nil = empty answer
	}{
		{"healthy region answers", nil, globalName, dns.TypeCNAME, "127.0.1.1", []string{"CNAME " + usEast1}},
		{"unhealthy continent falls to the default", []string{"us-east-1"}, globalName, dns.TypeCNAME, "127.0.1.1", []string{"CNAME " + euWest1}},
		{"other locations unaffected", []string{"us-east-1"}, globalName, dns.TypeCNAME, "127.0.3.1", []string{"CNAME " + apNE1}},
		// Route 53: every applicable set down answers the smallest location.
		{"unhealthy continent and default: the continent", []string{"us-east-1", "default"}, globalName, dns.TypeCNAME, "127.0.1.1", []string{"CNAME " + usEast1}},
		{"all sets down count as healthy", []string{"us-east-1", "eu-west-1", "default", "ap-northeast-1"}, globalName, dns.TypeCNAME, "127.0.1.1", []string{"CNAME " + usEast1}},
		{"sole set down still answers", []string{"jp"}, "jp-only.example.com.", dns.TypeA, "127.0.3.1", []string{"A 127.0.0.13"}},
	}
	// A US-WA client walks up the ladder as sets go down; once every set
	// that applies to it is down (a healthy "oc" set does not apply) the
	// smallest location answers.
	ladder := []struct {
		down []string
		want string
	}{
		{nil, `TXT "us-wa"`},
		{[]string{"us-wa"}, `TXT "us"`},
		{[]string{"us-wa", "us"}, `TXT "na"`},
		{[]string{"us-wa", "us", "na"}, `TXT "default"`},
		{[]string{"us-wa", "us", "na", "fallback"}, `TXT "us-wa"`},
		{[]string{"us-wa", "us", "na", "fallback", "oc"}, `TXT "us-wa"`},
	}
	for _, step := range ladder {
		var w []string
		if step.want != "" {
			w = []string{step.want}
		}
		tests = append(tests, struct {
			name      string
			unhealthy []string
			qname     string
			qtype     uint16
			src       string
			want      []string
		}{"ladder down " + strings.Join(step.down, ","), step.down, "ladder.example.com.", dns.TypeTXT, "127.0.0.1", w})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newRigServer(t, nil)
			for _, id := range tc.unhealthy {
				if err := s.SetHealthy(id, false); err != nil {
					t.Fatal(err)
				}
			}
			q := question(tc.qname, tc.qtype)
			if tc.qname == "ladder.example.com." {
				q = withECS(q, "100.64.1.0/24") // US-WA
			}
			got := exchange(t, s, q, tc.src, false)
			if a := answerData(got); !slices.Equal(a, tc.want) {
				t.Fatalf("answers %q, want %q", a, tc.want)
			}
			if len(tc.want) == 0 && (got.Rcode != dns.RcodeSuccess || len(got.Ns) != 1) {
				t.Fatalf("empty answer: rcode %s authority %v, want NOERROR with SOA", dns.RcodeToString[got.Rcode], got.Ns)
			}
		})
	}
}

func TestSetHealthyRestores(t *testing.T) {
	s := newRigServer(t, nil)
	q := func() []string {
		return answerData(exchange(t, s, question(globalName, dns.TypeCNAME), "127.0.1.1", false))
	}
	if err := s.SetHealthy("us-east-1", false); err != nil {
		t.Fatal(err)
	}
	if got := q(); !slices.Equal(got, []string{"CNAME " + euWest1}) {
		t.Fatalf("while down: %q", got)
	}
	if err := s.SetHealthy("us-east-1", true); err != nil {
		t.Fatal(err)
	}
	if got := q(); !slices.Equal(got, []string{"CNAME " + usEast1}) {
		t.Fatalf("after recovery: %q", got)
	}
}

func TestSetHealthyUnknown(t *testing.T) {
	s := newRigServer(t, nil)
	err := s.SetHealthy("no-such-set", false)
	if !errors.Is(err, ErrUnknownSetIdentifier) {
		t.Fatalf("SetHealthy unknown: %v, want ErrUnknownSetIdentifier", err)
	}
}

// TestHealthFlipsWhileServing runs queries while a region flaps; under
// -race this checks the health flags, and every answer must be one of the
// two the flapping allows.
func TestHealthFlipsWhileServing(t *testing.T) {
	s := newRigServer(t, nil)
	done := make(chan struct{})
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if err := s.SetHealthy("us-east-1", i%2 == 0); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	allowed := []string{"CNAME " + usEast1, "CNAME " + euWest1}
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			for range 200 {
				q := question(globalName, dns.TypeCNAME)
				w := &recorder{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 1, 1), Port: 5300}}
				s.ServeDNS(w, q)
				if a := answerData(w.msgs[0]); len(a) != 1 || !slices.Contains(allowed, a[0]) {
					errs <- strings.Join(a, ", ")
					return
				}
			}
			errs <- ""
		}()
	}
	for range 4 {
		if bad := <-errs; bad != "" {
			t.Errorf("answer %q during flapping", bad)
		}
	}
	close(done)
	<-flipped
}

// Route 53's own continent table (resource-record-sets-values-geo,
// "Location"; PROTOCOL.md §7.7) places countries where GeoNames does not.
func TestRoute53ContinentTable(t *testing.T) {
	tests := []struct {
		country, continent string
	}{
		{"TR", "EU"},
		{"XK", "EU"},
		{"TL", "OC"},
		{"DE", "EU"},
		{"JP", "AS"},
	}
	for _, tc := range tests {
		t.Run(tc.country, func(t *testing.T) {
			if got := countryContinent[tc.country]; got != tc.continent {
				t.Fatalf("continent of %s = %q, want %q", tc.country, got, tc.continent)
			}
			cfg := Config{
				Zones: []Zone{{Name: "example.com", Records: []Record{
					{Name: "g.example.com", Type: "A", Values: []string{"192.0.2.1"}, SetIdentifier: "c", Geo: &GeoLocation{Country: tc.country}},
					{Name: "g.example.com", Type: "A", Values: []string{"192.0.2.2"}, SetIdentifier: "k", Geo: &GeoLocation{Continent: tc.continent}},
				}}},
				Locations: []Location{{CIDR: "10.0.0.0/8", Country: tc.country, Continent: tc.continent}},
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}
