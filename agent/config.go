package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/fleetboot/fleetboot/internal/safefile"
	"github.com/fleetboot/fleetboot/provisioning"
)

// DefaultConfigPath is where a gateway image puts the config file.
const DefaultConfigPath = "/etc/fleetboot/config.yaml"

// DefaultStateDir holds everything per device.
const DefaultStateDir = "/var/lib/fleetboot"

// Provisioning modes.
const (
	ModeKeys = "keys" // CreateKeysAndCertificate: the cloud makes the key
	ModeCSR  = "csr"  // CreateCertificateFromCsr: the key never leaves the device
	ModeJITP = "jitp" // a factory certificate from the maker's CA, registered on first contact
)

// Re-homing policies: what a provisioned device does when its home region no longer
// knows its certificate.
const (
	RehomeNever = "never" // keep retrying with the permanent identity
	RehomeClaim = "claim" // provision again with the claim certificate, if still present
)

// Config is the agent's configuration file. It holds nothing per device, so one file
// serves a whole rig; per-device facts come from flags, the environment or the state.
type Config struct {
	StateDir     string             `yaml:"stateDir"`
	Endpoint     EndpointConfig     `yaml:"endpoint"`
	DNS          DNSConfig          `yaml:"dns"`
	Provisioning ProvisioningConfig `yaml:"provisioning"`
	Keystore     KeystoreConfig     `yaml:"keystore"`
	Device       DeviceConfig       `yaml:"device"`
	Log          LogConfig          `yaml:"log"`
}

// EndpointConfig names the cloud.
type EndpointConfig struct {
	// GlobalName is resolved through geolocation DNS and is the TLS server name of
	// every connection, also to the pinned regional endpoint.
	GlobalName string `yaml:"globalName"`
	Port       int    `yaml:"port"`
	// RootCA is a PEM bundle of trust anchors for the server certificates.
	RootCA string `yaml:"rootCA"`
	// SystemRoots adds the system pool to RootCA.
	SystemRoots bool `yaml:"systemRoots"`
}

// DNSConfig steers endpoint resolution.
type DNSConfig struct {
	// Servers as host:port; empty uses /etc/resolv.conf.
	Servers []string `yaml:"servers"`
	// ClientSubnet is sent as EDNS Client Subnet, placing the device for geolocation.
	ClientSubnet string `yaml:"clientSubnet"`
	// SourceAddress is the local address DNS queries are sent from.
	SourceAddress string   `yaml:"sourceAddress"`
	Timeout       Duration `yaml:"timeout"`
}

// ProvisioningConfig selects and parameterises the first-boot flow.
type ProvisioningConfig struct {
	Mode     string `yaml:"mode"`
	Template string `yaml:"template"`
	// Format of fleet provisioning payloads: json or cbor.
	Format           string `yaml:"format"`
	ClaimCertificate string `yaml:"claimCertificate"`
	ClaimKey         string `yaml:"claimKey"`
	// Parameters are sent with RegisterThing; flags add per-device ones.
	Parameters map[string]string `yaml:"parameters"`
	// Timeout bounds one request/reply exchange.
	Timeout Duration `yaml:"timeout"`
	Rehome  string   `yaml:"rehome"`
}

// KeystoreConfig says where the device key lives.
type KeystoreConfig struct {
	// URI selects the backend: file:DIR (default <stateDir>/keys) or tpm:….
	URI string `yaml:"uri"`
	// KeyAlgorithm for keys made on the device: ecdsa-p256 or rsa-2048.
	KeyAlgorithm string `yaml:"keyAlgorithm"`
	// OwnerAuth is the TPM owner hierarchy's authorization, empty on most devices.
	// It is a secret: never logged, best set through FLEETBOOT_KEYSTORE_OWNER_AUTH.
	OwnerAuth string `yaml:"ownerAuth"`
}

// DeviceConfig shapes the permanent connection.
type DeviceConfig struct {
	// StatusTopic receives "online" on connect and, as the last will, "offline";
	// {thing} is replaced by the thing name.
	StatusTopic string   `yaml:"statusTopic"`
	KeepAlive   Duration `yaml:"keepAlive"`
	// ConfigPath receives the deviceConfiguration returned by RegisterThing, as JSON,
	// for other gateway software to read.
	ConfigPath string `yaml:"configPath"`
	// OnProvisioned is run once provisioning completes, with FLEETBOOT_* facts in its
	// environment.
	OnProvisioned string `yaml:"onProvisioned"`
}

// LogConfig sets the log output.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"` // console or json
}

// Duration is a time.Duration written as "30s" in YAML and the environment.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ConfigError names the key that is wrong and, once read from a file, the file.
type ConfigError struct {
	// Key is the key, or KeyFile for the document as a whole (a YAML syntax error,
	// an unknown key, a second document).
	Key string
	// File is the config file, set by LoadConfig.
	File string
	Err  error
}

// KeyFile is ConfigError.Key for a mistake in the document rather than in a value.
const KeyFile = "file"

func (e *ConfigError) Error() string {
	switch {
	case e.File == "":
		return fmt.Sprintf("config %s: %v", e.Key, e.Err)
	case e.Key == KeyFile:
		return fmt.Sprintf("config %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("config %s: %s: %v", e.File, e.Key, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// Ranges of the durations; each key's zero value stands for its default.
const (
	minDNSTimeout          = 100 * time.Millisecond
	maxDNSTimeout          = 60 * time.Second
	minProvisioningTimeout = time.Second
	maxProvisioningTimeout = 10 * time.Minute
)

// AWS IoT limits a topic the device publishes to must meet.
const (
	maxTopicBytes     = 256 // topic size, UTF-8 encoded
	maxThingNameBytes = 128 // a thing name, which {thing} in the status topic becomes
)

// ParseConfig decodes one YAML document. Unknown keys are errors, and so is what the
// decoder would otherwise change without a word: a second document, a number that
// is not an integer for an integer key (8883.5 would become 8883), an explicit
// zero for a key whose zero value stands for its default.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return &c, nil
		}
		return nil, &ConfigError{Key: KeyFile, Err: err}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, &ConfigError{Key: KeyFile, Err: fmt.Errorf("more than one YAML document: %w", err)}
	default:
		return nil, &ConfigError{Key: KeyFile, Err: fmt.Errorf("more than one YAML document (line %d starts the second)", next.Line)}
	}
	// The typed decode has no hook for scalars of a plain int, so the document is
	// walked again as nodes for what it accepted but would have changed.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ConfigError{Key: KeyFile, Err: err}
	}
	budget := 1 << 16
	if err := checkScalars(&root, reflect.TypeOf(c), "", &budget); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkScalars refuses, under key, a non-integer for an int field and an explicit
// zero for an int or Duration field. It descends into struct fields only (never
// into lists or maps), so it visits about as many nodes as the typed decode did;
// budget bounds it all the same against merge keys that repeat an alias.
func checkScalars(n *yaml.Node, t reflect.Type, key string, budget *int) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if *budget--; *budget < 0 {
		return &ConfigError{Key: KeyFile, Err: errors.New("too many aliases and merge keys")}
	}
	if n.Kind == yaml.DocumentNode {
		for _, d := range n.Content {
			if err := checkScalars(d, t, key, budget); err != nil {
				return err
			}
		}
		return nil
	}
	zero := func() error {
		return &ConfigError{Key: key, Err: fmt.Errorf("line %d: an explicit %.40s is refused: leave the key out for its default", n.Line, n.Value)}
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		// `port:` with no value decodes as absent, and means the default.
		return nil
	case t == durationType:
		if d, err := time.ParseDuration(n.Value); n.Kind == yaml.ScalarNode && err == nil && d == 0 {
			return zero()
		}
	case t.Kind() == reflect.Int:
		if n.Kind != yaml.ScalarNode {
			return nil // the typed decode refused it
		}
		if n.ShortTag() != "!!int" {
			return &ConfigError{Key: key, Err: fmt.Errorf("line %d: %.40q is not an integer", n.Line, n.Value)}
		}
		var v int64
		if n.Decode(&v) == nil && v == 0 {
			return zero()
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				// <<: *a or <<: [*a, *b] merges mappings into this one.
				for v.Kind == yaml.AliasNode && v.Alias != nil {
					v = v.Alias
				}
				merged := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					merged = v.Content
				}
				for _, m := range merged {
					if err := checkScalars(m, t, key, budget); err != nil {
						return err
					}
				}
				continue
			}
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				continue
			}
			sub := k.Value
			if key != "" {
				sub = key + "." + k.Value
			}
			if err := checkScalars(v, f.Type, sub, budget); err != nil {
				return err
			}
		}
	}
	return nil
}

// fieldByKey finds the struct field whose yaml tag is key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if yamlKey(t.Field(i)) == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func yamlKey(f reflect.StructField) string { return strings.Split(f.Tag.Get("yaml"), ",")[0] }

// LoadConfig reads and decodes path. It does not apply defaults or validate. Its
// errors name the file. The file must be a regular file of at most
// safefile.LimitConfig bytes: /dev/zero, a FIFO or a 100 MB file is refused from
// fstat, before a byte is read (the *safefile.Error says which).
func LoadConfig(path string) (*Config, error) {
	data, err := safefile.Read(path, safefile.Options{Kind: "config", Limit: safefile.LimitConfig})
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			return nil, &ConfigError{Key: ce.Key, File: path, Err: ce.Err}
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// SetDefaults fills what the file left empty and makes the state folder absolute,
// so that nothing derived from it (the keystore URI, the hook's environment) depends
// on the working folder or reads a relative folder's first name as a URI host.
func (c *Config) SetDefaults() {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if abs, err := filepath.Abs(c.StateDir); err == nil {
		c.StateDir = abs
	} // else the folder stays relative and Validate names it
	if c.Endpoint.Port == 0 {
		c.Endpoint.Port = 8883
	}
	if c.DNS.Timeout == 0 {
		c.DNS.Timeout = Duration(2 * time.Second)
	}
	if c.Provisioning.Mode == "" {
		c.Provisioning.Mode = ModeCSR
	}
	if c.Provisioning.Format == "" {
		c.Provisioning.Format = "json"
	}
	if c.Provisioning.Timeout == 0 {
		c.Provisioning.Timeout = Duration(30 * time.Second)
	}
	if c.Provisioning.Rehome == "" {
		c.Provisioning.Rehome = RehomeNever
	}
	if c.Keystore.URI == "" {
		// Path, not Opaque: an absolute folder gives file:///…, every character escaped.
		c.Keystore.URI = (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(c.StateDir, "keys"))}).String()
	}
	if c.Keystore.KeyAlgorithm == "" {
		c.Keystore.KeyAlgorithm = "ecdsa-p256"
	}
	if c.Device.StatusTopic == "" {
		c.Device.StatusTopic = "gateways/{thing}/status"
	}
	if c.Device.KeepAlive == 0 {
		c.Device.KeepAlive = Duration(60 * time.Second)
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "console"
	}
}

// Validate checks every value and names the first wrong key.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{Key: key, Err: fmt.Errorf(format, args...)}
	}
	if c.StateDir == "" {
		return bad("stateDir", "empty")
	}
	if !filepath.IsAbs(c.StateDir) {
		return bad("stateDir", "%q is relative: want an absolute folder", c.StateDir)
	}
	if err := validHostname(c.Endpoint.GlobalName); err != nil {
		return bad("endpoint.globalName", "%v", err)
	}
	if c.Endpoint.Port < 1 || c.Endpoint.Port > 65535 {
		return bad("endpoint.port", "%d is not a TCP port", c.Endpoint.Port)
	}
	if c.Endpoint.RootCA == "" && !c.Endpoint.SystemRoots {
		return bad("endpoint.rootCA", "empty and systemRoots is false: nothing to verify the server with")
	}
	for i, s := range c.DNS.Servers {
		if _, err := netip.ParseAddrPort(s); err != nil {
			return bad(fmt.Sprintf("dns.servers[%d]", i), "%q is not IP:port", s)
		}
	}
	if c.DNS.ClientSubnet != "" {
		if _, err := netip.ParsePrefix(c.DNS.ClientSubnet); err != nil {
			return bad("dns.clientSubnet", "%q is not a CIDR prefix like 198.51.100.0/24", c.DNS.ClientSubnet)
		}
	}
	if c.DNS.SourceAddress != "" {
		if _, err := netip.ParseAddr(c.DNS.SourceAddress); err != nil {
			return bad("dns.sourceAddress", "%q is not an IP address", c.DNS.SourceAddress)
		}
	}
	if d := c.DNS.Timeout.D(); d < minDNSTimeout || d > maxDNSTimeout {
		return bad("dns.timeout", "%s: want %s to %s", d, minDNSTimeout, maxDNSTimeout)
	}
	p := c.Provisioning
	switch p.Mode {
	case ModeKeys, ModeCSR:
		if p.ClaimCertificate == "" || p.ClaimKey == "" {
			return bad("provisioning.claimCertificate", "mode %s needs claimCertificate and claimKey", p.Mode)
		}
		if p.Template == "" {
			return bad("provisioning.template", "mode %s needs a template name", p.Mode)
		}
		if err := provisioning.ValidTemplateName(p.Template); err != nil {
			return &ConfigError{Key: "provisioning.template", Err: err}
		}
	case ModeJITP:
	default:
		return bad("provisioning.mode", "%q: want keys, csr or jitp", p.Mode)
	}
	if p.Format != "json" && p.Format != "cbor" {
		return bad("provisioning.format", "%q: want json or cbor", p.Format)
	}
	if p.Format == "cbor" && !provisioning.CBORSupported {
		return bad("provisioning.format", "cbor: this binary was built without CBOR support (tag nocbor); use json or a build without that tag")
	}
	for k := range p.Parameters {
		if k == "" || len(k) > 2048 {
			return bad("provisioning.parameters", "key %q: 1 to 2048 characters", k)
		}
		if len(p.Parameters[k]) > 4096 {
			return bad("provisioning.parameters."+k, "longer than 4096 characters")
		}
	}
	if d := p.Timeout.D(); d < minProvisioningTimeout || d > maxProvisioningTimeout {
		return bad("provisioning.timeout", "%s: want %s to %s", d, minProvisioningTimeout, maxProvisioningTimeout)
	}
	if p.Rehome != RehomeNever && p.Rehome != RehomeClaim {
		return bad("provisioning.rehome", "%q: want never or claim", p.Rehome)
	}
	if !strings.Contains(c.Keystore.URI, ":") {
		return bad("keystore.uri", "%q has no scheme: want file:DIR or tpm:…", c.Keystore.URI)
	}
	switch c.Keystore.KeyAlgorithm {
	case "ecdsa-p256", "rsa-2048":
	default:
		return bad("keystore.keyAlgorithm", "%q: want ecdsa-p256 or rsa-2048", c.Keystore.KeyAlgorithm)
	}
	if err := validStatusTopic(c.Device.StatusTopic); err != nil {
		return bad("device.statusTopic", "%v", err)
	}
	if ka := c.Device.KeepAlive.D(); ka < 30*time.Second || ka > 1200*time.Second {
		return bad("device.keepAlive", "%s: AWS IoT accepts 30s to 1200s", ka)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "console" && c.Log.Format != "json" {
		return bad("log.format", "%q: want console or json", c.Log.Format)
	}
	return nil
}

// validStatusTopic checks the topic as AWS IoT will see it once {thing} is the
// longest thing name: MQTT would carry up to 65,535 bytes, AWS closes the
// connection on a topic over 256.
func validStatusTopic(topic string) error {
	if topic == "" || strings.ContainsAny(topic, "+#") || strings.HasPrefix(topic, "$") {
		return fmt.Errorf("%.64q: want a topic without wildcards or a leading $", topic)
	}
	if !utf8.ValidString(topic) || strings.ContainsRune(topic, 0) {
		return fmt.Errorf("%.64q: want UTF-8 without NUL characters", topic)
	}
	n := len(topic) + strings.Count(topic, thingPlaceholder)*(maxThingNameBytes-len(thingPlaceholder))
	if n > maxTopicBytes {
		return fmt.Errorf("%d bytes with a thing name of %d characters (%d as written): AWS IoT allows %d", n, maxThingNameBytes, len(topic), maxTopicBytes)
	}
	return nil
}

// thingPlaceholder in device.statusTopic is replaced by the thing name.
const thingPlaceholder = "{thing}"

func validHostname(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("%q: longer than 253 characters", name)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("%q is an address: the TLS server name must be a DNS name", name)
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q: bad label %q", name, label)
		}
		for _, r := range label {
			if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-')) {
				return fmt.Errorf("%q: character %q not allowed", name, r)
			}
		}
	}
	return nil
}

// EnvPrefix starts every environment variable the config reads.
const EnvPrefix = "FLEETBOOT_"

// ApplyEnv sets keys from FLEETBOOT_* variables: FLEETBOOT_DNS_CLIENT_SUBNET sets
// dns.clientSubnet. Lists are comma-separated, maps KEY=VALUE,KEY=VALUE. A variable
// that names no key is an error, so a typo is not silently ignored.
func (c *Config) ApplyEnv(environ []string) error {
	fields := envFields(reflect.ValueOf(c).Elem(), "", "")
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		f, known := fields[name]
		if !known {
			if ignoredEnv[name] {
				continue
			}
			return &ConfigError{Key: name, Err: errors.New("no such setting")}
		}
		if err := setFromString(f.v, value); err != nil {
			return &ConfigError{Key: f.key + " (from " + name + ")", Err: err}
		}
	}
	return nil
}

// ignoredEnv are FLEETBOOT_ variables that are not config keys.
var ignoredEnv = map[string]bool{"FLEETBOOT_CONFIG": true, "FLEETBOOT_TEST_KILL_AT": true}

// EnvNames lists every variable ApplyEnv understands, with its key.
func EnvNames() map[string]string {
	var c Config
	out := map[string]string{}
	for name, f := range envFields(reflect.ValueOf(&c).Elem(), "", "") {
		out[name] = f.key
	}
	return out
}

type envField struct {
	key string
	v   reflect.Value
}

func envFields(v reflect.Value, keyPrefix, envPrefix string) map[string]envField {
	out := map[string]envField{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := yamlKey(t.Field(i))
		if tag == "" || tag == "-" {
			continue
		}
		key := keyPrefix + tag
		env := envPrefix + snake(tag)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			for k, f := range envFields(fv, key+".", env+"_") {
				out[k] = f
			}
			continue
		}
		out[EnvPrefix+env] = envField{key: key, v: fv}
	}
	return out
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 && !unicode.IsUpper(rune(s[i-1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

var durationType = reflect.TypeOf(Duration(0))

func setFromString(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30s", s)
		}
		if d == 0 {
			return fmt.Errorf("an explicit %s is refused: unset the variable for the default", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		if n == 0 {
			return fmt.Errorf("an explicit %s is refused: unset the variable for the default", s)
		}
		v.SetInt(int64(n))
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Slice:
		var items []string
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		v.Set(reflect.ValueOf(items))
	case reflect.Map:
		m := map[string]string{}
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it == "" {
				continue
			}
			k, val, ok := strings.Cut(it, "=")
			if !ok || k == "" {
				return fmt.Errorf("%q: want KEY=VALUE pairs separated by commas", it)
			}
			m[k] = val
		}
		v.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
