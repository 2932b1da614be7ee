package agent

import (
	"errors"
	"strings"
	"testing"
	"time"
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
	} {
		want := map[string]any{
			"port": 8883, "mode": ModeCSR, "format": "json", "keystore": "file:///var/lib/fleetboot/keys",
			"keepAlive": 60 * time.Second, "rehome": RehomeNever, "statusTopic": "gateways/{thing}/status",
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
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		c.SetDefaults()
		if err := c.Validate(); err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Key == "" {
				t.Fatalf("validation error %v names no key", err)
			}
		}
	})
}
