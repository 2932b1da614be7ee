package mockcloud

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// registerConfiguredCAs registers the rig file's caCertificates in region r. A CA
// already registered keeps its settings, as a second register-ca-certificate
// would be refused on AWS.
func (c *Cloud) registerConfiguredCAs(r *iotcore.Region) error {
	for i, ca := range c.cfg.CACertificates {
		if len(ca.Regions) > 0 && !slices.Contains(ca.Regions, r.Name()) {
			continue
		}
		certPEM, err := os.ReadFile(ca.Certificate)
		if err != nil {
			return fmt.Errorf("caCertificates[%d]: %w", i, err)
		}
		reg := iotcore.CARegistration{AllowAutoRegistration: ca.AllowAutoRegistration}
		if ca.TemplateFile != "" {
			body, err := os.ReadFile(ca.TemplateFile)
			if err != nil {
				return fmt.Errorf("caCertificates[%d]: %w", i, err)
			}
			reg.TemplateBody = string(body)
		}
		if _, err := r.RegisterCA(string(certPEM), reg); err != nil && !errors.Is(err, registry.ErrAlreadyExists) {
			return fmt.Errorf("caCertificates[%d] %s: %w", i, ca.Certificate, err)
		}
	}
	return nil
}
