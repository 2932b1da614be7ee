package controlplane

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

const (
	codeRegistrationCode      = "RegistrationCodeValidationException" // 400
	codeCertificateValidation = "CertificateValidationException"      // 400
)

func init() {
	statusOf[codeRegistrationCode] = http.StatusBadRequest
	statusOf[codeCertificateValidation] = http.StatusBadRequest
}

// registrationCode is the account's registration code in a region: stable, as
// AWS's is, so a verification certificate made once stays good.
func registrationCode(account, region string) string {
	sum := sha256.Sum256([]byte("mockcloud registration code\x00" + account + "\x00" + region))
	return hex.EncodeToString(sum[:])
}

// getRegistrationCode: GET /registrationcode.
func getRegistrationCode(c *call) (any, error) {
	return struct {
		RegistrationCode string `json:"registrationCode"`
	}{registrationCode(c.store.AccountID(), c.region.Name)}, nil
}

// checkVerificationCertificate is AWS's proof of possession for a CA in DEFAULT
// mode: a certificate whose Common Name is the registration code, signed by the
// CA's key. SNI_ONLY mode takes no verification certificate.
func checkVerificationCertificate(c *call, caPEM, verificationPEM, mode string) error {
	switch mode {
	case "", modeDefault:
	case "SNI_ONLY":
		if verificationPEM != "" {
			return apiErr(codeInvalidRequest, "verificationCertificate must be empty in SNI_ONLY mode")
		}
		return nil
	default:
		return apiErr(codeInvalidRequest, fmt.Sprintf("certificateMode %q: DEFAULT or SNI_ONLY", mode))
	}
	if verificationPEM == "" {
		return apiErr(codeInvalidRequest, "verificationCertificate is required in DEFAULT mode: a certificate for the registration code (GetRegistrationCode), signed by the CA's key")
	}
	ca, err := registry.ParseCertificatePEM(caPEM)
	if err != nil {
		return apiErr(codeCertificateValidation, "caCertificate: "+err.Error())
	}
	v, err := registry.ParseCertificatePEM(verificationPEM)
	if err != nil {
		return apiErr(codeCertificateValidation, "verificationCertificate: "+err.Error())
	}
	if err := v.CheckSignatureFrom(ca); err != nil {
		return apiErr(codeCertificateValidation, "verificationCertificate is not signed by the CA certificate's key: "+err.Error())
	}
	if want := registrationCode(c.store.AccountID(), c.region.Name); v.Subject.CommonName != want {
		return apiErr(codeRegistrationCode, fmt.Sprintf("verificationCertificate's Common Name is %q, not this account's registration code in %s", v.Subject.CommonName, c.region.Name))
	}
	return nil
}
