package main

// The admin API on loopback: JSON in and out, each update validated whole and swapped in atomically.
//
//	PUT   /config     endpoints + rules + timeout_ms + retries, all replaced
//	PATCH /endpoints  {"v1": ["127.0.0.1:8081"], "v0": []}: the versions named get exactly these endpoints
//	PATCH /rules      the rule fields present replace the current ones; lease_seconds (with lease_fallback
//	                  the first time) leases them: unless renewed in time, all traffic goes to the fallback
//	GET   /config, GET /stats, GET /metrics (Prometheus text), GET /healthz
//
// GET /config shows the lease ("lease": {seconds, fallback, expires}) and the last one that ran out
// ("lease_expired": {at, fallback, weights}).

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"sync"
	"time"
)

const maxAdminBody = 1 << 20

type admin struct {
	mu       sync.Mutex // serializes updates: read the current config, change it, swap
	proxy    *proxy
	registry *registry
	logger   *log.Logger
	// The lease's timer; leaseGen tells a timer that fired after a renewal (or an end) that it is stale.
	leaseTimer *time.Timer
	leaseGen   uint64
}

func (a *admin) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /config", a.putConfig)
	mux.HandleFunc("PATCH /endpoints", a.patchEndpoints)
	mux.HandleFunc("PATCH /rules", a.patchRules)
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, a.proxy.table.Load().config)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, a.proxy.stats.snapshot())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		a.proxy.stats.writePrometheus(w)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		badRequest(w, err)
		return nil, false
	}
	return data, true
}

// update applies change to a copy of the current config, validates the result and swaps it in.
func (a *admin) update(w http.ResponseWriter, change func(*Config) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := a.proxy.table.Load().config
	// Copy what change may modify in place, so the live table never sees a half-made edit.
	endpoints := make(map[string][]string, len(next.Endpoints))
	for k, v := range next.Endpoints {
		endpoints[k] = v
	}
	next.Endpoints = endpoints
	if err := change(&next); err != nil {
		badRequest(w, err)
		return
	}
	next = next.normalized()
	if err := next.validate(); err != nil {
		badRequest(w, err)
		return
	}
	a.registry.install(a.proxy, next)
	a.armLease(next)
	writeJSON(w, http.StatusOK, next)
}

// armLease (a.mu held) starts the timer of the config's lease, replacing any earlier one.
func (a *admin) armLease(c Config) {
	a.leaseGen++
	if a.leaseTimer != nil {
		a.leaseTimer.Stop()
		a.leaseTimer = nil
	}
	if c.Lease == nil {
		return
	}
	gen := a.leaseGen
	a.leaseTimer = time.AfterFunc(time.Until(c.Lease.Expires), func() { a.expireLease(gen) })
}

// expireLease sends every request to the lease's fallback, unless the lease was renewed or ended meanwhile.
func (a *admin) expireLease(gen uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	current := a.proxy.table.Load().config
	if gen != a.leaseGen || current.Lease == nil {
		return
	}
	next := current.expired(time.Now())
	a.registry.install(a.proxy, next)
	a.leaseGen++
	a.leaseTimer = nil
	if a.logger != nil {
		a.logger.Printf("lease of %gs not renewed: all traffic to %s (weights were %v)",
			current.Lease.Seconds, current.Lease.Fallback, current.Rules.Weights)
	}
}

func (a *admin) putConfig(w http.ResponseWriter, r *http.Request) {
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	a.update(w, func(c *Config) error {
		var fresh Config
		if err := decodeStrict(data, &fresh); err != nil {
			return err
		}
		// The record of an expired lease is the router's to write; a lease given here starts now.
		fresh.LeaseExpired = c.LeaseExpired
		if fresh.Lease != nil {
			fresh.Lease.Expires = time.Now().Add(time.Duration(fresh.Lease.Seconds * float64(time.Second)))
		}
		*c = fresh
		return nil
	})
}

func (a *admin) patchEndpoints(w http.ResponseWriter, r *http.Request) {
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	a.update(w, func(c *Config) error {
		var patch map[string][]string
		if err := decodeStrict(data, &patch); err != nil {
			return err
		}
		for version, addrs := range patch {
			if len(addrs) == 0 {
				delete(c.Endpoints, version)
			} else {
				c.Endpoints[version] = addrs
			}
		}
		return nil
	})
}

func (a *admin) patchRules(w http.ResponseWriter, r *http.Request) {
	data, ok := readBody(w, r)
	if !ok {
		return
	}
	a.update(w, func(c *Config) error {
		next, err := patchRules(*c, data, time.Now())
		*c = next
		return err
	})
}
