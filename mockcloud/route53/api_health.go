package route53

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// healthCheck is a Route 53 health check. The mock does not probe the
// endpoint: passing says what the checkers see (true until
// SetHealthCheckStatus says otherwise), and the Server's flag for it holds
// the resulting health, after Inverted and Disabled.
type healthCheck struct {
	id, callerRef string
	cfg           healthCheckConfig // with Route 53's defaults filled in
	passing       bool
}

// healthy is the check's health as DNS uses it: a disabled check is
// healthy, an inverted one healthy when its endpoint fails.
func (h *healthCheck) healthy() bool {
	if h.cfg.Disabled != nil && *h.cfg.Disabled {
		return true
	}
	inverted := h.cfg.Inverted != nil && *h.cfg.Inverted
	return h.passing != inverted
}

var healthCheckTypes = []string{"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP", "CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"}

// checkerRegions are the regions Route 53 checks from by default, one
// observation each in GetHealthCheckStatus.
var checkerRegions = []string{"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"}

func int64Ptr(n int64) *int64 { return &n }
func boolPtr(b bool) *bool    { return &b }

// validateHealthCheck applies Route 53's rules to a HealthCheckConfig and
// fills in its defaults.
func validateHealthCheck(cfg *healthCheckConfig) error {
	if cfg.Type == nil {
		return errInvalidInput("Invalid XML ; cvc-complex-type.2.4.b: the content of element 'HealthCheckConfig' is not complete: 'Type' is expected.")
	}
	typ := *cfg.Type
	if !slices.Contains(healthCheckTypes, typ) {
		return errInvalidInput("Invalid XML ; cvc-enumeration-valid: Value '%s' is not facet-valid with respect to enumeration '[%s]'. It must be a value from the enumeration.", typ, strings.Join(healthCheckTypes, ", "))
	}
	if cfg.IPAddress != nil {
		if _, err := netip.ParseAddr(*cfg.IPAddress); err != nil {
			return errInvalidInput("Invalid parameter : IPAddress %q is not an IPv4 or IPv6 address", *cfg.IPAddress)
		}
	}
	switch typ {
	case "HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP":
		if cfg.IPAddress == nil && cfg.FullyQualifiedDomainName == nil {
			return errInvalidInput("Invalid parameter : a %s health check needs an IPAddress or a FullyQualifiedDomainName", typ)
		}
		if strings.HasSuffix(typ, "_STR_MATCH") && cfg.SearchString == nil {
			return errInvalidInput("Invalid parameter : a %s health check needs a SearchString", typ)
		}
		if cfg.Port == nil {
			switch {
			case typ == "TCP":
				return errInvalidInput("Invalid parameter : a TCP health check needs a Port")
			case strings.HasPrefix(typ, "HTTPS"):
				cfg.Port = int64Ptr(443)
			default:
				cfg.Port = int64Ptr(80)
			}
		}
		if *cfg.Port < 1 || *cfg.Port > 65535 {
			return errInvalidInput("Invalid parameter : Port %d is not 1-65535", *cfg.Port)
		}
		if cfg.RequestInterval == nil {
			cfg.RequestInterval = int64Ptr(30)
		}
		if *cfg.RequestInterval != 10 && *cfg.RequestInterval != 30 {
			return errInvalidInput("Invalid parameter : RequestInterval must be 10 or 30")
		}
		if cfg.FailureThreshold == nil {
			cfg.FailureThreshold = int64Ptr(3)
		}
		if *cfg.FailureThreshold < 1 || *cfg.FailureThreshold > 10 {
			return errInvalidInput("Invalid parameter : FailureThreshold must be 1-10")
		}
		if cfg.MeasureLatency == nil {
			cfg.MeasureLatency = boolPtr(false)
		}
		if cfg.EnableSNI == nil && strings.HasPrefix(typ, "HTTPS") {
			cfg.EnableSNI = boolPtr(true)
		}
	case "CALCULATED":
		if cfg.ChildHealthChecks == nil {
			return errInvalidInput("Invalid parameter : a CALCULATED health check needs ChildHealthChecks")
		}
	case "CLOUDWATCH_METRIC":
		if cfg.AlarmIdentifier == nil {
			return errInvalidInput("Invalid parameter : a CLOUDWATCH_METRIC health check needs an AlarmIdentifier")
		}
	case "RECOVERY_CONTROL":
		if cfg.RoutingControlArn == nil {
			return errInvalidInput("Invalid parameter : a RECOVERY_CONTROL health check needs a RoutingControlArn")
		}
	}
	if cfg.Inverted == nil {
		cfg.Inverted = boolPtr(false)
	}
	if cfg.Disabled == nil {
		cfg.Disabled = boolPtr(false)
	}
	return nil
}

func (h *healthCheck) out() healthCheckXML {
	return healthCheckXML{ID: h.id, CallerReference: h.callerRef, HealthCheckConfig: h.cfg, HealthCheckVersion: 1}
}

func (a *API) createHealthCheck(c *call) (int, any, error) {
	var req createHealthCheckRequest
	if err := decodeXML(c.body, &req); err != nil {
		return 0, nil, xmlError(err)
	}
	switch {
	case req.CallerReference == nil || req.HealthCheckConfig == nil:
		return 0, nil, errInvalidInput("Invalid XML ; cvc-complex-type.2.4.b: the content of element 'CreateHealthCheckRequest' is not complete: CallerReference and HealthCheckConfig are required.")
	case len(*req.CallerReference) < 1 || len(*req.CallerReference) > 64:
		return 0, nil, errInvalidInput("1 validation error detected: Value '%s' at 'callerReference' failed to satisfy constraint: Member must have length between 1 and 64", *req.CallerReference)
	}
	cfg := *req.HealthCheckConfig
	if err := validateHealthCheck(&cfg); err != nil {
		return 0, nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.usedCheckRefs[*req.CallerReference] {
		return 0, nil, &apiError{http.StatusConflict, "HealthCheckAlreadyExists",
			"A health check with the specified caller reference was deleted; caller references are not reused."}
	}
	for _, h := range a.checks {
		if h.callerRef != *req.CallerReference {
			continue
		}
		// The same request again gets the same check; other settings
		// under a used caller reference are refused.
		if reflect.DeepEqual(h.cfg, cfg) {
			c.header.Set("Location", "https://route53.amazonaws.com/2013-04-01/healthcheck/"+h.id)
			return http.StatusCreated, healthCheckResponse{XMLName: responseName("CreateHealthCheck"), HealthCheck: h.out()}, nil
		}
		return 0, nil, &apiError{http.StatusConflict, "HealthCheckAlreadyExists",
			"A health check with the specified caller reference already exists and has different settings."}
	}
	h := &healthCheck{id: a.requestID(), callerRef: *req.CallerReference, cfg: cfg, passing: true}
	a.checks[h.id] = h
	a.srv.AddHealthCheck(h.id)
	if err := a.srv.SetHealthCheck(h.id, h.healthy()); err != nil {
		return 0, nil, err
	}
	c.header.Set("Location", "https://route53.amazonaws.com/2013-04-01/healthcheck/"+h.id)
	return http.StatusCreated, healthCheckResponse{XMLName: responseName("CreateHealthCheck"), HealthCheck: h.out()}, nil
}

func (a *API) getHealthCheck(c *call) (int, any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.checks[c.args[0]]
	if h == nil {
		return 0, nil, errNoSuchHealthCheck(c.args[0])
	}
	return http.StatusOK, healthCheckResponse{XMLName: responseName("GetHealthCheck"), HealthCheck: h.out()}, nil
}

// DeleteHealthCheck removes the check even while records name it, as
// Route 53 does; those records then have no health check.
func (a *API) deleteHealthCheck(c *call) (int, any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := c.args[0]
	if a.checks[id] == nil {
		return 0, nil, errNoSuchHealthCheck(id)
	}
	a.usedCheckRefs[a.checks[id].callerRef] = true
	delete(a.checks, id)
	if err := a.srv.RemoveHealthCheck(id); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, emptyResponse{XMLName: responseName("DeleteHealthCheck")}, nil
}

func (a *API) getHealthCheckStatus(c *call) (int, any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.checks[c.args[0]]
	if h == nil {
		return 0, nil, errNoSuchHealthCheck(c.args[0])
	}
	switch *h.cfg.Type {
	case "CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL":
		return 0, nil, errInvalidInput("Invalid request: GetHealthCheckStatus does not report %s health checks", *h.cfg.Type)
	}
	status := "Success: HTTP Status Code 200, OK"
	switch {
	case !h.passing && *h.cfg.Type == "TCP":
		status = "Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall."
	case !h.passing:
		status = "Failure: HTTP Status Code 503, Service Unavailable"
	case *h.cfg.Type == "TCP":
		status = "Success: TCP connection established"
	}
	regions := checkerRegions
	if h.cfg.Regions != nil && len(h.cfg.Regions.Region) > 0 {
		regions = h.cfg.Regions.Region
	}
	now := timestamp(a.now())
	resp := getHealthCheckStatusResponse{}
	for i, reg := range regions {
		resp.Observations = append(resp.Observations, healthCheckObservation{
			Region:       reg,
			IPAddress:    fmt.Sprintf("15.177.%d.%d", 2+8*i, 10+i), // Route 53's checker range 15.177.0.0/18
			StatusReport: statusReport{Status: status, CheckedTime: now},
		})
	}
	return http.StatusOK, resp, nil
}

// SetHealthCheckStatus makes the checkers of health check id see its
// endpoint pass or fail, as a test rig's way of failing an endpoint; DNS
// answers and GetHealthCheckStatus change at once.
func (a *API) SetHealthCheckStatus(id string, passing bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.checks[id]
	if h == nil {
		return fmt.Errorf("set health check status of %q: %w", id, ErrUnknownHealthCheck)
	}
	h.passing = passing
	if err := a.srv.SetHealthCheck(id, h.healthy()); err != nil {
		return err
	}
	return a.saveLocked()
}

// defaultResolver is where TestDNSAnswer's resolver is without resolverip:
// Route 53 then uses "a DNS resolver in the AWS US East (N. Virginia)
// Region".
var defaultResolver = geoPoint{continent: "NA", country: "US", subdivision: "VA"}

// testDNSAnswer answers as the DNS server would answer the query from
// resolverip (placed by the location table; without it, a resolver in
// Virginia), with the EDNS Client Subnet option when edns0clientsubnetip is
// given, which then places the client.
func (a *API) testDNSAnswer(c *call) (int, any, error) {
	zoneID, _ := c.query("hostedzoneid")
	recordName, hasName := c.query("recordname")
	recordType, hasType := c.query("recordtype")
	switch {
	case zoneID == "":
		return 0, nil, errInvalidInput("Invalid request: hostedzoneid is required")
	case !hasName || recordName == "":
		return 0, nil, errInvalidInput("Invalid request: recordname is required")
	case !hasType || !slices.Contains(rrTypes, recordType):
		return 0, nil, errInvalidInput("Invalid request: recordtype must be one of %s", strings.Join(rrTypes, ", "))
	}
	name, ok := canonicalName(recordName)
	if !ok {
		return 0, nil, errInvalidInput("Invalid request: %q is not a valid domain name", recordName)
	}
	var resolver netip.Addr
	at := &defaultResolver
	if s, ok := c.query("resolverip"); ok && s != "" {
		at = nil
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return 0, nil, errInvalidInput("Invalid request: resolverip %q is not an IP address", s)
		}
		resolver = ip.Unmap()
	}
	q := new(dns.Msg)
	q.SetQuestion(name, dns.StringToType[recordType])
	if s, ok := c.query("edns0clientsubnetip"); ok && s != "" {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return 0, nil, errInvalidInput("Invalid request: edns0clientsubnetip %q is not an IP address", s)
		}
		ip = ip.Unmap()
		bits := 24 // Route 53's defaults when no mask is given
		if ip.Is6() {
			bits = 64
		}
		if m, ok := c.query("edns0clientsubnetmask"); ok && m != "" {
			n, err := strconv.Atoi(m)
			if err != nil || n < 0 || n > ip.BitLen() {
				return 0, nil, errInvalidInput("Invalid request: edns0clientsubnetmask %q is not 0-%d", m, ip.BitLen())
			}
			bits = n
		}
		pfx := netip.PrefixFrom(ip, bits).Masked()
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: ecsFamilyIPv4, SourceNetmask: uint8(bits), Address: net.IP(pfx.Addr().AsSlice())}
		if ip.Is6() {
			e.Family = ecsFamilyIPv6
		}
		q.SetEdns0(advertisedUDPSize, false)
		q.IsEdns0().Option = append(q.IsEdns0().Option, e)
	} else if _, ok := c.query("edns0clientsubnetmask"); ok {
		return 0, nil, errInvalidInput("Invalid request: edns0clientsubnetmask needs edns0clientsubnetip")
	}

	a.mu.Lock()
	zs, err := a.syncLocked()
	if err != nil {
		a.mu.Unlock()
		return 0, nil, err
	}
	hz, i, err := a.zoneLocked(zoneID, zs)
	a.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	if !dns.IsSubDomain(hz.name, name) {
		return 0, nil, errInvalidInput("Invalid request: %s is not in hosted zone %s", name, hz.name)
	}
	m := a.srv.cat.Load().answerFrom(q, resolver, true, at)
	resp := testDNSAnswerResponse{
		RecordName: name, RecordType: recordType, RecordData: []string{},
		ResponseCode: dns.RcodeToString[m.Rcode], Protocol: "UDP",
	}
	if ns := nameServers(zs[i], hz.name); len(ns) > 0 {
		resp.Nameserver = ns[0]
	}
	for _, rr := range m.Answer {
		resp.RecordData = append(resp.RecordData, strings.TrimPrefix(rr.String(), rr.Header().String()))
	}
	return http.StatusOK, resp, nil
}
