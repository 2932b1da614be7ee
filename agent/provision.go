package agent

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/dnsresolve"
	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/provisioning"
)

// tokenLifetime is how long AWS honours an ownership token (PROTOCOL.md §0). A
// token older than this by a clock that can be believed is not tried.
const tokenLifetime = time.Hour

// maxTokenRounds bounds how often one Provision call gets new credentials after a
// refused token, so a cloud that refuses every token cannot spin the device.
const maxTokenRounds = 3

// Provision runs first boot until the device holds its permanent identity. It
// resumes from the saved state and repeats nothing that succeeded. Errors are
// *Error with a class; transient ones are the caller's to retry.
func (a *Agent) Provision(ctx context.Context) (*State, error) {
	st := a.current()
	if st.Phase.Provisioned() {
		return st, nil
	}
	if a.cfg.Provisioning.Mode == ModeJITP {
		return a.provisionJITP(ctx)
	}
	claim, err := a.loadClaim()
	if err != nil {
		return nil, err
	}
	for round := 0; ; round++ {
		st = a.current()
		err := a.provisionRound(ctx, st, claim)
		if err == nil {
			return a.current(), nil
		}
		var retry *tokenRefused
		if !errors.As(err, &retry) || round+1 >= maxTokenRounds {
			return nil, err
		}
		a.log.Info("ownership token refused; requesting new credentials", zap.String("state", string(st.Phase)))
	}
}

// tokenRefused signals that the saved token was refused and the state went back to new.
type tokenRefused struct{ err error }

func (t *tokenRefused) Error() string { return t.err.Error() }
func (t *tokenRefused) Unwrap() error { return t.err }

func (a *Agent) provisionRound(ctx context.Context, st *State, claim tls.Certificate) error {
	format, err := provisioning.ParseFormat(a.cfg.Provisioning.Format)
	if err != nil {
		return configErr("provision", err)
	}
	template := a.cfg.Provisioning.Template

	var addrs []netip.AddrPort
	if st.Phase == PhaseNew {
		if err := a.step(StepResolve, func() error {
			res, err := a.resolver.Resolve(ctx, a.serverName())
			if err != nil {
				return classify("resolve "+a.serverName(), err)
			}
			if len(res.Addrs) == 0 {
				return classify("resolve "+a.serverName(), errors.New("no addresses"))
			}
			a.setResolved(res)
			st.Region, st.Endpoint = res.Region, pinnedName(res)
			st.ServerName = a.serverName()
			st.Addrs, st.AddrsExpire = addrStrings(res.Addrs), a.expiry(res.TTL)
			addrs = a.addrPorts(res.Addrs)
			return nil
		}); err != nil {
			return err
		}
	} else {
		// A credentialed device holds a token of the region that issued it: go back
		// there, not to wherever the global name points today.
		pinned, err := a.pinnedAddrs(ctx, st)
		if err != nil {
			return err
		}
		addrs = pinned
	}

	var signer crypto.Signer
	if a.cfg.Provisioning.Mode == ModeCSR && st.Phase == PhaseNew {
		if err := a.step(StepKey, func() error {
			s, err := a.deviceKey(ctx)
			signer = s
			return err
		}); err != nil {
			return err
		}
	}

	var conn *provisioning.Conn
	if err := a.step(StepClaimConnect, func() error {
		c, err := a.dial(ctx, a.dialConfig(claim, claimClientID(), addrs))
		if err != nil {
			return classify("connect with claim certificate", err)
		}
		conn = c
		return nil
	}); err != nil {
		return err
	}
	defer conn.Close()
	client := provisioning.NewClient(conn, format, a.log.Named("provisioning"))

	ops := []provisioning.Operation{provisioning.OpRegisterThing}
	if st.Phase == PhaseNew || a.tokenStale(st) {
		ops = append(ops, a.createOp())
	}
	if err := a.step(StepSubscribe, func() error {
		sctx, cancel := a.exchange(ctx)
		defer cancel()
		return classify("subscribe", client.Prepare(sctx, template, ops...))
	}); err != nil {
		return err
	}

	if st.Phase == PhaseCredentialed && a.tokenStale(st) {
		a.log.Info("ownership token expired by the clock; requesting new credentials")
		st.Phase, st.OwnershipToken, st.CertificateID = PhaseNew, "", ""
		if err := a.save(ctx, st); err != nil {
			return err
		}
		if a.cfg.Provisioning.Mode == ModeCSR {
			s, err := a.deviceKey(ctx)
			if err != nil {
				return err
			}
			signer = s
		}
	}

	if st.Phase == PhaseNew {
		if err := a.step(StepCreateCertificate, func() error {
			return a.createCredentials(ctx, client, st, signer)
		}); err != nil {
			return err
		}
	}

	var reg *provisioning.RegisterThingResponse
	err = a.step(StepRegisterThing, func() error {
		rctx, cancel := a.exchange(ctx)
		defer cancel()
		r, err := client.RegisterThing(rctx, template, provisioning.RegisterThingRequest{
			CertificateOwnershipToken: st.OwnershipToken,
			Parameters:                a.cfg.Provisioning.Parameters,
		})
		if err != nil {
			return err
		}
		reg = r
		return nil
	})
	rej, rejected := provisioning.AsRejected(err)
	if rejected && rej.TokenRejected() {
		a.warnUnconfirmed(st.CertificateID)
		// The token expired, was used, or the cloud forgot it: the certificate it
		// vouched for will never be activated. Start over with new credentials; a
		// CSR-flow key is kept and signs the next CSR.
		st.Phase, st.OwnershipToken, st.CertificateID = PhaseNew, "", ""
		if serr := a.save(ctx, st); serr != nil {
			return serr
		}
		return &tokenRefused{err: classify("register thing", err)}
	}
	if err != nil && !rejected && ctx.Err() == nil {
		// The request may have been applied: the next attempt repeats it with the
		// same token, and says so if the cloud then refuses that token.
		a.setUnconfirmed(st.CertificateID)
	}
	if err != nil {
		return classify(fmt.Sprintf("register thing with template %q", template), err)
	}
	a.setUnconfirmed("")
	if reg.ThingName == "" {
		return &Error{Class: ClassRejected, Step: "register thing", Err: errors.New("accepted reply has no thingName: the template has no AWS::IoT::Thing resource")}
	}
	st.Phase = PhaseRegistered
	st.ThingName = reg.ThingName
	st.DeviceConfiguration = reg.DeviceConfiguration
	st.OwnershipToken = ""
	if err := a.save(ctx, st); err != nil {
		return err
	}
	conn.Close()
	a.log.Info("provisioned", zap.String("thing", st.ThingName), zap.String("region", st.Region), zap.String("certificate", st.CertificateID))
	return nil
}

// warnUnconfirmed tells the operator about a certificate the cloud may have
// activated without the device learning of it: fleet provisioning has no way to
// ask whether a RegisterThing whose reply was lost was applied, and a used token
// is refused like an expired one. If it was applied, the thing holds that
// certificate ACTIVE besides the one this device goes on to get.
func (a *Agent) warnUnconfirmed(certID string) {
	if certID == "" || a.getUnconfirmed() != certID {
		return
	}
	a.setUnconfirmed("")
	a.log.Warn("the cloud refused the ownership token of a RegisterThing whose reply was lost; it may have been applied",
		zap.String("certificate", certID),
		zap.String("hint", "if this certificate is ACTIVE, the device does not use it: deactivate it (aws iot update-certificate --new-status INACTIVE)"))
}

func (a *Agent) createOp() provisioning.Operation {
	if a.cfg.Provisioning.Mode == ModeKeys {
		return provisioning.OpCreateKeysAndCertificate
	}
	return provisioning.OpCreateCertificateFromCSR
}

// tokenStale is true when a clock that can be believed says the token is too old to try.
func (a *Agent) tokenStale(st *State) bool {
	if st.Phase != PhaseCredentialed || st.TokenIssued.IsZero() {
		return false
	}
	now, trusted := trustedNow(a.now(), st.Updated)
	return trusted && now.Sub(st.TokenIssued) > tokenLifetime-5*time.Minute
}

// createCredentials gets a certificate and stores it with its key, then writes the
// credentialed state. The state is written only after the keystore holds the pair,
// so a resumed boot never holds a token for a certificate it lost.
func (a *Agent) createCredentials(ctx context.Context, client *provisioning.Client, st *State, signer crypto.Signer) error {
	cctx, cancel := a.exchange(ctx)
	defer cancel()
	switch a.cfg.Provisioning.Mode {
	case ModeKeys:
		resp, err := client.CreateKeysAndCertificate(cctx)
		if err != nil {
			return classify("create keys and certificate", err)
		}
		leaf, err := parseCertificate(resp.CertificatePEM)
		if err != nil {
			return &Error{Class: ClassRejected, Step: "create keys and certificate", Err: err}
		}
		key, err := parsePrivateKey(resp.PrivateKey)
		if err != nil {
			return &Error{Class: ClassRejected, Step: "create keys and certificate", Err: err}
		}
		issued, ok := key.(crypto.Signer)
		if !ok {
			return &Error{Class: ClassRejected, Step: "create keys and certificate", Err: fmt.Errorf("privateKey of type %T cannot sign", key)}
		}
		if err := checkIssued(resp.CertificateID, leaf, issued.Public()); err != nil {
			return &Error{Class: ClassRejected, Step: "create keys and certificate", Err: err}
		}
		imp, ok := a.ks.(keystore.KeyImporter)
		if !ok {
			return configErr("store key", fmt.Errorf("keystore %s cannot import a key: use csr mode", a.ks.Describe()))
		}
		if err := a.retryDiskFull(ctx, "key and certificate", func() error { return imp.ImportIdentity(ctx, key, leaf, nil) }); err != nil {
			return storageErr("store key and certificate", err)
		}
		st.CertificateID, st.OwnershipToken = resp.CertificateID, resp.CertificateOwnershipToken
	default:
		csr, err := keystore.CreateCSR(signer, pkix.Name{CommonName: "fleetboot"})
		if err != nil {
			return configErr("create csr", err)
		}
		resp, err := client.CreateCertificateFromCSR(cctx, string(csr))
		if err != nil {
			return classify("create certificate from csr", err)
		}
		leaf, err := parseCertificate(resp.CertificatePEM)
		if err != nil {
			return &Error{Class: ClassRejected, Step: "create certificate from csr", Err: err}
		}
		if err := checkIssued(resp.CertificateID, leaf, signer.Public()); err != nil {
			return &Error{Class: ClassRejected, Step: "create certificate from csr", Err: err}
		}
		if err := a.retryDiskFull(ctx, "certificate", func() error { return a.ks.StoreCertificate(ctx, leaf, nil) }); err != nil {
			return storageErr("store certificate", err)
		}
		st.CertificateID, st.OwnershipToken = resp.CertificateID, resp.CertificateOwnershipToken
	}
	st.Mode = a.cfg.Provisioning.Mode
	now, trusted := trustedNow(a.now(), st.Updated)
	st.TokenIssued = time.Time{}
	if trusted {
		st.TokenIssued = now
	}
	st.Phase = PhaseCredentialed
	return a.save(ctx, st)
}

// deviceKey returns the keystore's key, making one if there is none. A key that
// exists is always reused: a certificate for it may already have been issued.
func (a *Agent) deviceKey(ctx context.Context) (crypto.Signer, error) {
	s, err := a.ks.Signer(ctx)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, keystore.ErrNotFound) {
		return nil, configErr("load device key", err)
	}
	gen, ok := a.ks.(keystore.KeyGenerator)
	if !ok {
		return nil, configErr("generate device key", fmt.Errorf("keystore %s cannot generate keys", a.ks.Describe()))
	}
	err = a.retryDiskFull(ctx, "device key", func() error {
		var gerr error
		s, gerr = gen.GenerateKey(ctx, keystore.Algorithm(a.cfg.Keystore.KeyAlgorithm))
		return gerr
	})
	if err != nil {
		return nil, storageErr("generate device key", err)
	}
	return s, nil
}

// pinnedName is the name a device pins as its home endpoint: the AWS IoT endpoint
// name its region was read from, so that resolving it again names the same region
// even when a further CNAME (a load balancer's) follows it; the end of the chain
// when the region came from configuration.
func pinnedName(res *dnsresolve.Result) string {
	if res.RegionName != "" {
		return res.RegionName
	}
	return res.Name
}

// pinnedAddrs returns the home region's addresses: the saved ones while their TTL
// lasts by a believable clock, else a fresh resolution of the pinned name (never
// the global name).
func (a *Agent) pinnedAddrs(ctx context.Context, st *State) ([]netip.AddrPort, error) {
	if r := a.lastResolved(); r != nil && (pinnedName(r) == st.Endpoint || r.Query == st.Endpoint) {
		if now, trusted := trustedNow(a.now(), st.Updated); trusted && now.Before(st.AddrsExpire) {
			return a.addrPorts(r.Addrs), nil
		}
	}
	var out []netip.AddrPort
	err := a.step(StepResolvePinned, func() error {
		res, err := a.resolver.Resolve(ctx, st.Endpoint)
		if err != nil {
			if saved := parseAddrs(st.Addrs); len(saved) > 0 {
				// Offline-first: the last known addresses beat no addresses.
				a.log.Warn("resolving the home endpoint failed; using saved addresses", zap.String("endpoint", st.Endpoint), zap.Error(err))
				out = a.addrPorts(saved)
				return nil
			}
			return classify("resolve "+st.Endpoint, err)
		}
		a.setResolved(res)
		out = a.addrPorts(res.Addrs)
		return nil
	})
	return out, err
}

func (a *Agent) expiry(ttl time.Duration) time.Time {
	now, trusted := trustedNow(a.now())
	if !trusted {
		return time.Time{}
	}
	return now.Add(ttl)
}

func claimClientID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return provisioning.ClaimClientIDPrefix + hex.EncodeToString(b[:])
}

func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}

func parseAddrs(ss []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func parseCertificate(p string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("certificatePem holds no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificatePem: %w", err)
	}
	return c, nil
}

// parsePrivateKey reads the cloud-made key. Its errors never quote the key.
func parsePrivateKey(p string) (crypto.PrivateKey, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return nil, errors.New("privateKey holds no PEM block")
	}
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("privateKey: malformed PKCS #1 RSA key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("privateKey: malformed PKCS #8 key")
		}
		return k, nil
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, errors.New("privateKey: malformed EC key")
		}
		return k, nil
	}
	return nil, fmt.Errorf("privateKey: unexpected PEM type %q", b.Type)
}

// certificateID is AWS IoT's certificate id: hex SHA-256 of the DER.
func certificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// checkIssued refuses a reply whose certificate is not for the device's key or
// whose certificateId is not the certificate's (AWS's id is the SHA-256 of the
// DER), before anything is stored: such a certificate could never connect, and
// its id would name another certificate in the registry.
func checkIssued(claimedID string, leaf *x509.Certificate, pub crypto.PublicKey) error {
	if err := keystore.MatchCertificate(pub, leaf); err != nil {
		return fmt.Errorf("the issued certificate is not for the device key: %w", err)
	}
	if id := certificateID(leaf.Raw); !strings.EqualFold(id, claimedID) {
		return fmt.Errorf("reply names certificateId %q, but its certificate's SHA-256 is %s", claimedID, id)
	}
	return nil
}
