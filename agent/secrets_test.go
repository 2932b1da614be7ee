package agent_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/keystore"
)

// Secrets never reach a log line or an error: a whole first boot in each mode,
// a boot cut and resumed, a RegisterThing the cloud rejects and the identity
// files refused on load, all with the logger at debug level. Every log line and
// every error string is then searched for the ownership tokens, the device
// keys and the claim key, in every form they could be printed in.

// secretWindow is the length of the pieces of a secret searched for: long
// enough that no innocent text matches by chance, short enough that a secret
// cut in two or printed in part is still found.
const secretWindow = 24

// secretLogs is a debug-level logger that writes every entry twice, as JSON and
// as console text, to buffers read at the end.
type secretLogs struct {
	mu            sync.Mutex
	json, console bytes.Buffer
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (lockedWriter) Sync() error { return nil }

func (l *secretLogs) logger() *zap.Logger {
	return zap.New(zapcore.NewTee(
		zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), lockedWriter{&l.mu, &l.json}, zapcore.DebugLevel),
		zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), lockedWriter{&l.mu, &l.console}, zapcore.DebugLevel),
	))
}

func (l *secretLogs) texts() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return map[string]string{"JSON log": l.json.String(), "console log": l.console.String()}
}

// secretRun collects what one test run must keep secret and what it saw.
type secretRun struct {
	t       *testing.T
	logs    *secretLogs
	mu      sync.Mutex
	errs    []string          // every error string seen, by steps and by calls
	secrets map[string]string // name → secret text (or one rendering of it)
}

func (r *secretRun) sawError(where string, err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, where+": "+err.Error(), where+" (%+v): "+fmt.Sprintf("%+v", err))
}

func (r *secretRun) secret(name, value string) {
	if len(value) < secretWindow {
		r.t.Fatalf("secret %s is %d characters, too short to search for", name, len(value))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := name
	for i := 2; r.secrets[key] != ""; i++ {
		key = fmt.Sprintf("%s (%d)", name, i)
	}
	r.secrets[key] = value
}

// options are the agent options of a boot in this run: the debug logger, every
// step error recorded, and at each phase written the state file's mode checked
// and the ownership token taken as a secret; cutAt cuts the power there.
func (r *secretRun) options(name, stateDir string, cutAt agent.Phase) agent.Options {
	return agent.Options{
		Logger: r.logs.logger().Named(name),
		Observe: func(s agent.Step) {
			r.sawError("step "+string(s.Name), s.Err)
		},
		FaultPoint: func(p agent.Phase) {
			wantPrivateModes(r.t, name+" at "+string(p), stateDir)
			if p == agent.PhaseCredentialed {
				st, err := agent.LoadState(stateDir)
				if err != nil || st.OwnershipToken == "" {
					r.t.Fatalf("%s: credentialed state without a token: %v", name, err)
				}
				r.secret(name+" ownership token", st.OwnershipToken)
			}
			if p == cutAt {
				panic(cut{p})
			}
		},
	}
}

// prove runs a boot to completion (or to its cut) and returns its error.
func (r *secretRun) prove(cfg *agent.Config, opts agent.Options) (err error) {
	r.t.Helper()
	opts.Config = cfg
	a, nerr := agent.New(context.Background(), opts)
	if nerr != nil {
		r.t.Fatal(nerr)
	}
	defer a.Close()
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(cut); !ok {
				panic(v)
			}
			err = errCut
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err = a.Prove(ctx)
	r.sawError("Prove", err)
	return err
}

var errCut = errors.New("power cut")

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	c := startRig(t)
	run := &secretRun{t: t, logs: &secretLogs{}, secrets: map[string]string{}}
	type device struct {
		name, dir string
		cfg       *agent.Config
	}
	var devices []device
	newDevice := func(mode, scenario string) device {
		name := mode + "-" + scenario
		dir := filepath.Join(t.TempDir(), "state") // made by the agent, 0700
		cfg := deviceConfig(t, c, dir, mode, "json", "192.0.2.0/24", "SECRET-"+name)
		d := device{name: name, dir: dir, cfg: cfg}
		devices = append(devices, d)
		return d
	}

	for _, mode := range []string{agent.ModeKeys, agent.ModeCSR} {
		// A whole first boot.
		d := newDevice(mode, "whole")
		if err := run.prove(d.cfg, run.options(d.name, d.dir, "")); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}

		// Power cut once the token is saved, then a boot that resumes with it.
		d = newDevice(mode, "resumed")
		if err := run.prove(d.cfg, run.options(d.name, d.dir, agent.PhaseCredentialed)); !errors.Is(err, errCut) {
			t.Fatalf("%s: %v, want the cut", d.name, err)
		}
		if err := run.prove(d.cfg, run.options(d.name, d.dir, "")); err != nil {
			t.Fatalf("%s, resumed: %v", d.name, err)
		}

		// RegisterThing rejected with the token in hand (the template's required
		// parameter is missing), then the same token with the parameter.
		d = newDevice(mode, "rejected")
		params := d.cfg.Provisioning.Parameters
		d.cfg.Provisioning.Parameters = nil
		err := run.prove(d.cfg, run.options(d.name, d.dir, ""))
		if agent.ClassOf(err) != agent.ClassRejected {
			t.Fatalf("%s: %v, want rejected by the cloud", d.name, err)
		}
		d.cfg.Provisioning.Parameters = params
		if err := run.prove(d.cfg, run.options(d.name, d.dir, "")); err != nil {
			t.Fatalf("%s, with the parameter: %v", d.name, err)
		}
	}

	for _, d := range devices {
		wantPrivateModes(t, d.name+" online", d.dir)
		run.deviceKey(d.name, d.dir)
	}
	run.claimKey(c.Files().ClaimKey)

	// The identity files refused on load: the errors name the fix, and only that.
	d := devices[0]
	keyFile, err := filepath.EvalSymlinks(filepath.Join(d.dir, "keys", "current", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		mode    fs.FileMode
		restore fs.FileMode
		want    string
	}{
		{"key file readable by the group", keyFile, 0o640, 0o600, "chmod 600 " + keyFile},
		{"key file readable by all", keyFile, 0o644, 0o600, "chmod 600 " + keyFile},
		{"key folder open to others", filepath.Join(d.dir, "keys"), 0o755, 0o700, "chmod 700 " + filepath.Join(d.dir, "keys")},
		{"generation folder open to the group", filepath.Dir(keyFile), 0o750, 0o700, "chmod 700 " + filepath.Dir(keyFile)},
	} {
		if err := os.Chmod(tc.path, tc.mode); err != nil {
			t.Fatal(err)
		}
		err := run.prove(d.cfg, run.options(d.name, d.dir, ""))
		if err := os.Chmod(tc.path, tc.restore); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(err, keystore.ErrInsecurePermissions) || agent.ClassOf(err) != agent.ClassConfig || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("boot with %s: %v; want a config error saying %q", tc.name, err, tc.want)
		}
	}
	// A corrupt key file: the parser's complaint must not quote the key.
	orig, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(orig)
	bad[bytes.IndexByte(bad, '\n')+40] ^= 0x01 // inside the base64 body
	if err := os.WriteFile(keyFile, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	err = run.prove(d.cfg, run.options(d.name, d.dir, ""))
	if werr := os.WriteFile(keyFile, orig, 0o600); werr != nil {
		t.Fatal(werr)
	}
	if err == nil {
		t.Fatal("boot with a corrupt key file succeeded")
	}
	if err := run.prove(d.cfg, run.options(d.name, d.dir, "")); err != nil {
		t.Fatalf("boot after the files were put right: %v", err)
	}

	haystacks := run.logs.texts()
	for _, want := range []string{"provisioned", "online", "state saved", "step done"} {
		if !strings.Contains(haystacks["JSON log"], want) {
			t.Fatalf("the debug log has no %q: the boots were not logged", want)
		}
	}
	for i, e := range run.errs {
		haystacks[fmt.Sprintf("error %d", i)] = e
	}
	if len(run.errs) < 10 {
		t.Fatalf("only %d error strings seen: the failures were not exercised", len(run.errs))
	}
	index := secretIndex(run.secrets)
	// The search finds a secret where one is: a line built to leak each kind.
	for name, value := range run.secrets {
		leak := `{"level":"debug","msg":"oops","value":"` + value[len(value)/3:] + `"}`
		if got := findSecrets(leak, index); len(got) == 0 {
			t.Fatalf("the search misses a leak of %s", name)
		}
	}
	sizes := 0
	for where, text := range haystacks {
		sizes += len(text)
		for _, name := range findSecrets(text, index) {
			t.Errorf("%s holds part of %s", where, name)
		}
	}
	t.Logf("searched %d secret renderings in %d KiB of logs and %d error strings", len(run.secrets), sizes/1024, len(run.errs))
}

// deviceKey adds a device's private key, as stored, in every rendering.
func (r *secretRun) deviceKey(name, stateDir string) {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(stateDir, "keys", "current", "key.pem"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.privateKey(name+" device key", data)
}

func (r *secretRun) claimKey(path string) {
	r.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		r.t.Fatal(err)
	}
	r.privateKey("claim key", data)
}

// privateKey adds the PEM body and the key's DER encodings in base64 and hex,
// and its private numbers in hex, decimal and base64.
func (r *secretRun) privateKey(name string, pemData []byte) {
	r.t.Helper()
	block, _ := pem.Decode(pemData)
	if block == nil {
		r.t.Fatalf("%s: no PEM block", name)
	}
	s, err := keystore.ParsePrivateKeyPEM(pemData)
	if err != nil {
		r.t.Fatalf("%s: %v", name, err)
	}
	ders := map[string][]byte{"file DER": block.Bytes}
	if p8, err := x509.MarshalPKCS8PrivateKey(s); err == nil {
		ders["PKCS#8"] = p8
	}
	var numbers map[string]*big.Int
	switch k := crypto.Signer(s).(type) {
	case *ecdsa.PrivateKey:
		if sec1, err := x509.MarshalECPrivateKey(k); err == nil {
			ders["SEC 1"] = sec1
		}
		if b, err := k.Bytes(); err == nil {
			ders["scalar"] = b
		}
		numbers = map[string]*big.Int{"D": new(big.Int).SetBytes(ders["scalar"])}
	case *rsa.PrivateKey:
		ders["PKCS#1"] = x509.MarshalPKCS1PrivateKey(k)
		numbers = map[string]*big.Int{"D": k.D, "P": k.Primes[0], "Q": k.Primes[1], "Dp": k.Precomputed.Dp, "Dq": k.Precomputed.Dq, "Qinv": k.Precomputed.Qinv}
	default:
		r.t.Fatalf("%s: key type %T", name, s)
	}
	r.secret(name+" PEM body", strings.ReplaceAll(string(bytes.TrimSpace(pemBody(pemData))), "\n", ""))
	for kind, der := range ders {
		r.secret(name+" "+kind+" base64", base64.StdEncoding.EncodeToString(der))
		r.secret(name+" "+kind+" base64url", base64.RawURLEncoding.EncodeToString(der))
		r.secret(name+" "+kind+" hex", hex.EncodeToString(der))
		r.secret(name+" "+kind+" HEX", strings.ToUpper(hex.EncodeToString(der)))
	}
	for n, v := range numbers {
		r.secret(name+" "+n+" hex", v.Text(16))
		r.secret(name+" "+n+" decimal", v.Text(10))
		r.secret(name+" "+n+" base64", base64.StdEncoding.EncodeToString(v.Bytes()))
	}
}

// pemBody is the base64 between the BEGIN and END lines.
func pemBody(data []byte) []byte {
	var body [][]byte
	for line := range bytes.Lines(data) {
		if !bytes.HasPrefix(line, []byte("-----")) {
			body = append(body, line)
		}
	}
	return bytes.Join(body, nil)
}

// secretIndex maps every secretWindow-long piece of every secret to its name.
func secretIndex(secrets map[string]string) map[string]string {
	idx := map[string]string{}
	for name, s := range secrets {
		for i := 0; i+secretWindow <= len(s); i++ {
			idx[s[i:i+secretWindow]] = name
		}
	}
	return idx
}

// findSecrets names the secrets a piece of which occurs in text.
func findSecrets(text string, idx map[string]string) []string {
	seen := map[string]bool{}
	var names []string
	for i := 0; i+secretWindow <= len(text); i++ {
		if name, ok := idx[text[i:i+secretWindow]]; ok && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// wantPrivateModes checks every file under the state folder is 0600 and every
// folder 0700.
func wantPrivateModes(t *testing.T, when, stateDir string) {
	t.Helper()
	err := filepath.WalkDir(stateDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir() && fi.Mode().Perm() != 0o700:
			t.Errorf("%s: folder %s has mode %04o, want 0700", when, path, uint32(fi.Mode().Perm()))
		case e.Type().IsRegular() && fi.Mode().Perm() != 0o600:
			t.Errorf("%s: file %s has mode %04o, want 0600", when, path, uint32(fi.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}
