package agent

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fleetboot/fleetboot/provisioning"
)

const validConfig = `
stateDir: /var/lib/fleetboot
endpoint:
  globalName: global.iot.example.com
  rootCA: /etc/fleetboot/root-ca.pem
dns:
  servers: ["127.0.0.1:1053"]
provisioning:
  template: GatewayProvisioning
  claimCertificate: /etc/fleetboot/claim.pem
  claimKey: /etc/fleetboot/claim.key
`

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	return c
}

func TestConfigDefaults(t *testing.T) {
	c := mustParse(t, validConfig)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]any{
		"port":        c.Endpoint.Port,
		"mode":        c.Provisioning.Mode,
		"format":      c.Provisioning.Format,
		"keystore":    c.Keystore.URI,
		"keepAlive":   c.Device.KeepAlive.D(),
		"rehome":      c.Provisioning.Rehome,
		"statusTopic": c.Device.StatusTopic,
		"dnsTimeout":  c.DNS.Timeout.D(),
		"provTimeout": c.Provisioning.Timeout.D(),
	} {
		want := map[string]any{
			"port": 8883, "mode": ModeCSR, "format": "json", "keystore": "file:///var/lib/fleetboot/keys",
			"keepAlive": 60 * time.Second, "rehome": RehomeNever, "statusTopic": "gateways/{thing}/status",
			"dnsTimeout": 2 * time.Second, "provTimeout": 30 * time.Second,
		}[name]
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// Every mistake names the key it is about.
func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		name, doc, key string
	}{
		{"unknown key", validConfig + "bogus: 1\n", "bogus"},
		{"unknown nested key", strings.Replace(validConfig, "  rootCA:", "  rootCa: x\n  rootCA:", 1), "rootCa"},
		{"bad duration", validConfig + "device:\n  keepAlive: soon\n", "soon"},
		{"wrong type", strings.Replace(validConfig, "servers: [\"127.0.0.1:1053\"]", "servers: 5", 1), "line 7"},
		{"global name is an address", strings.Replace(validConfig, "global.iot.example.com", "127.0.0.1", 1), "endpoint.globalName"},
		{"dns server without port", strings.Replace(validConfig, "127.0.0.1:1053", "127.0.0.1", 1), "dns.servers[0]"},
		{"bad subnet", strings.Replace(validConfig, "dns:\n", "dns:\n  clientSubnet: europe\n", 1), "dns.clientSubnet"},
		{"bad mode", strings.Replace(validConfig, "  template:", "  mode: magic\n  template:", 1), "provisioning.mode"},
		{"bad format", strings.Replace(validConfig, "  template:", "  format: xml\n  template:", 1), "provisioning.format"},
		{"bad template", strings.Replace(validConfig, "GatewayProvisioning", "Gateway Provisioning", 1), "provisioning.template"},
		{"no claim", strings.Replace(validConfig, "  claimKey: /etc/fleetboot/claim.key\n", "", 1), "provisioning.claimCertificate"},
		{"keepalive too short", validConfig + "device:\n  keepAlive: 5s\n", "device.keepAlive"},
		{"wildcard status topic", validConfig + "device:\n  statusTopic: gateways/+/status\n", "device.statusTopic"},
		{"bad log level", validConfig + "log:\n  level: loud\n", "log.level"},
		{"bad rehome", strings.Replace(validConfig, "  template:", "  rehome: sometimes\n  template:", 1), "provisioning.rehome"},
		{"no trust", strings.Replace(validConfig, "  rootCA: /etc/fleetboot/root-ca.pem\n", "", 1), "endpoint.rootCA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.doc))
			if err == nil {
				c.SetDefaults()
				err = c.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %q does not name %q", err, tc.key)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *ConfigError", err)
			}
		})
	}
}

// Issue 14.12: values the decoder or the defaults used to turn into something else
// are errors that name the key.
func TestConfigValuesMeanWhatTheySay(t *testing.T) {
	with := func(section, line string) string {
		return strings.Replace(validConfig, section+":\n", section+":\n  "+line+"\n", 1)
	}
	// 121 bytes are added when {thing} becomes a 128-character thing name.
	topic := func(n int) string { return "t/{thing}/" + strings.Repeat("s", n-len("t/{thing}/")) }
	for _, tc := range []struct {
		name, doc string
		key       string // "" means the document is accepted
	}{
		{"dns timeout zero", with("dns", "timeout: 0s"), "dns.timeout"},
		{"dns timeout bare zero", with("dns", "timeout: 0"), "dns.timeout"},
		{"dns timeout negative", with("dns", "timeout: -1s"), "dns.timeout"},
		{"dns timeout below 100ms", with("dns", "timeout: 99ms"), "dns.timeout"},
		{"dns timeout above 60s", with("dns", "timeout: 61s"), "dns.timeout"},
		{"dns timeout 100ms", with("dns", "timeout: 100ms"), ""},
		{"dns timeout 60s", with("dns", "timeout: 60s"), ""},
		{"provisioning timeout 1ns", with("provisioning", "timeout: 1ns"), "provisioning.timeout"},
		{"provisioning timeout zero", with("provisioning", "timeout: 0s"), "provisioning.timeout"},
		{"provisioning timeout above 10m", with("provisioning", "timeout: 10m1s"), "provisioning.timeout"},
		{"provisioning timeout 1s", with("provisioning", "timeout: 1s"), ""},
		{"provisioning timeout 10m", with("provisioning", "timeout: 10m"), ""},
		{"keepalive zero", validConfig + "device:\n  keepAlive: 0s\n", "device.keepAlive"},
		{"fractional port", with("endpoint", "port: 8883.5"), "endpoint.port"},
		{"float port", with("endpoint", "port: 8883.0"), "endpoint.port"},
		{"exponent port", with("endpoint", "port: 8.883e3"), "endpoint.port"},
		{"port zero", with("endpoint", "port: 0"), "endpoint.port"},
		{"port too large", with("endpoint", "port: 65536"), "endpoint.port"},
		{"port negative", with("endpoint", "port: -443"), "endpoint.port"},
		{"fractional port through an alias", "log: {level: &f 8883.5}\nendpoint: {port: *f}\n", "endpoint.port"},
		{"fractional port through a merge key", strings.Replace(validConfig, "endpoint:\n", "endpoint:\n  <<: {port: 8883.5}\n", 1), "endpoint.port"},
		{"port 443", with("endpoint", "port: 443"), ""},
		{"port in hex", with("endpoint", "port: 0x22B3"), ""},
		{"empty port is the default", with("endpoint", "port:"), ""},
		{"second document", validConfig + "---\nendpoint:\n  port: 1\n", "more than one YAML document"},
		{"second empty document", validConfig + "---\n", "more than one YAML document"},
		{"document end marker only", validConfig + "...\n", ""},
		{"100 KB status topic", validConfig + "device:\n  statusTopic: " + strings.Repeat("a", 100<<10) + "\n", "device.statusTopic"},
		{"status topic over 256 bytes with a 128-character thing", validConfig + "device:\n  statusTopic: " + topic(256-121+1) + "\n", "device.statusTopic"},
		{"status topic of 256 bytes with a 128-character thing", validConfig + "device:\n  statusTopic: " + topic(256-121) + "\n", ""},
		{"status topic of 257 bytes without thing", validConfig + "device:\n  statusTopic: " + strings.Repeat("a", 257) + "\n", "device.statusTopic"},
		{"status topic with two things", validConfig + "device:\n  statusTopic: a/{thing}/{thing}\n", "device.statusTopic"},
		{"status topic of two things of 128 characters", validConfig + "device:\n  statusTopic: \"{thing}{thing}\"\n", ""},
		{"status topic with a NUL", validConfig + "device:\n  statusTopic: \"a/\\0/b\"\n", "device.statusTopic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.doc))
			if err == nil {
				c.SetDefaults()
				err = c.Validate()
			}
			if tc.key == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: port %d, dns.timeout %s, provisioning.timeout %s, statusTopic of %d bytes",
					c.Endpoint.Port, c.DNS.Timeout.D(), c.Provisioning.Timeout.D(), len(c.Device.StatusTopic))
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %q (%T) does not name %q", err, err, tc.key)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes: a message names the key, it does not repeat the value", len(err.Error()))
			}
		})
	}
	// YAML text is UTF-8; the environment need not be.
	c := mustParse(t, validConfig)
	if err := c.ApplyEnv([]string{"FLEETBOOT_DEVICE_STATUS_TOPIC=a/\xff/b"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "device.statusTopic") {
		t.Errorf("status topic not UTF-8: %v", err)
	}
}

// A file mistake names the file; a key mistake names the file and the key.
func TestLoadConfigNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"second document", validConfig + "---\nbogus: 1\n", []string{"config ", "two.yaml", ": more than one YAML document"}},
		{"fractional port", strings.Replace(validConfig, "endpoint:\n", "endpoint:\n  port: 8883.5\n", 1), []string{"two.yaml", "endpoint.port", "8883.5", "line 4"}},
		{"unknown key", validConfig + "bogus: 1\n", []string{"two.yaml", "bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "two.yaml")
			if err := os.WriteFile(p, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(p)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *ConfigError", err)
			}
		})
	}
}

// A relative state folder is made absolute, so the derived keystore URI names
// the folder and not a URL host; any folder name survives the URI.
func TestStateDirIsAbsolute(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	wd, err := os.Getwd() // as filepath.Abs sees it, links resolved
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		setFlag  string // as --state-dir sets it after LoadConfig
		stateDir string // in the file
		want     string
	}{
		{"relative in the file", "", "w/st", filepath.Join(wd, "w/st")},
		{"relative from the flag", "w/st", "/var/lib/fleetboot", filepath.Join(wd, "w/st")},
		{"dot", "", ".", wd},
		{"absolute, cleaned", "", "/var/lib//fleetboot/", "/var/lib/fleetboot"},
		{"characters URIs escape", "", "/srv/fleet boot/#1?x%41", "/srv/fleet boot/#1?x%41"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(strings.Replace(validConfig, "stateDir: /var/lib/fleetboot", "stateDir: \""+tc.stateDir+"\"", 1)))
			if err != nil {
				t.Fatal(err)
			}
			if tc.setFlag != "" {
				c.StateDir = tc.setFlag
			}
			c.SetDefaults()
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.StateDir != tc.want {
				t.Errorf("stateDir %q, want %q", c.StateDir, tc.want)
			}
			u, err := url.Parse(c.Keystore.URI)
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != "file" || u.Host != "" || u.Path != filepath.Join(tc.want, "keys") || u.RawQuery != "" || u.Fragment != "" {
				t.Errorf("keystore %q: scheme %q host %q path %q query %q fragment %q, want the folder %q",
					c.Keystore.URI, u.Scheme, u.Host, u.Path, u.RawQuery, u.Fragment, filepath.Join(tc.want, "keys"))
			}
		})
	}
	// Built in code without SetDefaults, a relative folder is refused by name.
	c := mustParse(t, validConfig)
	c.StateDir = "w/st"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "stateDir") {
		t.Errorf("relative stateDir in Validate: %v", err)
	}
}

func TestApplyEnv(t *testing.T) {
	c := mustParse(t, validConfig)
	err := c.ApplyEnv([]string{
		"PATH=/bin",
		"FLEETBOOT_DNS_CLIENT_SUBNET=198.51.100.0/24",
		"FLEETBOOT_DNS_SERVERS=127.0.0.1:53, 127.0.0.2:53",
		"FLEETBOOT_PROVISIONING_PARAMETERS=SerialNumber=GW-1,Site=fra1",
		"FLEETBOOT_ENDPOINT_PORT=443",
		"FLEETBOOT_DEVICE_KEEP_ALIVE=90s",
		"FLEETBOOT_ENDPOINT_SYSTEM_ROOTS=true",
		"FLEETBOOT_CONFIG=/etc/x.yaml",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.DNS.ClientSubnet != "198.51.100.0/24" || len(c.DNS.Servers) != 2 || c.DNS.Servers[1] != "127.0.0.2:53" ||
		c.Provisioning.Parameters["Site"] != "fra1" || c.Endpoint.Port != 443 || c.Device.KeepAlive.D() != 90*time.Second ||
		!c.Endpoint.SystemRoots {
		t.Fatalf("environment not applied: %+v", c)
	}
	for _, bad := range []struct{ env, key string }{
		{"FLEETBOOT_DNS_CLIENTSUBNET=1.2.3.0/24", "FLEETBOOT_DNS_CLIENTSUBNET"},
		{"FLEETBOOT_ENDPOINT_PORT=https", "endpoint.port"},
		{"FLEETBOOT_DEVICE_KEEP_ALIVE=1 minute", "device.keepAlive"},
		{"FLEETBOOT_PROVISIONING_PARAMETERS=novalue", "provisioning.parameters"},
		{"FLEETBOOT_DNS_TIMEOUT=0s", "dns.timeout"},
		{"FLEETBOOT_ENDPOINT_PORT=0", "endpoint.port"},
		{"FLEETBOOT_ENDPOINT_PORT=8883.5", "endpoint.port"},
	} {
		err := mustParse(t, validConfig).ApplyEnv([]string{bad.env})
		if err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%s: error %v, want one naming %s", bad.env, err, bad.key)
		}
	}
}

func TestEnvNamesCoverEveryKey(t *testing.T) {
	names := EnvNames()
	for _, want := range []string{"FLEETBOOT_STATE_DIR", "FLEETBOOT_DNS_SOURCE_ADDRESS", "FLEETBOOT_PROVISIONING_CLAIM_KEY", "FLEETBOOT_KEYSTORE_URI", "FLEETBOOT_DEVICE_ON_PROVISIONED"} {
		if _, ok := names[want]; !ok {
			t.Errorf("%s missing from %v", want, names)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validConfig))
	f.Add([]byte("endpoint: {port: -1}\n"))
	f.Add([]byte("dns:\n  timeout: 1h\n  servers: [x]\n"))
	f.Add([]byte("provisioning:\n  parameters: {a: b}\n"))
	f.Add([]byte(validConfig + "---\nendpoint: {port: 1}\n"))
	f.Add([]byte(strings.Replace(validConfig, "endpoint:\n", "endpoint:\n  <<: [{port: 8883.5}]\n", 1)))
	f.Add([]byte(validConfig + "device:\n  statusTopic: a/{thing}/b\nlog: {level: &l debug, format: *l}\n"))
	f.Add([]byte(strings.Replace(validConfig, "stateDir: /var/lib/fleetboot", "stateDir: w/st", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key == "" {
				t.Fatalf("parse error %v names no key", err)
			}
			return
		}
		c.SetDefaults()
		if err := c.Validate(); err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key == "" {
				t.Fatalf("validation error %v names no key", err)
			}
			return
		}
		// A config that validates means what it says, and says it again the same
		// way when written back.
		if topic := strings.ReplaceAll(c.Device.StatusTopic, "{thing}", strings.Repeat("T", 128)); len(topic) > 256 {
			t.Fatalf("status topic of %d bytes accepted", len(topic))
		}
		if u, err := url.Parse(c.Keystore.URI); err == nil && u.Scheme == "file" && u.Host != "" && !strings.Contains(string(data), "keystore") {
			t.Fatalf("derived keystore URI %q has host %q", c.Keystore.URI, u.Host)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("written back, refused: %v\n%s", err, out)
		}
		back.SetDefaults()
		again, err := yaml.Marshal(back)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("written back, changed (%v):\n%s\n%s", err, out, again)
		}
	})
}

// provisioning.template is checked by the wire's own rule
// (provisioning.ValidTemplateName): a name the config accepts is one the
// provisioning client publishes to, and a refusal says what the rule says.
func TestConfigTemplateNameIsTheWireRule(t *testing.T) {
	for _, name := range []string{
		"a", "GatewayProvisioning", "Gateway_v2-prod", strings.Repeat("x", 36),
		strings.Repeat("x", 37), "Gateway Provisioning", "slash/inside", "dot.name", "plus+",
		"ümlaut", "\xff", "tab\there",
	} {
		doc := strings.Replace(validConfig, "GatewayProvisioning", strconv.Quote(name), 1)
		c, err := ParseConfig([]byte(doc))
		if err != nil {
			t.Fatalf("%q: parse: %v", name, err)
		}
		c.SetDefaults()
		err = c.Validate()
		rule := provisioning.ValidTemplateName(c.Provisioning.Template)
		if (err == nil) != (rule == nil) {
			t.Errorf("template %q: Validate = %v, provisioning.ValidTemplateName = %v", name, err, rule)
			continue
		}
		if rule == nil {
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != "provisioning.template" || !strings.Contains(err.Error(), rule.Error()) {
			t.Errorf("template %q: Validate = %v, want a provisioning.template error saying %q", name, err, rule)
		}
	}
}
