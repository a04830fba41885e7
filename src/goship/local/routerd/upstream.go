package main

// Upstream endpoints and their keep-alive connection pools. The client side is hand-rolled on net rather
// than net/http's Transport for two reasons: the Transport silently replays idempotent requests that fail
// on a reused connection (a rehearsal must see every dropped request), and its per-connection read and
// write goroutines add a hand-off per request that costs latency.

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

type poolOptions struct {
	maxIdle        int
	idleTimeout    time.Duration
	connectTimeout time.Duration
}

type upConn struct {
	c         net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

func (u *upConn) close() { _ = u.c.Close() }

type endpoint struct {
	addr     string
	opts     poolOptions
	inflight atomic.Int64
	// sending counts requests that chose this endpoint and are not yet written to it; retired is set once
	// it left the configuration. A request raises sending before it reads retired and retire sets retired
	// before it reads sending, so (atomics being sequentially consistent) either the request sees the
	// endpoint retired and goes elsewhere, or retire waits until the request has reached the upstream.
	sending atomic.Int64
	retired atomic.Bool

	mu   sync.Mutex
	idle []*upConn // a stack: the most recently used connection is the warmest
}

func newEndpoint(addr string, opts poolOptions) *endpoint {
	return &endpoint{addr: addr, opts: opts}
}

// get returns a pooled connection that is still open, or dials a new one before deadline (given up when
// ctx ends: the client left); an error is a connect failure.
func (e *endpoint) get(ctx context.Context, deadline time.Time) (*upConn, error) {
	now := time.Now()
	for {
		e.mu.Lock()
		n := len(e.idle)
		if n == 0 {
			e.mu.Unlock()
			break
		}
		u := e.idle[n-1]
		e.idle[n-1] = nil
		e.idle = e.idle[:n-1]
		e.mu.Unlock()
		// A replica that stopped or restarted closes its idle connections; writing a request into one
		// would turn a healthy endpoint's request into a reset.
		if now.Sub(u.idleSince) < e.opts.idleTimeout && u.br.Buffered() == 0 && peerOpen(u.c) {
			return u, nil
		}
		u.close()
	}
	// The context is made here, not per request: most requests find a pooled connection.
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	d := net.Dialer{Timeout: e.opts.connectTimeout}
	c, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return nil, err
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 8<<10)}, nil
}

// put returns a connection whose last response was read to its end.
func (e *endpoint) put(u *upConn) {
	u.idleSince = time.Now()
	e.mu.Lock()
	if e.retired.Load() || len(e.idle) >= e.opts.maxIdle {
		e.mu.Unlock()
		u.close()
		return
	}
	e.idle = append(e.idle, u)
	e.mu.Unlock()
}

// retireWait bounds how long retire waits for requests still being written to the endpoint (a slow
// request body is the only thing that makes it long).
const retireWait = time.Second

// retire is called when the endpoint left the routing table: idle connections close now, busy ones when
// their request is done. It returns once no request is on its way to the endpoint (or after retireWait),
// so that a replica stopped when the change is made never receives a request chosen before the change
// on a connection it then sees as idle: only requests it already received, which it can drain.
func (e *endpoint) retire() {
	e.retired.Store(true)
	e.mu.Lock()
	idle := e.idle
	e.idle = nil
	e.mu.Unlock()
	for _, u := range idle {
		u.close()
	}
	for until := time.Now().Add(retireWait); e.sending.Load() > 0 && time.Now().Before(until); {
		time.Sleep(100 * time.Microsecond)
	}
}
