package template

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
)

// Built-in parameters the service supplies. ParamCertificateID is set for fleet
// provisioning (the certificate made over MQTT) and JITP (the device certificate);
// the others come from the device certificate's subject in JITP. Templates may
// declare them in Parameters; a Ref to one works without declaring it.
// (https://docs.aws.amazon.com/iot/latest/developerguide/jit-provisioning.html)
const (
	ParamCertificateID              = "AWS::IoT::Certificate::Id"
	ParamCommonName                 = "AWS::IoT::Certificate::CommonName"
	ParamSerialNumber               = "AWS::IoT::Certificate::SerialNumber"
	ParamCountry                    = "AWS::IoT::Certificate::Country"
	ParamOrganization               = "AWS::IoT::Certificate::Organization"
	ParamOrganizationalUnit         = "AWS::IoT::Certificate::OrganizationalUnit"
	ParamDistinguishedNameQualifier = "AWS::IoT::Certificate::DistinguishedNameQualifier"
	ParamStateName                  = "AWS::IoT::Certificate::StateName"
)

var builtins = []string{
	ParamCertificateID, ParamCommonName, ParamCountry, ParamDistinguishedNameQualifier,
	ParamOrganization, ParamOrganizationalUnit, ParamSerialNumber, ParamStateName,
}

// BuiltinParameters returns the names of the built-in parameters, sorted.
func BuiltinParameters() []string { return slices.Clone(builtins) }

// IsBuiltinParameter reports whether name is a built-in parameter.
func IsBuiltinParameter(name string) bool {
	for _, b := range builtins {
		if b == name {
			return true
		}
	}
	return false
}

var oidDNQualifier = asn1.ObjectIdentifier{2, 5, 4, 46}

// SubjectParameters returns the JITP built-in parameters for a device certificate:
// ParamCertificateID (the registry's ID, not in the certificate) and one entry per
// subject attribute the certificate has. Attributes it lacks are left out, so a
// template declaring them fails with *MissingParameterError as the service fails.
// ParamSerialNumber is the subject's serialNumber attribute (OID 2.5.4.5), not the
// certificate serial. With several values of one attribute the first is used [unconf].
func SubjectParameters(subject pkix.Name, certificateID string) map[string]string {
	out := map[string]string{ParamCertificateID: certificateID}
	first := func(key string, vals []string) {
		if len(vals) > 0 {
			out[key] = vals[0]
		}
	}
	first(ParamCountry, subject.Country)
	first(ParamOrganization, subject.Organization)
	first(ParamOrganizationalUnit, subject.OrganizationalUnit)
	first(ParamStateName, subject.Province)
	if subject.CommonName != "" {
		out[ParamCommonName] = subject.CommonName
	}
	if subject.SerialNumber != "" {
		out[ParamSerialNumber] = subject.SerialNumber
	}
	// pkix.Name has no field for dnQualifier; a parsed certificate keeps it in Names.
	for _, atv := range subject.Names {
		if atv.Type.Equal(oidDNQualifier) {
			if s, ok := atv.Value.(string); ok {
				out[ParamDistinguishedNameQualifier] = s
				break
			}
		}
	}
	return out
}
