package main

// The admin API's configuration document, its validation, and the compiled routing table the proxy reads
// through one atomic pointer, so every update (endpoints, rules or both) takes effect all at once.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultTimeoutMS = 30000
	maxTimeoutMS     = 24 * 3600 * 1000
	maxRetries       = 5
	maxLeaseSeconds  = 24 * 3600
)

// Match sends requests whose header (or cookie) matches to one version.
type Match struct {
	Version string  `json:"version"`
	Header  *string `json:"header"`
	Cookie  *string `json:"cookie"`
	Kind    string  `json:"kind"`
	Value   string  `json:"value"`
}

// Rules mirrors goship.rollout.ports.TrafficRules.
type Rules struct {
	Weights       map[string]int `json:"weights"`
	Matches       []Match        `json:"matches"`
	StickyHeader  *string        `json:"sticky_header"`
	MirrorVersion *string        `json:"mirror_version"`
	MirrorPercent int            `json:"mirror_percent"`
}

// Lease holds the rules only for a while: unless it is renewed before Expires (PATCH /rules with
// lease_seconds, or PUT /config with a lease), every request goes to Fallback again. A canary's split is
// leased by the engine that judges it, so a canary nobody judges any more goes back to the stable version.
type Lease struct {
	Seconds  float64   `json:"seconds"`
	Fallback string    `json:"fallback"`
	Expires  time.Time `json:"expires"` // set by the router: now + Seconds at each renewal
}

// LeaseExpiry records the last lease that ran out, and the weights it took away.
type LeaseExpiry struct {
	At       time.Time      `json:"at"`
	Fallback string         `json:"fallback"`
	Weights  map[string]int `json:"weights"`
}

// Config is what PUT /config replaces and GET /config shows.
type Config struct {
	Endpoints    map[string][]string `json:"endpoints"`
	Rules        Rules               `json:"rules"`
	TimeoutMS    int                 `json:"timeout_ms"`
	Retries      int                 `json:"retries"`
	Lease        *Lease              `json:"lease"`
	LeaseExpired *LeaseExpiry        `json:"lease_expired"` // written by the router only
}

func (c Config) normalized() Config {
	if c.Endpoints == nil {
		c.Endpoints = map[string][]string{}
	}
	if c.Rules.Weights == nil {
		c.Rules.Weights = map[string]int{}
	}
	if c.Rules.Matches == nil {
		c.Rules.Matches = []Match{}
	}
	for i := range c.Rules.Matches {
		if c.Rules.Matches[i].Kind == "" {
			c.Rules.Matches[i].Kind = "exact"
		}
	}
	if c.TimeoutMS == 0 {
		c.TimeoutMS = defaultTimeoutMS
	}
	return c
}

// validate reports every problem at once, each naming the field it is about.
func (c Config) validate() error {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	for version, addrs := range c.Endpoints {
		if version == "" {
			bad("endpoints: a version name is empty")
		}
		for _, addr := range addrs {
			host, port, err := net.SplitHostPort(addr)
			if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
				bad("endpoints.%s: expected host:port, got %q", version, addr)
			}
		}
	}
	for version, w := range c.Rules.Weights {
		if w < 0 {
			bad("rules.weights.%s: expected a weight >= 0, got %d", version, w)
		}
	}
	for i, m := range c.Rules.Matches {
		if m.Version == "" {
			bad("rules.matches[%d].version: missing", i)
		}
		if (m.Header == nil) == (m.Cookie == nil) || (m.Header != nil && *m.Header == "") || (m.Cookie != nil && *m.Cookie == "") {
			bad("rules.matches[%d]: expected exactly one of header or cookie", i)
		}
		switch m.Kind {
		case "exact", "prefix":
		case "regex":
			if _, err := regexp.Compile(m.Value); err != nil {
				bad("rules.matches[%d].value: %v", i, err)
			}
		default:
			bad("rules.matches[%d].kind: expected \"exact\", \"prefix\" or \"regex\" (not %q)", i, m.Kind)
		}
	}
	if c.Rules.MirrorPercent < 0 || c.Rules.MirrorPercent > 100 {
		bad("rules.mirror_percent: expected 0..100, got %d", c.Rules.MirrorPercent)
	}
	if c.Rules.MirrorVersion != nil && *c.Rules.MirrorVersion == "" {
		bad("rules.mirror_version: empty (use null for no mirroring)")
	}
	if c.TimeoutMS < 1 || c.TimeoutMS > maxTimeoutMS {
		bad("timeout_ms: expected 1..%d, got %d", maxTimeoutMS, c.TimeoutMS)
	}
	if c.Retries < 0 || c.Retries > maxRetries {
		bad("retries: expected 0..%d, got %d", maxRetries, c.Retries)
	}
	if l := c.Lease; l != nil {
		if !(l.Seconds > 0 && l.Seconds <= maxLeaseSeconds) {
			bad("lease.seconds: expected more than 0 and at most %d, got %g", maxLeaseSeconds, l.Seconds)
		}
		if l.Fallback == "" {
			bad("lease.fallback: missing (the version that gets all traffic when the lease runs out)")
		}
	}
	return errors.Join(problems...)
}

// versionRoute is one version in the compiled table: its ready endpoints and its counters.
type versionRoute struct {
	name      string
	header    []string // the X-Goship-Version value, allocated once
	endpoints []*endpoint
	stats     *versionStats
	rr        atomic.Uint32
}

type compiledMatch struct {
	version *versionRoute
	header  string
	cookie  string
	kind    string
	value   string
	re      *regexp.Regexp
}

type weighted struct {
	version *versionRoute
	upTo    int // cumulative weight: this version owns [previous upTo, upTo)
}

// table is the immutable routing state; a config update builds a new one and swaps the pointer.
type table struct {
	config        Config
	matches       []compiledMatch
	split         []weighted
	total         int
	sticky        string
	mirror        *versionRoute
	mirrorPercent int
	timeout       time.Duration
	retries       int
	versions      map[string]*versionRoute // every version the table routes to or has endpoints for
}

// registry keeps what must outlive one table: endpoints (their connection pools) and per-version counters.
type registry struct {
	mu        sync.Mutex
	endpoints map[string]*endpoint
	stats     *statsRegistry
	pool      poolOptions
}

// install puts c's table in place of p's, then retires the endpoints c no longer lists: a request routed
// by the table before can then still pick one of them, and retire sends it elsewhere or waits for it.
func (r *registry) install(p *proxy, c Config) {
	t, gone := r.compile(c)
	p.table.Store(t)
	for _, e := range gone {
		e.retire()
	}
}

// compile builds c's table and says which endpoints it drops; they keep serving their requests in flight.
func (r *registry) compile(c Config) (*table, []*endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &table{
		config:        c,
		mirrorPercent: c.Rules.MirrorPercent,
		timeout:       time.Duration(c.TimeoutMS) * time.Millisecond,
		retries:       c.Retries,
	}
	routes := map[string]*versionRoute{}
	route := func(name string) *versionRoute {
		if v, ok := routes[name]; ok {
			return v
		}
		v := &versionRoute{name: name, header: []string{name}, stats: r.stats.get(name)}
		routes[name] = v
		return v
	}
	live := map[string]bool{}
	for name, addrs := range c.Endpoints {
		v := route(name)
		for _, addr := range addrs {
			if containsEndpoint(v.endpoints, addr) {
				continue
			}
			live[addr] = true
			e, ok := r.endpoints[addr]
			if !ok {
				e = newEndpoint(addr, r.pool)
				r.endpoints[addr] = e
			}
			v.endpoints = append(v.endpoints, e)
		}
	}
	var gone []*endpoint
	for addr, e := range r.endpoints {
		if !live[addr] {
			delete(r.endpoints, addr)
			gone = append(gone, e)
		}
	}
	names := make([]string, 0, len(c.Rules.Weights))
	for name := range c.Rules.Weights {
		names = append(names, name)
	}
	// A fixed order keeps sticky users on their version while the weights stay the same.
	sort.Strings(names)
	for _, name := range names {
		if w := c.Rules.Weights[name]; w > 0 {
			t.total += w
			t.split = append(t.split, weighted{version: route(name), upTo: t.total})
		}
	}
	for _, m := range c.Rules.Matches {
		cm := compiledMatch{version: route(m.Version), kind: m.Kind, value: m.Value}
		if m.Header != nil {
			cm.header = http.CanonicalHeaderKey(*m.Header)
		} else {
			cm.cookie = *m.Cookie
		}
		if m.Kind == "regex" {
			// Whole-value match, as Envoy's (and so Istio's) safe_regex does.
			cm.re = regexp.MustCompile("^(?:" + m.Value + ")$")
		}
		t.matches = append(t.matches, cm)
	}
	if c.Rules.StickyHeader != nil {
		t.sticky = http.CanonicalHeaderKey(*c.Rules.StickyHeader)
	}
	if c.Rules.MirrorVersion != nil && c.Rules.MirrorPercent > 0 {
		t.mirror = route(*c.Rules.MirrorVersion)
	}
	t.versions = routes
	return t, gone
}

func containsEndpoint(eps []*endpoint, addr string) bool {
	for _, e := range eps {
		if e.addr == addr {
			return true
		}
	}
	return false
}

// decodeStrict decodes one JSON document, refusing unknown fields so a typo is an error, not a no-op.
func decodeStrict(data []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("expected one JSON document, found more")
	}
	return nil
}

// patchRules lays the fields present in a PATCH /rules body over the current config's rules; lease_seconds
// (0 or null ends the lease) and lease_fallback set, renew or end the lease.
func patchRules(current Config, data []byte, now time.Time) (Config, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return current, err
	}
	next := current
	rules := &next.Rules
	var leaseSeconds *float64
	var leaseFallback *string
	leaseGiven := false
	for key, raw := range fields {
		var err error
		switch key {
		case "weights":
			rules.Weights = nil
			err = json.Unmarshal(raw, &rules.Weights)
		case "matches":
			rules.Matches = nil
			err = decodeStrict(raw, &rules.Matches)
		case "sticky_header":
			rules.StickyHeader = nil
			err = json.Unmarshal(raw, &rules.StickyHeader)
		case "mirror_version":
			rules.MirrorVersion = nil
			err = json.Unmarshal(raw, &rules.MirrorVersion)
		case "mirror_percent":
			err = json.Unmarshal(raw, &rules.MirrorPercent)
		case "lease_seconds":
			leaseGiven = true
			err = json.Unmarshal(raw, &leaseSeconds)
		case "lease_fallback":
			err = json.Unmarshal(raw, &leaseFallback)
		default:
			err = fmt.Errorf("unknown field %q (expected weights, matches, sticky_header, mirror_version, "+
				"mirror_percent, lease_seconds, lease_fallback)", key)
		}
		if err != nil {
			return current, fmt.Errorf("rules.%s: %w", key, err)
		}
	}
	switch {
	case leaseGiven && (leaseSeconds == nil || *leaseSeconds == 0):
		next.Lease = nil
	case leaseGiven:
		lease := Lease{Seconds: *leaseSeconds}
		if current.Lease != nil {
			lease.Fallback = current.Lease.Fallback
		}
		if leaseFallback != nil {
			lease.Fallback = *leaseFallback
		}
		lease.Expires = now.Add(time.Duration(lease.Seconds * float64(time.Second)))
		next.Lease = &lease
	case leaseFallback != nil:
		return current, errors.New("rules.lease_fallback: given without lease_seconds")
	}
	return next, nil
}

// expired is the config once its lease has run out: every request to the lease's fallback version, no
// matches, no sticky split, no mirror; the endpoints stay.
func (c Config) expired(now time.Time) Config {
	next := c
	next.LeaseExpired = &LeaseExpiry{At: now, Fallback: c.Lease.Fallback, Weights: c.Rules.Weights}
	next.Rules = Rules{Weights: map[string]int{c.Lease.Fallback: 100}}
	next.Lease = nil
	return next.normalized()
}
