package main

// Per-version counters and latency histograms, lock-free on the request path, shown as JSON (GET /stats,
// read by goship's MetricsSource) and in the Prometheus text exposition format 0.0.4 (GET /metrics).

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Upper bounds in seconds; fine below 10 ms because a local replica answers in well under one.
var latencyBounds = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Error kinds, also the values of X-Goship-Error.
const (
	errConnect    = "connect"
	errReset      = "upstream-reset"
	errTimeout    = "timeout"
	errNoEndpoint = "no-ready-endpoint"
)

var errorKinds = []string{errConnect, errReset, errTimeout, errNoEndpoint}

func kindIndex(kind string) int {
	for i, k := range errorKinds {
		if k == kind {
			return i
		}
	}
	panic("unknown error kind " + kind)
}

type versionStats struct {
	requests atomic.Uint64
	codes    [1000]atomic.Uint64
	errors   [4]atomic.Uint64 // by errorKinds
	// failures counts what a canary judge calls an error: 5xx answers, answers cut short, and failed
	// attempts hidden by a retry.
	failures       atomic.Uint64
	retried        atomic.Uint64
	buckets        [15]atomic.Uint64 // len(latencyBounds)+1, not cumulative
	sumNanos       atomic.Uint64
	mirrored       atomic.Uint64
	mirrorFailures atomic.Uint64
	mirrorDropped  atomic.Uint64
}

func (s *versionStats) observe(code int, elapsed time.Duration) {
	if code < 0 || code >= len(s.codes) {
		code = 0
	}
	s.codes[code].Add(1)
	if code >= 500 {
		s.failures.Add(1)
	}
	sec := elapsed.Seconds()
	i := 0
	for i < len(latencyBounds) && sec > latencyBounds[i] {
		i++
	}
	s.buckets[i].Add(1)
	s.sumNanos.Add(uint64(elapsed))
}

func (s *versionStats) upstreamError(kind string) { s.errors[kindIndex(kind)].Add(1) }

type statsRegistry struct {
	mu       sync.Mutex
	versions map[string]*versionStats
	unrouted atomic.Uint64
	started  time.Time
	instance string
}

func (r *statsRegistry) get(name string) *versionStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.versions[name]
	if !ok {
		s = &versionStats{}
		r.versions[name] = s
	}
	return s
}

func (r *statsRegistry) sorted() ([]string, []*versionStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.versions))
	for name := range r.versions {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]*versionStats, len(names))
	for i, name := range names {
		out[i] = r.versions[name]
	}
	return names, out
}

type histogramJSON struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"` // cumulative; one more than bounds, the last is +Inf (= count)
	Sum    float64   `json:"sum"`
	Count  uint64    `json:"count"`
}

type mirrorJSON struct {
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
	Dropped  uint64 `json:"dropped"`
}

type versionJSON struct {
	Requests  uint64            `json:"requests"`
	Responses map[string]uint64 `json:"responses"`
	Codes     map[string]uint64 `json:"codes"`
	Errors    map[string]uint64 `json:"errors"`
	Failures  uint64            `json:"failures"`
	Retried   uint64            `json:"retried"`
	Latency   histogramJSON     `json:"latency"`
	Mirror    mirrorJSON        `json:"mirror"`
}

type statsJSON struct {
	Instance string                 `json:"instance"`
	Time     float64                `json:"time"` // seconds on a monotonic clock since the router started
	Versions map[string]versionJSON `json:"versions"`
	Unrouted uint64                 `json:"unrouted"`
}

func (s *versionStats) snapshot() versionJSON {
	v := versionJSON{
		Requests:  s.requests.Load(),
		Responses: map[string]uint64{"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0},
		Codes:     map[string]uint64{},
		Errors:    map[string]uint64{},
		Failures:  s.failures.Load(),
		Retried:   s.retried.Load(),
		Mirror:    mirrorJSON{s.mirrored.Load(), s.mirrorFailures.Load(), s.mirrorDropped.Load()},
	}
	for code := range s.codes {
		if n := s.codes[code].Load(); n > 0 {
			v.Codes[strconv.Itoa(code)] = n
			if code >= 100 && code < 600 {
				v.Responses[strconv.Itoa(code/100)+"xx"] += n
			}
		}
	}
	for i, kind := range errorKinds {
		v.Errors[kind] = s.errors[i].Load()
	}
	// Buckets are read one by one while requests go on; count is taken from them so the histogram is
	// consistent with itself even if not with requests.
	var cum uint64
	v.Latency.Bounds = latencyBounds
	for i := range s.buckets {
		cum += s.buckets[i].Load()
		v.Latency.Counts = append(v.Latency.Counts, cum)
	}
	v.Latency.Count = cum
	v.Latency.Sum = float64(s.sumNanos.Load()) / 1e9
	return v
}

func (r *statsRegistry) snapshot() statsJSON {
	out := statsJSON{
		Instance: r.instance,
		Time:     time.Since(r.started).Seconds(),
		Versions: map[string]versionJSON{},
		Unrouted: r.unrouted.Load(),
	}
	names, stats := r.sorted()
	for i, name := range names {
		out.Versions[name] = stats[i].snapshot()
	}
	return out
}

func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func (r *statsRegistry) writePrometheus(w io.Writer) {
	names, stats := r.sorted()
	snaps := make([]versionJSON, len(stats))
	for i, s := range stats {
		snaps[i] = s.snapshot()
	}
	family := func(name, typ, help string) { fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ) }

	family("goship_router_requests_total", "counter", "Requests answered to clients, by version and status code.")
	for i, name := range names {
		codes := make([]string, 0, len(snaps[i].Codes))
		for code := range snaps[i].Codes {
			codes = append(codes, code)
		}
		sort.Strings(codes)
		for _, code := range codes {
			fmt.Fprintf(w, "goship_router_requests_total{version=\"%s\",code=\"%s\"} %d\n", labelValue(name), code, snaps[i].Codes[code])
		}
	}
	family("goship_router_upstream_errors_total", "counter", "Failed upstream attempts and requests without a ready endpoint, by kind.")
	for i, name := range names {
		for _, kind := range errorKinds {
			fmt.Fprintf(w, "goship_router_upstream_errors_total{version=\"%s\",kind=\"%s\"} %d\n", labelValue(name), kind, snaps[i].Errors[kind])
		}
	}
	family("goship_router_failures_total", "counter", "5xx answers, answers cut short and retried failed attempts.")
	for i, name := range names {
		fmt.Fprintf(w, "goship_router_failures_total{version=\"%s\"} %d\n", labelValue(name), snaps[i].Failures)
	}
	family("goship_router_retries_total", "counter", "Failed connect attempts that were retried.")
	for i, name := range names {
		fmt.Fprintf(w, "goship_router_retries_total{version=\"%s\"} %d\n", labelValue(name), snaps[i].Retried)
	}
	family("goship_router_mirrored_requests_total", "counter", "Copies of requests sent to a mirror version.")
	for i, name := range names {
		fmt.Fprintf(w, "goship_router_mirrored_requests_total{version=\"%s\"} %d\n", labelValue(name), snaps[i].Mirror.Requests)
	}
	family("goship_router_request_duration_seconds", "histogram", "Time from request to the end of the response, by version.")
	for i, name := range names {
		h := snaps[i].Latency
		for b, upper := range append(append([]float64{}, h.Bounds...), math.Inf(1)) {
			fmt.Fprintf(w, "goship_router_request_duration_seconds_bucket{version=\"%s\",le=\"%s\"} %d\n", labelValue(name), formatFloat(upper), h.Counts[b])
		}
		fmt.Fprintf(w, "goship_router_request_duration_seconds_sum{version=\"%s\"} %s\n", labelValue(name), formatFloat(h.Sum))
		fmt.Fprintf(w, "goship_router_request_duration_seconds_count{version=\"%s\"} %d\n", labelValue(name), h.Count)
	}
	family("goship_router_unrouted_requests_total", "counter", "Requests no rule sent to any version.")
	fmt.Fprintf(w, "goship_router_unrouted_requests_total %d\n", r.unrouted.Load())
}
