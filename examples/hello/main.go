// Command hello is the small HTTP service goship's demo and tests deploy: it says which version it is,
// has liveness and readiness endpoints, and can be told to warm up slowly, answer slowly, fail a share
// of requests or shut down badly, so that rollouts and canaries have something to catch.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Set at build time: go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123 -X main.date=...".
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// shutdownTimeout bounds how long in-flight requests may take once draining is over; the supervisor's
// termination grace period is the real limit, this only keeps a stuck client from holding us forever.
const shutdownTimeout = 10 * time.Second

type settings struct {
	port     string
	warmup   time.Duration
	drain    time.Duration
	slow     time.Duration
	failRate float64
	noGrace  bool
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	s, err := readSettings()
	if err != nil {
		log.Fatalf("hello: %v", err)
	}
	if err := serve(s); err != nil {
		log.Fatalf("hello: %v", err)
	}
}

func readSettings() (settings, error) {
	s := settings{port: os.Getenv("PORT"), noGrace: os.Getenv("HELLO_NO_GRACE") == "1"}
	if s.port == "" {
		s.port = "8080"
	}
	var err error
	if s.warmup, err = millis("HELLO_WARMUP_MS"); err != nil {
		return s, err
	}
	if s.drain, err = millis("HELLO_DRAIN_MS"); err != nil {
		return s, err
	}
	if s.slow, err = millis("HELLO_SLOW_MS"); err != nil {
		return s, err
	}
	if text := os.Getenv("HELLO_FAIL_RATE"); text != "" {
		s.failRate, err = strconv.ParseFloat(text, 64)
		if err != nil || s.failRate < 0 || s.failRate > 1 {
			return s, fmt.Errorf("HELLO_FAIL_RATE: expected a number from 0 to 1 (not %q)", text)
		}
	}
	return s, nil
}

func millis(name string) (time.Duration, error) {
	text := os.Getenv(name)
	if text == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: expected milliseconds, 0 or more (not %q)", name, text)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func serve(s settings) error {
	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", version)
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"version": version, "commit": commit, "date": date})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", s.port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: misbehave(s, mux), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Printf("hello %s (commit %s, built %s) listening on %s", version, commit, date, ln.Addr())

	// Readiness comes after the warm-up, as a service that loads caches before it takes traffic.
	warm := time.AfterFunc(s.warmup, func() {
		ready.Store(true)
		log.Printf("ready")
	})

	// SIGTERM is how a supervisor (or the kubelet) asks us to stop: drain, or with the bad-release switch, go.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case err := <-served:
		return err
	case sig := <-stop:
		warm.Stop()
		ready.Store(false)
		if s.noGrace {
			// The bad release: leave at once, dropping whatever is in flight.
			log.Printf("%v: exiting at once (HELLO_NO_GRACE=1)", sig)
			os.Exit(128 + int(syscall.SIGTERM))
		}
		// Readiness is already false, so the router stops sending new requests; keep serving while it
		// notices, then let in-flight requests finish.
		log.Printf("%v: not ready, draining for %v", sig, s.drain)
		time.Sleep(s.drain)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Printf("stopped")
	return nil
}

// misbehave adds the configured latency and failures to every request except the probes, so a slow or
// failing release still passes its health checks the way a real one would.
func misbehave(s settings, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			if s.slow > 0 {
				time.Sleep(s.slow)
			}
			if s.failRate > 0 && rand.Float64() < s.failRate {
				http.Error(w, "injected failure (HELLO_FAIL_RATE)", http.StatusInternalServerError)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
