package main

// The HTTP/1.1 reverse proxy: pick a version (matches, then sticky or weighted split), pick one of its
// ready endpoints (least requests, round-robin among equals), forward, stream the answer back. No retries
// unless configured, and then for connect failures only, each failed attempt still counted.

import (
	"bufio"
	"context"
	"errors"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type proxy struct {
	table    atomic.Pointer[table]
	stats    *statsRegistry
	mirrors  chan struct{} // a slot per mirror request allowed in flight
	mirrorWG sync.WaitGroup
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// mirrorBodyLimit bounds what is buffered to copy a request with a body; larger requests are not mirrored.
const mirrorBodyLimit = 64 << 10

func (t *table) route(r *http.Request) *versionRoute {
	for i := range t.matches {
		m := &t.matches[i]
		var got string
		if m.header != "" {
			vs := r.Header[m.header] // canonical already
			if len(vs) == 0 {
				continue
			}
			got = vs[0]
		} else {
			c, err := r.Cookie(m.cookie)
			if err != nil {
				continue
			}
			got = c.Value
		}
		switch m.kind {
		case "exact":
			if got == m.value {
				return m.version
			}
		case "prefix":
			if strings.HasPrefix(got, m.value) {
				return m.version
			}
		case "regex":
			if m.re.MatchString(got) {
				return m.version
			}
		}
	}
	if t.total == 0 {
		return nil
	}
	var key string
	if t.sticky != "" {
		if vs := r.Header[t.sticky]; len(vs) > 0 {
			key = vs[0]
		}
	}
	var n int
	if key != "" {
		h := fnv.New64a()
		_, _ = io.WriteString(h, key)
		n = int(h.Sum64() % uint64(t.total))
	} else {
		n = rand.IntN(t.total)
	}
	for _, w := range t.split {
		if n < w.upTo {
			return w.version
		}
	}
	return t.split[len(t.split)-1].version
}

// pick chooses the endpoint with the fewest requests in flight, starting the scan at a rotating position so
// that equal loads take turns; skip is avoided when another endpoint exists (a retry goes elsewhere).
func (v *versionRoute) pick(skip *endpoint) *endpoint {
	eps := v.endpoints
	n := len(eps)
	if n == 0 {
		return nil
	}
	if n == 1 {
		return eps[0]
	}
	start := int(v.rr.Add(1) % uint32(n))
	var best *endpoint
	var bestLoad int64
	for i := 0; i < n; i++ {
		e := eps[(start+i)%n]
		if e == skip {
			continue
		}
		if load := e.inflight.Load(); best == nil || load < bestLoad {
			best, bestLoad = e, load
		}
	}
	return best
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t := p.table.Load()
	v := t.route(r)
	if v == nil {
		p.stats.unrouted.Add(1)
		refuse(w, http.StatusServiceUnavailable, "no-route", "no rule sends this request to a version")
		return
	}
	v.stats.requests.Add(1)
	w.Header()["X-Goship-Version"] = v.header
	if t.mirror != nil && t.mirror != v && rand.IntN(100) < t.mirrorPercent {
		p.mirror(t, w, r)
	}
	code, cut := p.forward(w, r, v, t, start)
	v.stats.observe(code, time.Since(start))
	if cut {
		if code != statusClientGone && code < 500 { // a 5xx counted itself
			v.stats.failures.Add(1)
		}
		// The status line is sent already: cutting the connection is the only way left to say "broken".
		panic(http.ErrAbortHandler)
	}
}

func refuse(w http.ResponseWriter, code int, kind, message string) {
	h := w.Header()
	h["X-Goship-Error"] = []string{kind}
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(message) + len("goship-router: \n"))}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, "goship-router: "+message+"\n")
}

// failure sorts an upstream error into timeout or reset.
func failure(err error) (int, string) {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout, errTimeout
	}
	return http.StatusBadGateway, errReset
}

// statusClientGone is recorded (as nginx does) when the client broke off while sending its request.
const statusClientGone = 499

// forward sends r to one of v's endpoints and streams the answer back. It returns the status the client
// got and whether the client's connection must be cut because the exchange broke after that status.
func (p *proxy) forward(w http.ResponseWriter, r *http.Request, v *versionRoute, t *table, start time.Time) (int, bool) {
	deadline := start.Add(t.timeout)
	var failed *endpoint
	for attempt := 0; ; attempt++ {
		e := v.pick(failed)
		if e == nil {
			v.stats.upstreamError(errNoEndpoint)
			refuse(w, http.StatusServiceUnavailable, errNoEndpoint, "no ready endpoint for version "+v.name)
			return http.StatusServiceUnavailable, false
		}
		e.inflight.Add(1)
		e.sending.Add(1)
		if e.retired.Load() {
			// The endpoint left the configuration after this request was routed: the version's endpoints
			// are taken from the table in place now (the change's caller may be stopping this replica).
			e.sending.Add(-1)
			e.inflight.Add(-1)
			if now := p.table.Load().versions[v.name]; now != nil {
				v = now
			} else {
				v = &versionRoute{name: v.name, stats: v.stats} // the version left the table: no endpoint
			}
			attempt--
			continue
		}
		u, err := e.get(r.Context(), deadline)
		if err != nil {
			e.sending.Add(-1)
			e.inflight.Add(-1)
			if r.Context().Err() != nil {
				return statusClientGone, true // the client left while we dialled: not the upstream's fault
			}
			code, kind := http.StatusBadGateway, errConnect
			if errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
				code, kind = http.StatusGatewayTimeout, errTimeout
			}
			v.stats.upstreamError(kind)
			if kind == errConnect && attempt < t.retries {
				// Nothing reached the upstream, so the request (body included) is still whole.
				v.stats.retried.Add(1)
				v.stats.failures.Add(1)
				failed = e
				continue
			}
			refuse(w, code, kind, kind+" error from "+e.addr+" for version "+v.name)
			return code, false
		}
		code, cut := p.exchange(w, r, v, e, u, deadline)
		e.inflight.Add(-1)
		return code, cut
	}
}

func (p *proxy) exchange(w http.ResponseWriter, r *http.Request, v *versionRoute, e *endpoint, u *upConn, deadline time.Time) (int, bool) {
	_ = u.c.SetDeadline(deadline)
	rc := http.NewResponseController(w)
	hasBody := r.ContentLength != 0
	if hasBody {
		// A body that arrives slowly is bounded by the upstream timeout too. The deadline is lifted as soon
		// as the body is through: net/http's background read on the client connection starts then, and a
		// deadline firing there would cancel the context of every later request on that connection.
		_ = rc.SetReadDeadline(deadline)
	}
	err := writeRequest(u.bw, r, r.Body, e.addr, false)
	e.sending.Add(-1)
	if hasBody {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		u.close()
		if errors.Is(err, errClientBody) {
			return statusClientGone, true
		}
		code, kind := failure(err)
		v.stats.upstreamError(kind)
		refuse(w, code, kind, kind+" from "+e.addr+" for version "+v.name)
		return code, false
	}
	resp, err := readResponse(u.br, r)
	if err != nil {
		u.close()
		code, kind := failure(err)
		v.stats.upstreamError(kind)
		refuse(w, code, kind, kind+" from "+e.addr+" for version "+v.name)
		return code, false
	}
	h := w.Header()
	skip := connectionTokens(resp.Header)
	for k, vv := range resp.Header {
		if !hopByHop(k) && !skip[k] {
			h[k] = vv
		}
	}
	h["X-Goship-Version"] = v.header
	w.WriteHeader(resp.StatusCode)
	streaming := resp.ContentLength < 0
	bufp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bufp)
	buf := *bufp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				// The client left; the rest of this answer is still on the upstream connection.
				u.close()
				return resp.StatusCode, false
			}
			if streaming {
				_ = rc.Flush()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			u.close()
			_, kind := failure(rerr)
			v.stats.upstreamError(kind)
			return resp.StatusCode, true
		}
	}
	if resp.Close {
		u.close()
	} else {
		_ = resp.Body.Close()
		_ = u.c.SetDeadline(time.Time{})
		e.put(u)
	}
	return resp.StatusCode, false
}

func readResponse(br *bufio.Reader, r *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, r)
		if err != nil {
			return nil, err
		}
		// Interim answers (103 Early Hints, a stray 100) are not forwarded; the final one follows. A 101 is
		// never asked for (Upgrade is hop-by-hop and not forwarded), so it is waited past too.
		if resp.StatusCode >= 200 {
			return resp, nil
		}
	}
}

var errClientBody = errors.New("reading the client's request body failed")

type clientBody struct{ r io.Reader }

func (c clientBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = errors.Join(errClientBody, err)
	}
	return n, err
}

func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// connectionTokens are the header names a Connection header declares hop-by-hop (RFC 9110 §7.6.1).
func connectionTokens(h http.Header) map[string]bool {
	vs := h["Connection"]
	if len(vs) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, v := range vs {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				out[http.CanonicalHeaderKey(tok)] = true
			}
		}
	}
	return out
}

// writeRequest writes the request line, the end-to-end headers and the body in HTTP/1.1 framing.
func writeRequest(bw *bufio.Writer, r *http.Request, body io.Reader, addr string, mirrored bool) error {
	uri := r.RequestURI
	if uri == "" || r.URL.IsAbs() {
		uri = r.URL.RequestURI()
	}
	host := r.Host
	if host == "" {
		host = addr
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	skip := connectionTokens(r.Header)
	for k, vv := range r.Header {
		if hopByHop(k) || skip[k] || k == "Content-Length" || k == "Expect" || k == "X-Forwarded-For" {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("X-Forwarded-For: ")
	for _, prior := range r.Header["X-Forwarded-For"] {
		bw.WriteString(prior)
		bw.WriteString(", ")
	}
	client := r.RemoteAddr
	if i := strings.LastIndexByte(client, ':'); i > 0 {
		client = strings.Trim(client[:i], "[]")
	}
	bw.WriteString(client)
	bw.WriteString("\r\n")
	if mirrored {
		bw.WriteString("X-Goship-Mirror: 1\r\n")
	}
	chunked := false
	switch {
	case r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(r.ContentLength, 10))
		bw.WriteString("\r\n")
	case r.ContentLength < 0:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case len(r.Header["Content-Length"]) > 0:
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
	if r.ContentLength > 0 {
		if _, err := io.CopyN(bw, clientBody{body}, r.ContentLength); err == io.EOF {
			return errClientBody // shorter than its Content-Length
		} else if err != nil {
			return err
		}
	} else if chunked {
		if err := writeChunked(bw, clientBody{body}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeChunked(bw *bufio.Writer, body io.Reader) error {
	bufp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bufp)
	buf := *bufp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			bw.WriteString(strconv.FormatInt(int64(n), 16))
			bw.WriteString("\r\n")
			bw.Write(buf[:n])
			bw.WriteString("\r\n")
		}
		if err == io.EOF {
			_, werr := bw.WriteString("0\r\n\r\n")
			return werr
		}
		if err != nil {
			return err
		}
	}
}
