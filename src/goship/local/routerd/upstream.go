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

	mu      sync.Mutex
	idle    []*upConn // a stack: the most recently used connection is the warmest
	retired bool
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
	if e.retired || len(e.idle) >= e.opts.maxIdle {
		e.mu.Unlock()
		u.close()
		return
	}
	e.idle = append(e.idle, u)
	e.mu.Unlock()
}

// retire is called when the endpoint leaves the configuration: idle connections close now, busy ones when
// their request is done.
func (e *endpoint) retire() {
	e.mu.Lock()
	idle := e.idle
	e.idle = nil
	e.retired = true
	e.mu.Unlock()
	for _, u := range idle {
		u.close()
	}
}
