// Package mxtest is an in-process DNS server on loopback for tests of
// MX, DANE and MTA-STS: it answers from zone-file lines and plays a
// validating resolver by setting the AD bit on answers for names under
// the zones it is told are signed. Silent is one that never answers.
package mxtest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers queries from its records.
type Server struct {
	Addr string // 127.0.0.1:port (UDP and TCP)

	mu       sync.Mutex
	rrs      []dns.RR
	signed   []string // zones whose answers get AD
	servfail map[string]bool
	queries  []string // "TYPE name", in order
}

// Start serves the records (zone-file lines, absolute names) until the
// test ends. Answers under the signed zones carry the AD bit when the
// query asked for DNSSEC (DO or AD), as a validating resolver's do.
func Start(t testing.TB, records string, signed ...string) *Server {
	t.Helper()
	s := &Server{servfail: map[string]bool{}}
	for _, z := range signed {
		s.signed = append(s.signed, dns.Fqdn(strings.ToLower(z)))
	}
	for _, line := range strings.Split(records, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("mxtest: %q: %v", line, err)
		}
		s.rrs = append(s.rrs, rr)
	}
	pc, ln, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
	})
	return s
}

// listen binds UDP and TCP on one free loopback port: the UDP port may
// be taken for TCP, so a few ports are tried.
func listen() (net.PacketConn, net.Listener, error) {
	var err error
	for range 20 {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return nil, nil, err
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			return pc, ln, nil
		}
		pc.Close()
	}
	return nil, nil, err
}

// ServFail makes every query for name fail, as a bogus DNSSEC answer does.
func (s *Server) ServFail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[dns.Fqdn(strings.ToLower(name))] = true
}

// Queries is what was asked so far, "TYPE name" each.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	s.queries = append(s.queries, dns.TypeToString[q.Qtype]+" "+strings.TrimSuffix(name, "."))
	exists := false
	for _, rr := range s.rrs {
		h := rr.Header()
		if strings.ToLower(h.Name) != name {
			continue
		}
		exists = true
		if h.Rrtype == q.Qtype {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	fail := s.servfail[name]
	secure := false
	for _, z := range s.signed {
		secure = secure || dns.IsSubDomain(z, name)
	}
	s.mu.Unlock()
	switch {
	case fail:
		m.Answer, m.Rcode = nil, dns.RcodeServerFailure
	case !exists:
		m.Rcode = dns.RcodeNameError
	}
	opt := req.IsEdns0()
	m.AuthenticatedData = !fail && secure && (req.AuthenticatedData || (opt != nil && opt.Do()))
	if opt != nil {
		m.SetEdns0(4096, opt.Do())
	}
	w.WriteMsg(m)
}
