package mockcloud

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fleetboot/fleetboot/mockcloud/route53"
)

// Config describes a whole rig: regions, the geolocation DNS in front of them and
// the control plane. testdata/rig.yaml is the default rig.
type Config struct {
	// AccountID is the 12-digit account every ARN names.
	AccountID string `yaml:"accountId"`
	// EndpointPrefix is the account's ATS prefix: <prefix>-ats.iot.<region>.amazonaws.com.
	EndpointPrefix string `yaml:"endpointPrefix"`
	// GlobalName is the custom domain every region serves and the geolocation name
	// devices resolve.
	GlobalName string `yaml:"globalName"`
	// TTL of the DNS records the rig generates, in seconds.
	TTL uint32 `yaml:"ttl"`
	// IncludeTargetRecords makes the geolocation answer carry the regional
	// endpoint's addresses next to the CNAME (as Route 53 does for its own names).
	IncludeTargetRecords bool `yaml:"includeTargetRecords"`

	DNS          DNSConfig          `yaml:"dns"`
	ControlPlane ControlPlaneConfig `yaml:"controlPlane"`
	Regions      []RegionConfig     `yaml:"regions"`
	// Locations maps source networks and client subnets to places on earth.
	Locations []route53.Location `yaml:"locations"`
	// IoT holds switches shared by every region (PROTOCOL.md [unconf] items).
	IoT IoTConfig `yaml:"iot"`
	// CACertificates are registered at start, as `aws iot register-ca-certificate`
	// would; the maker CA of the data folder is always registered besides.
	CACertificates []CACertificateConfig `yaml:"caCertificates"`
}

// CACertificateConfig registers a CA certificate in some or all regions.
type CACertificateConfig struct {
	// Certificate is a PEM file; a relative path is relative to the rig file.
	Certificate           string `yaml:"certificate"`
	AllowAutoRegistration bool   `yaml:"allowAutoRegistration"`
	// TemplateFile is a JITP template (JSON); without one an auto-registered
	// certificate stays PENDING_ACTIVATION (JITR).
	TemplateFile string `yaml:"templateFile"`
	// Regions lists where to register it; empty means every region.
	Regions []string `yaml:"regions"`
}

// DNSConfig places the geolocation DNS server.
type DNSConfig struct {
	Addr string `yaml:"addr"`
}

// ControlPlaneConfig places the AWS IoT REST-shaped HTTP API.
type ControlPlaneConfig struct {
	Addr string `yaml:"addr"`
}

// RegionConfig is one AWS IoT Core region of the rig.
type RegionConfig struct {
	Name string `yaml:"name"`
	// Addr is the MQTT over TLS listener, loopback only.
	Addr string `yaml:"addr"`
	// Serves lists the locations whose devices the global name sends here.
	Serves []route53.GeoLocation `yaml:"serves"`
}

// IoTConfig holds behaviour switches applied to every region.
type IoTConfig struct {
	AllowMissingSNI bool     `yaml:"allowMissingSNI"`
	AllowUnknownSNI bool     `yaml:"allowUnknownSNI"`
	ReasonCodes     bool     `yaml:"reasonCodes"`
	KeyPoolSize     int      `yaml:"keyPoolSize"`
	TokenLifetime   Duration `yaml:"tokenLifetime"`

	// ConnackOnRefusal answers a refused MQTT 3.1.1 CONNECT with CONNACK 5 (2 for
	// a client id) before closing; AWS closes it without CONNACK (the default).
	ConnackOnRefusal bool `yaml:"connackOnRefusal"`
	// JITPKeepFirstConnection lets the connection that registered a certificate
	// just in time go on to CONNACK. AWS drops it (the default, false).
	JITPKeepFirstConnection bool `yaml:"jitpKeepFirstConnection"`
	// RegisterThingReplay answers a repeated RegisterThing (same token, template
	// and parameters) with the same reply instead of refusing the used token.
	// AWS's behaviour is unconfirmed; the default refuses (PROTOCOL.md §1.6).
	RegisterThingReplay bool `yaml:"registerThingReplay"`
}

// Duration is written "1h" in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 1h", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// ParseConfig decodes a rig file; unknown keys are errors.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("rig config: %w", err)
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadConfig reads a rig file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	base := filepath.Dir(path)
	for i := range c.CACertificates {
		ca := &c.CACertificates[i]
		for _, p := range []*string{&ca.Certificate, &ca.TemplateFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(base, *p)
			}
		}
	}
	return c, nil
}

func (c *Config) setDefaults() {
	if c.AccountID == "" {
		c.AccountID = "123456789012"
	}
	if c.EndpointPrefix == "" {
		c.EndpointPrefix = "a1b2c3d4e5f6g7"
	}
	if c.GlobalName == "" {
		c.GlobalName = "global.iot.example.com"
	}
	if c.TTL == 0 {
		c.TTL = 60
	}
}

var (
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
	prefixRe  = regexp.MustCompile(`^[a-z0-9]{1,32}$`)
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
)

// Validate names the first wrong key.
func (c *Config) Validate() error {
	if !accountRe.MatchString(c.AccountID) {
		return fmt.Errorf("rig config accountId: %q is not 12 digits", c.AccountID)
	}
	if !prefixRe.MatchString(c.EndpointPrefix) {
		return fmt.Errorf("rig config endpointPrefix: %q: want lower-case letters and digits", c.EndpointPrefix)
	}
	if c.GlobalName == "" || strings.ContainsAny(c.GlobalName, " /:") {
		return fmt.Errorf("rig config globalName: %q is not a DNS name", c.GlobalName)
	}
	if c.DNS.Addr != "" {
		if err := loopbackAddr(c.DNS.Addr); err != nil {
			return fmt.Errorf("rig config dns.addr: %w", err)
		}
	}
	if c.ControlPlane.Addr != "" {
		if err := loopbackAddr(c.ControlPlane.Addr); err != nil {
			return fmt.Errorf("rig config controlPlane.addr: %w", err)
		}
	}
	if len(c.Regions) == 0 {
		return errors.New("rig config regions: none")
	}
	seen := map[string]bool{}
	for i, r := range c.Regions {
		key := fmt.Sprintf("rig config regions[%d]", i)
		if !regionRe.MatchString(r.Name) {
			return fmt.Errorf("%s.name: %q is not a region name like eu-west-1", key, r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("%s.name: %q appears twice", key, r.Name)
		}
		seen[r.Name] = true
		if r.Addr != "" {
			if err := loopbackAddr(r.Addr); err != nil {
				return fmt.Errorf("%s.addr: %w", key, err)
			}
		}
	}
	for i, ca := range c.CACertificates {
		key := fmt.Sprintf("rig config caCertificates[%d]", i)
		if ca.Certificate == "" {
			return fmt.Errorf("%s.certificate: empty", key)
		}
		if ca.TemplateFile != "" && !ca.AllowAutoRegistration {
			return fmt.Errorf("%s.templateFile: a JITP template needs allowAutoRegistration: true", key)
		}
		for j, r := range ca.Regions {
			if !seen[r] {
				return fmt.Errorf("%s.regions[%d]: %q is not a region of this rig", key, j, r)
			}
		}
	}
	if c.IoT.KeyPoolSize < 0 {
		return fmt.Errorf("rig config iot.keyPoolSize: %d is negative", c.IoT.KeyPoolSize)
	}
	if c.IoT.TokenLifetime < 0 {
		return errors.New("rig config iot.tokenLifetime: negative")
	}
	return nil
}

// loopbackAddr accepts only loopback listeners: the rig never serves anything else.
func loopbackAddr(s string) error {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("%q is not IP:port", s)
	}
	if !ap.Addr().IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (127.0.0.0/8 or ::1)", s)
	}
	return nil
}
