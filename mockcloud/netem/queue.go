package netem

import (
	"net"
	"os"
	"sync"
	"time"
)

// item is one write or one received chunk (or datagram), held until due.
type item struct {
	due  time.Time
	data []byte
	addr net.Addr // datagrams: the peer
	err  error    // inbound: how the socket's reading ended; stays at the head once reached
	fin  bool     // outbound: the connection closes here
}

// queue holds one direction of one socket. One side is the application (Read or
// Write, under the application's deadline), the other a pump goroutine.
type queue struct {
	mu       sync.Mutex
	wake     chan struct{} // closed and replaced on every change
	items    []item        // items[0] is due first: due times never decrease
	size     int           // bytes of data in items
	limit    int
	deadline time.Time // the application's deadline for this direction
	closed   bool      // the application closed the socket
	// lingers keeps delivering what was queued before Close (a connection's
	// outbound data and FIN); otherwise Close discards it.
	lingers bool
	d       time.Duration // outbound: the delay of what the application puts
	err     error         // outbound: the socket failed; every later Write returns it
	dropped int           // inbound datagrams discarded because the queue was full
}

func newQueue(limit int, d time.Duration, lingers bool) *queue {
	return &queue{wake: make(chan struct{}), limit: limit, d: d, lingers: lingers}
}

// signalLocked wakes every waiter so it looks at the queue again.
func (q *queue) signalLocked() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// waitLocked releases q.mu until the queue changes or until passes; with
// useDeadline, also until the application's deadline passes. A zero until does
// not bound the wait.
func (q *queue) waitLocked(until time.Time, useDeadline bool) {
	if useDeadline && !q.deadline.IsZero() && (until.IsZero() || q.deadline.Before(until)) {
		until = q.deadline
	}
	wake := q.wake
	q.mu.Unlock()
	defer q.mu.Lock()
	if until.IsZero() {
		<-wake
		return
	}
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-wake:
	case <-t.C:
	}
}

func (q *queue) expiredLocked(now time.Time) bool {
	return !q.deadline.IsZero() && !now.Before(q.deadline)
}

// headDueLocked reports whether items[0] exists and is due at now.
func (q *queue) headDueLocked(now time.Time) bool {
	return len(q.items) > 0 && !q.items[0].due.After(now)
}

func (q *queue) headDue() time.Time {
	if len(q.items) == 0 {
		return time.Time{}
	}
	return q.items[0].due
}

func (q *queue) popLocked() item {
	it := q.items[0]
	q.items[0] = item{}
	q.items = q.items[1:]
	q.size -= len(it.data)
	return it
}

func (q *queue) setDeadline(t time.Time) {
	q.mu.Lock()
	q.deadline = t
	q.signalLocked()
	q.mu.Unlock()
}

// put queues data from the application (Write, WriteTo) to be sent after the
// delay, waiting for room under the deadline. data must not be used by the
// caller afterwards. It fails with net.ErrClosed, os.ErrDeadlineExceeded or the
// socket's own error.
func (q *queue) put(data []byte, addr net.Addr) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		switch {
		case q.closed:
			return net.ErrClosed
		case q.err != nil:
			return q.err
		case q.size < q.limit:
			// Stamped under the lock: due times never decrease.
			q.items = append(q.items, item{due: time.Now().Add(q.d), data: data, addr: addr})
			q.size += len(data)
			q.signalLocked()
			return nil
		case q.expiredLocked(time.Now()):
			return os.ErrDeadlineExceeded
		}
		q.waitLocked(time.Time{}, true)
	}
}

// arrive queues what a pump received. A full queue makes it wait for room, or
// with drop, discards the item (datagrams); an item carrying the end of reading
// always fits. It reports false once the application has closed the socket.
func (q *queue) arrive(it item, drop bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		switch {
		case q.closed:
			return false
		case q.size < q.limit || it.err != nil:
			q.items = append(q.items, it)
			q.size += len(it.data)
			q.signalLocked()
			return true
		case drop:
			q.dropped++
			return true
		}
		q.waitLocked(time.Time{}, false)
	}
}

// read fills p with due bytes, across items, under the deadline.
func (q *queue) read(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed {
			return 0, net.ErrClosed
		}
		now := time.Now()
		n := 0
		for n < len(p) && q.headDueLocked(now) && q.items[0].err == nil {
			head := &q.items[0]
			k := copy(p[n:], head.data)
			n += k
			if k < len(head.data) {
				head.data = head.data[k:]
				q.size -= k
			} else {
				q.popLocked()
			}
		}
		switch {
		case n > 0 || len(p) == 0:
			q.signalLocked()
			return n, nil
		case q.headDueLocked(now):
			return 0, q.items[0].err
		case q.expiredLocked(now):
			return 0, os.ErrDeadlineExceeded
		}
		q.waitLocked(q.headDue(), true)
	}
}

// readFrom takes one due datagram under the deadline; a datagram longer than p
// is cut to fit, as a UDP socket does.
func (q *queue) readFrom(p []byte) (int, net.Addr, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed {
			return 0, nil, net.ErrClosed
		}
		now := time.Now()
		switch {
		case q.headDueLocked(now) && q.items[0].err != nil:
			return 0, nil, q.items[0].err
		case q.headDueLocked(now):
			it := q.popLocked()
			q.signalLocked()
			return copy(p, it.data), it.addr, nil
		case q.expiredLocked(now):
			return 0, nil, os.ErrDeadlineExceeded
		}
		q.waitLocked(q.headDue(), true)
	}
}

// next waits for the head to be due and takes it, for a pump to send. It reports
// false once the application closed a queue that does not linger.
func (q *queue) next() (item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed && !q.lingers {
			return item{}, false
		}
		if q.headDueLocked(time.Now()) {
			it := q.popLocked()
			q.signalLocked()
			return it, true
		}
		q.waitLocked(q.headDue(), false)
	}
}

// fail records that sending failed: queued data is dropped (a FIN stays, so the
// connection still closes) and every later put returns err.
func (q *queue) fail(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.err = err
	}
	kept := q.items[:0]
	for _, it := range q.items {
		if it.fin {
			kept = append(kept, it)
		}
	}
	clear(q.items[len(kept):])
	q.items = kept
	q.size = 0
	q.signalLocked()
}

// close ends the application's side. A queue that lingers gets a FIN after the
// delay, behind everything written before, and returns when it is due; any other
// queue is emptied.
func (q *queue) close() (fin time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.lingers {
		fin = time.Now().Add(q.d)
		q.items = append(q.items, item{due: fin, fin: true})
	} else {
		clear(q.items)
		q.items = nil
		q.size = 0
	}
	q.signalLocked()
	return fin
}
