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

// Config is what PUT /config replaces and GET /config shows.
type Config struct {
	Endpoints map[string][]string `json:"endpoints"`
	Rules     Rules               `json:"rules"`
	TimeoutMS int                 `json:"timeout_ms"`
	Retries   int                 `json:"retries"`
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
}

// registry keeps what must outlive one table: endpoints (their connection pools) and per-version counters.
type registry struct {
	mu        sync.Mutex
	endpoints map[string]*endpoint
	stats     *statsRegistry
	pool      poolOptions
}

func (r *registry) compile(c Config) *table {
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
	// An endpoint no longer listed keeps serving its in-flight requests; its idle connections go now.
	for addr, e := range r.endpoints {
		if !live[addr] {
			delete(r.endpoints, addr)
			e.retire()
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
	return t
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

// patchRules lays the fields present in a PATCH /rules body over the current rules.
func patchRules(current Rules, data []byte) (Rules, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return current, err
	}
	next := current
	for key, raw := range fields {
		var err error
		switch key {
		case "weights":
			next.Weights = nil
			err = json.Unmarshal(raw, &next.Weights)
		case "matches":
			next.Matches = nil
			err = decodeStrict(raw, &next.Matches)
		case "sticky_header":
			next.StickyHeader = nil
			err = json.Unmarshal(raw, &next.StickyHeader)
		case "mirror_version":
			next.MirrorVersion = nil
			err = json.Unmarshal(raw, &next.MirrorVersion)
		case "mirror_percent":
			err = json.Unmarshal(raw, &next.MirrorPercent)
		default:
			err = fmt.Errorf("unknown field %q (expected weights, matches, sticky_header, mirror_version, mirror_percent)", key)
		}
		if err != nil {
			return current, fmt.Errorf("rules.%s: %w", key, err)
		}
	}
	return next, nil
}
