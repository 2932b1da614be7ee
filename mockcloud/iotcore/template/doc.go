// Package template parses and evaluates AWS IoT provisioning templates, the JSON
// documents that fleet provisioning (RegisterThing) and just-in-time provisioning
// (JITP) run to create a thing, activate a certificate and attach policies.
//
// Parse validates a template body once and compiles it; Evaluate resolves it against
// one device's parameters and returns the resources to create, already typed. The
// mock region keeps the *Template and calls Evaluate on every RegisterThing or first
// JITP connection, so a Template is immutable and safe for concurrent use.
//
// # What the service documents, and what this package decides
//
// Documented (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html,
// jit-provisioning.html, fleet-provision-api.html):
//
//   - Sections Parameters and Resources; fleet templates may add Mappings and
//     DeviceConfiguration. The body is at most 10 240 characters.
//   - Resource types AWS::IoT::Thing, AWS::IoT::Certificate and AWS::IoT::Policy: one
//     thing, one certificate and "one or more" policies.
//   - A certificate is given by exactly one of CertificateId, CertificateSigningRequest
//     or CertificatePem (+CACertificatePem); a policy by exactly one of PolicyName or
//     PolicyDocument.
//   - Intrinsic functions Ref, Fn::Join, Fn::Select, Fn::Split, Fn::Sub and
//     Fn::FindInMap, usable anywhere except Mappings. Condition functions (Fn::If,
//     Fn::Equals, a Conditions section) and Fn::GetAtt are not documented for
//     provisioning templates and are rejected.
//   - JITP parameters taken from the certificate subject: see BuiltinParameters.
//
// Not documented, decided here (each marked [unconf] where it is declared):
//
//   - Unknown keys (top-level sections, resource keys, properties, parameter keys) are
//     rejected so that typos fail in the rig rather than in production;
//     ParseOptions.AllowUnknownKeys ignores them instead.
//   - A Ref or ${Var} must name a declared parameter, a Fn::Sub variable or a built-in
//     AWS::IoT::Certificate::* parameter. (The docs' own fleet example once referenced
//     an undeclared SerialNumber; later revisions declare it.)
//   - Every declared parameter without a Default must be supplied, referenced or not:
//     that is the documented JITP rule, applied to fleet provisioning too.
//   - A policy given only by PolicyDocument is named by the hex SHA-256 of the
//     document text (the docs say "a hash of the policy document").
//   - The body length is counted in Unicode code points.
package template
