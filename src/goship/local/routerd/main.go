// Command goship-router is goship's local router: an HTTP/1.1 reverse proxy in front of a service's local
// replicas that splits traffic between versions as a mesh would, configured over a loopback admin API.
//
// It prints one JSON line, {"listen": "127.0.0.1:P", "admin": "127.0.0.1:Q"}, once both listeners accept,
// and on SIGTERM or SIGINT stops accepting, lets in-flight requests finish (bounded) and exits 0.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

type options struct {
	listen, admin  string
	headerTimeout  time.Duration
	idleTimeout    time.Duration
	maxHeaderBytes int
	maxConns       int
	drainTimeout   time.Duration
	mirrorInFlight int
	maxIdlePerEP   int
	connectTimeout time.Duration
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("goship-router", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address for proxied traffic")
	fs.StringVar(&o.admin, "admin", "127.0.0.1:0", "address for the admin API (keep it on loopback)")
	fs.DurationVar(&o.headerTimeout, "header-timeout", 10*time.Second, "time a client gets to send request headers")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 60*time.Second, "keep-alive time of an idle client connection")
	fs.IntVar(&o.maxHeaderBytes, "max-header-bytes", 64<<10, "largest request header block accepted")
	fs.IntVar(&o.maxConns, "max-conns", 10000, "client connections served at once; more wait in the accept queue")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 10*time.Second, "on SIGTERM, how long in-flight requests may take")
	fs.IntVar(&o.mirrorInFlight, "mirror-in-flight", 64, "mirrored copies in flight at once; more are dropped")
	fs.IntVar(&o.maxIdlePerEP, "max-idle-per-endpoint", 256, "idle keep-alive connections kept per endpoint")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 5*time.Second, "time to open an upstream connection")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.maxConns < 1 || o.mirrorInFlight < 1 || o.maxIdlePerEP < 0 || o.maxHeaderBytes < 1024 {
		return o, fmt.Errorf("--max-conns and --mirror-in-flight must be >= 1, --max-header-bytes >= 1024")
	}
	return o, nil
}

// limitListener bounds concurrent connections: Accept waits for a free slot.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func instanceID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "goship-router:", err)
		os.Exit(2)
	}
	logger := log.New(os.Stderr, "goship-router: ", log.LstdFlags)
	stats := &statsRegistry{versions: map[string]*versionStats{}, started: time.Now(), instance: instanceID()}
	reg := &registry{
		endpoints: map[string]*endpoint{},
		stats:     stats,
		pool:      poolOptions{maxIdle: o.maxIdlePerEP, idleTimeout: 50 * time.Second, connectTimeout: o.connectTimeout},
	}
	p := &proxy{stats: stats, mirrors: make(chan struct{}, o.mirrorInFlight)}
	reg.install(p, Config{}.normalized())
	adm := &admin{proxy: p, registry: reg, logger: logger}

	trafficLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		logger.Fatalf("listen %s: %v", o.listen, err)
	}
	adminLn, err := net.Listen("tcp", o.admin)
	if err != nil {
		logger.Fatalf("admin listen %s: %v", o.admin, err)
	}
	traffic := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: o.headerTimeout,
		IdleTimeout:       o.idleTimeout,
		MaxHeaderBytes:    o.maxHeaderBytes,
		ErrorLog:          logger,
	}
	adminSrv := &http.Server{Handler: adm.routes(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: o.idleTimeout, ErrorLog: logger}
	limited := &limitListener{Listener: trafficLn, slots: make(chan struct{}, o.maxConns)}
	serveErr := make(chan error, 2)
	go func() { serveErr <- traffic.Serve(limited) }()
	go func() { serveErr <- adminSrv.Serve(adminLn) }()

	line, _ := json.Marshal(map[string]string{"listen": trafficLn.Addr().String(), "admin": adminLn.Addr().String()})
	fmt.Println(string(line))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case s := <-sig:
		logger.Printf("%s: draining for up to %s", s, o.drainTimeout)
	case err := <-serveErr:
		logger.Fatalf("serving stopped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range []*http.Server{traffic, adminSrv} {
		wg.Add(1)
		go func(srv *http.Server) {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				logger.Printf("drain cut short: %v", err)
				_ = srv.Close()
			}
		}(srv)
	}
	wg.Wait()
	mirrorsDone := make(chan struct{})
	go func() { p.mirrorWG.Wait(); close(mirrorsDone) }()
	select {
	case <-mirrorsDone:
	case <-ctx.Done():
	}
	os.Exit(0)
}
