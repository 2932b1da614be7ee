package agent

// StepName names one timed step of first boot, as Options.Observe receives it in
// Step.Name and the logs print it (field "step").
type StepName string

// The steps, in the order a first boot takes them. Which run depends on the mode
// and the saved state: a resumed boot skips what it holds already.
const (
	// StepResolve resolves the global name to the home region's endpoint.
	StepResolve StepName = "resolve"
	// StepKey loads the device key, or makes one (csr mode).
	StepKey StepName = "key"
	// StepClaimConnect connects with the claim certificate.
	StepClaimConnect StepName = "claim-connect"
	// StepSubscribe subscribes to the reply topics of the requests to come.
	StepSubscribe StepName = "subscribe"
	// StepCreateCertificate is CreateKeysAndCertificate or CreateCertificateFromCsr,
	// up to the credentialed state written.
	StepCreateCertificate StepName = "create-certificate"
	// StepRegisterThing is RegisterThing with the ownership token.
	StepRegisterThing StepName = "register-thing"
	// StepJITPConnect connects with the factory certificate (jitp mode); the first
	// attempt is expected to be dropped while the cloud registers it.
	StepJITPConnect StepName = "jitp-connect"
	// StepOnProvisioned runs the device.onProvisioned command, once.
	StepOnProvisioned StepName = "on-provisioned"
	// StepResolvePinned resolves the pinned endpoint again when the saved
	// addresses have expired.
	StepResolvePinned StepName = "resolve-pinned"
	// StepConnect connects with the permanent identity to the pinned endpoint.
	StepConnect StepName = "connect"
	// StepPublishStatus publishes the retained online status; when it succeeds the
	// device is online (see Options.OnOnline).
	StepPublishStatus StepName = "publish-status"
)
