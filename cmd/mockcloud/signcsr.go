package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/pki"
)

// signCSR is the factory line's CA for a rig: it signs a device CSR with the
// maker CA in the data folder, as scripts/factory-sign.sh does with openssl, so
// that a rig needs nothing but the two binaries.
func signCSR(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mockcloud sign-csr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "the rig's data folder (holds maker-ca.pem and maker-ca.key)")
	csrFile := fs.String("csr", "", "PEM certificate request")
	out := fs.String("out", "", "where to write the device certificate (PEM); - for stdout")
	days := fs.Int("days", 7300, "validity in days")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *data == "" || *csrFile == "" || *out == "" || *days <= 0 {
		fmt.Fprintln(stderr, "mockcloud sign-csr: --data, --csr and --out are required, --days must be positive")
		return 2
	}
	certPEM, err := signWithMakerCA(*data, *csrFile, time.Duration(*days)*24*time.Hour)
	if err != nil {
		fmt.Fprintf(stderr, "mockcloud sign-csr: %v\n", err)
		return 1
	}
	if *out == "-" {
		_, err = stdout.Write(certPEM)
	} else {
		err = os.WriteFile(*out, certPEM, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mockcloud sign-csr: %v\n", err)
		return 1
	}
	return 0
}

func signWithMakerCA(data, csrFile string, lifetime time.Duration) ([]byte, error) {
	ca, err := pki.LoadFiles(filepath.Join(data, "maker-ca.pem"), filepath.Join(data, "maker-ca.key"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("maker CA: %w (start the rig once with this data folder)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("maker CA: %w", err)
	}
	raw, err := os.ReadFile(csrFile)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New(csrFile + ": no PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", csrFile, err)
	}
	cert, err := ca.SignCSR(csr, nil, time.Now().Add(lifetime))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", csrFile, err)
	}
	return pki.EncodeCertPEM(cert), nil
}
