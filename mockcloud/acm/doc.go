// Package acm is the mock cloud's AWS Certificate Manager: the operations a user
// needs to bring a custom domain's server certificate to AWS IoT
// (ImportCertificate, DescribeCertificate, GetCertificate, ListCertificates,
// DeleteCertificate), per region, in ACM's JSON 1.1 protocol (POST /,
// X-Amz-Target: CertificateManager.<Operation>, as botocore's acm service-2.json
// 2015-12-08 declares it), so `aws acm … --endpoint-url` works against the rig.
//
// ImportCertificate checks what ACM checks before it accepts a certificate: one
// PEM certificate in the certificate field, an unencrypted private key of a
// supported algorithm (RSA 1024–4096 bits, ECDSA P-256, P-384, P-521) that matches
// it, a chain in which each certificate signs the one before it (the leaf first),
// and a validity period that includes now. A refusal is a ValidationException
// that says which check failed [unconf: the messages are this package's; AWS's
// exact wording is not documented].
//
// ListCertificates returns, without an Includes.keyTypes filter, only RSA_1024
// and RSA_2048 certificates, as ACM documents: an imported ECDSA certificate is
// listed only when its key type is asked for.
//
// What is imported is kept in one file per region (0600: it holds private keys),
// so it survives a restart with the same data folder. Signatures are not checked;
// the region of a call is the one of its SigV4 credential scope.
package acm
