package main

// Mirroring: a copy of a share of requests goes to the mirror version, fire and forget. Copies are bounded
// in flight (a full slot table drops the copy, counted), their answers are read and thrown away, and they
// are counted apart from the primary's requests.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

func (p *proxy) mirror(t *table, w http.ResponseWriter, r *http.Request) {
	v := t.mirror
	var body []byte
	if r.ContentLength != 0 {
		if r.ContentLength < 0 || r.ContentLength > mirrorBodyLimit {
			v.stats.mirrorDropped.Add(1)
			return
		}
		body = make([]byte, r.ContentLength)
		// Buffering must not wait forever on a slow client; see exchange for why the deadline is lifted.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(t.timeout))
		n, err := io.ReadFull(r.Body, body)
		_ = rc.SetReadDeadline(time.Time{})
		if err != nil {
			// The primary still gets what arrived and then the same error.
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body[:n]), r.Body), r.Body}
			v.stats.mirrorDropped.Add(1)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	select {
	case p.mirrors <- struct{}{}:
	default:
		v.stats.mirrorDropped.Add(1)
		return
	}
	copied := &http.Request{
		Method:        r.Method,
		URL:           r.URL,
		RequestURI:    r.RequestURI,
		Host:          r.Host,
		Header:        r.Header.Clone(),
		RemoteAddr:    r.RemoteAddr,
		ContentLength: r.ContentLength,
	}
	p.mirrorWG.Add(1)
	go func() {
		defer func() {
			<-p.mirrors
			p.mirrorWG.Done()
		}()
		if !sendMirror(v, copied, body, t.timeout) {
			v.stats.mirrorFailures.Add(1)
		}
	}()
}

// sendMirror reports whether the copy got an answer below 500.
func sendMirror(v *versionRoute, r *http.Request, body []byte, timeout time.Duration) bool {
	v.stats.mirrored.Add(1)
	e := v.pick(nil)
	if e == nil {
		return false
	}
	e.inflight.Add(1)
	defer e.inflight.Add(-1)
	deadline := time.Now().Add(timeout)
	u, err := e.get(context.Background(), deadline)
	if err != nil {
		return false
	}
	_ = u.c.SetDeadline(deadline)
	if err := writeRequest(u.bw, r, bytes.NewReader(body), e.addr, true); err != nil {
		u.close()
		return false
	}
	resp, err := readResponse(u.br, r)
	if err != nil {
		u.close()
		return false
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.Close {
		u.close()
	} else {
		_ = u.c.SetDeadline(time.Time{})
		e.put(u)
	}
	return resp.StatusCode < 500
}
