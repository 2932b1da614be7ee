// Package sdnotify tells systemd how `fleetboot run` is doing, through the service
// manager's notify protocol (sd_notify(3)): READY=1 once the device has a usable
// identity, STATUS= lines for each phase, STOPPING=1 on the way out, and WATCHDOG=1
// keep-alives from the loop that makes progress, so that a stuck loop is killed
// and restarted (WatchdogSec= in the unit).
//
// Without NOTIFY_SOCKET in the environment (not started by systemd, or a unit that
// is not Type=notify) every call is a no-op that returns nil, and the watchdog is
// disabled: nothing changes for a process run by hand, by a test or by another
// init system.
//
// The datagrams are sent by github.com/coreos/go-systemd/v22/daemon, which reads
// the environment at each call; the environment is never unset, so a Notifier can
// be used for the whole life of the process. A Notifier is safe for concurrent use.
package sdnotify

import (
	"fmt"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends service state to systemd. The zero value is ready to use.
type Notifier struct{}

// New returns a Notifier for the service manager named by NOTIFY_SOCKET, if any.
func New() *Notifier { return &Notifier{} }

// Enabled reports whether a service manager listens: whether NOTIFY_SOCKET is set.
func (*Notifier) Enabled() bool { return os.Getenv("NOTIFY_SOCKET") != "" }

// Ready says that start-up is complete (READY=1): for fleetboot, that an identity
// is usable, provisioned now or loaded from disk while the cloud cannot be
// reached. Units ordered after fleetboot.service start only then.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Status sets the one-line status `systemctl status` shows (STATUS=). Line breaks
// in s become spaces: the protocol is one assignment per line, and a status that
// carries an error message must not be able to send another assignment
// (READY=1, MAINPID=…) on its own.
func (n *Notifier) Status(s string) error { return n.send("STATUS=" + oneLine(s)) }

// Stopping says that the service is shutting down (STOPPING=1), so that systemd
// shows it as deactivating rather than failed while it closes its connection.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

// send delivers one datagram; without NOTIFY_SOCKET it does nothing.
func (*Notifier) send(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sd_notify %s: %w", name(state), err)
	}
	return nil
}

// name is the variable of an assignment, for error messages: a STATUS= value may
// be long, and says nothing about why the socket failed.
func name(state string) string {
	k, _, _ := strings.Cut(state, "=")
	return k
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
