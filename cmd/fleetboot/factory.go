package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/internal/safefile"
	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/tpm"
)

const factoryUsage = `fleetboot factory — the production line

Usage:
  fleetboot factory keygen --cn NAME [--csr-out FILE]
      make the device key in the configured keystore (file or TPM) and write a CSR
      for it (PEM, to stdout by default). A key that has no certificate yet is
      reused; a key that already has one is never replaced.
  fleetboot factory install-cert --cert FILE [--chain FILE] [--ca FILE]
      check that the certificate matches the device key and chains to the CA
      (--ca, default: the last certificate of --chain), then store it
  fleetboot factory show
      print the identity: public key fingerprint, subject, validity, where the key lives

Each takes the common flags (--config, --state-dir, --keystore, ...).
`

func cmdFactory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, factoryUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "keygen":
		return factoryKeygen(ctx, args, stdout, stderr)
	case "install-cert":
		return factoryInstall(ctx, args, stdout, stderr)
	case "show":
		return factoryShow(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, factoryUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "fleetboot factory: unknown command %q\n\n%s", sub, factoryUsage)
	return exitUsage
}

// factorySetup is setup plus the keystore, for the factory subcommands.
func factorySetup(ctx context.Context, name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*agent.Config, keystore.Keystore, int) {
	_, cfg, _, code := setup("factory "+name, args, stderr, func(c *common) {
		if extra != nil {
			extra(c.fs)
		}
	})
	if code != exitOK {
		return nil, nil, code
	}
	ks, err := openKeystore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot factory %s: %v\n", name, err)
		return nil, nil, exitConfig
	}
	return cfg, ks, exitOK
}

func factoryKeygen(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cn, out string
	cfg, ks, code := factorySetup(ctx, "keygen", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&cn, "cn", "", "subject CommonName of the CSR (the JITP template names the thing after it)")
		fs.StringVar(&out, "csr-out", "", "write the CSR here instead of stdout")
	})
	if code != exitOK {
		return code
	}
	defer ks.Close()
	if cn == "" {
		fmt.Fprintln(stderr, "fleetboot factory keygen: --cn is required")
		return exitConfig
	}
	if _, _, err := ks.Certificate(ctx); err == nil {
		fmt.Fprintf(stderr, "fleetboot factory keygen: %s already holds a key with a certificate; it is never replaced (fleetboot reset --yes forgets it)\n", ks.Describe())
		return exitConfig
	}
	signer, err := ks.Signer(ctx)
	if errors.Is(err, keystore.ErrNotFound) {
		gen, ok := ks.(keystore.KeyGenerator)
		if !ok {
			fmt.Fprintf(stderr, "fleetboot factory keygen: %s cannot generate keys\n", ks.Describe())
			return exitConfig
		}
		signer, err = gen.GenerateKey(ctx, keystore.Algorithm(cfg.Keystore.KeyAlgorithm))
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot factory keygen: %v\n", err)
		return exitConfig
	}
	csr, err := keystore.CreateCSR(signer, pkix.Name{CommonName: cn})
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot factory keygen: %v\n", err)
		return exitFailure
	}
	if out == "" {
		_, err = stdout.Write(csr)
	} else {
		err = os.WriteFile(out, csr, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot factory keygen: write csr: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func factoryInstall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var certFile, chainFile, caFile string
	_, ks, code := factorySetup(ctx, "install-cert", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&certFile, "cert", "", "device certificate (PEM)")
		fs.StringVar(&chainFile, "chain", "", "issuing chain (PEM), intermediates first")
		fs.StringVar(&caFile, "ca", "", "the maker's CA the certificate must chain to (default: last of --chain)")
	})
	if code != exitOK {
		return code
	}
	defer ks.Close()
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "fleetboot factory install-cert: "+format+"\n", a...)
		return exitConfig
	}
	if certFile == "" {
		return fail("--cert is required")
	}
	leaf, err := readCerts(certFile)
	if err != nil {
		return fail("%v", err)
	}
	var chain []*x509.Certificate
	if chainFile != "" {
		if chain, err = readCerts(chainFile); err != nil {
			return fail("%v", err)
		}
	}
	roots := x509.NewCertPool()
	inter := x509.NewCertPool()
	switch {
	case caFile != "":
		ca, err := readCerts(caFile)
		if err != nil {
			return fail("%v", err)
		}
		for _, c := range ca {
			roots.AddCert(c)
		}
		for _, c := range chain {
			inter.AddCert(c)
		}
	case len(chain) > 0:
		roots.AddCert(chain[len(chain)-1])
		for _, c := range chain[:len(chain)-1] {
			inter.AddCert(c)
		}
	default:
		return fail("give --ca or --chain: the certificate must be checked against the maker's CA")
	}
	// The device clock may be wrong on the line; the check is against the
	// certificate's own validity start, so that only the chain and the key decide.
	if _, err := leaf[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: leaf[0].NotBefore.Add(time.Second), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fail("%s does not chain to the CA: %v", certFile, err)
	}
	if err := ks.StoreCertificate(ctx, leaf[0], chain); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stdout, "installed %s for %q in %s\n", certFile, leaf[0].Subject.CommonName, ks.Describe())
	return exitOK
}

func factoryShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	_, ks, code := factorySetup(ctx, "show", args, stderr, nil)
	if code != exitOK {
		return code
	}
	defer ks.Close()
	signer, err := ks.Signer(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot factory show: %v\n", err)
		return exitConfig
	}
	spki, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot factory show: %v\n", err)
		return exitFailure
	}
	sum := sha256.Sum256(spki)
	fmt.Fprintf(stdout, "key:          %s\n", ks.Describe())
	fmt.Fprintf(stdout, "public key:   %s sha256:%s\n", keystore.DescribePublicKey(signer.Public()), hex.EncodeToString(sum[:]))
	leaf, chain, err := ks.Certificate(ctx)
	if errors.Is(err, keystore.ErrNotFound) {
		fmt.Fprintln(stdout, "certificate:  none yet")
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot factory show: %v\n", err)
		return exitConfig
	}
	fmt.Fprintf(stdout, "subject:      %s\n", leaf.Subject)
	fmt.Fprintf(stdout, "issuer:       %s\n", leaf.Issuer)
	fmt.Fprintf(stdout, "valid:        %s to %s\n", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "chain:        %d certificate(s)\n", len(chain))
	return exitOK
}

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := safefile.Read(path, safefile.Options{Kind: "certificate", Limit: safefile.LimitPEM})
	if err != nil {
		return nil, err
	}
	certs, err := keystore.ParseCertificatesPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return certs, nil
}

// openKeystore opens the configured keystore, relative paths against the state folder.
func openKeystore(ctx context.Context, cfg *agent.Config) (keystore.Keystore, error) {
	opts := keystore.Options{BaseDir: cfg.StateDir}
	if cfg.Keystore.OwnerAuth != "" {
		opts.Device = &tpm.Device{OwnerAuth: []byte(cfg.Keystore.OwnerAuth)}
	}
	return keystore.Open(ctx, cfg.Keystore.URI, opts)
}
