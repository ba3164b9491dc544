package session

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Proxy describes the HAProxy PROXY protocol header (v1 text, v2 binary)
// a send writes before anything else, as swaks's --proxy-* options do. Like
// swaks it checks only what is needed to encode the header, not whether
// the addresses make sense, so a test can send odd ones on purpose.
type Proxy struct {
	Version int // 1 or 2
	// Raw, when set, is the header's body as given: after "PROXY " for
	// v1 (the prefix may be included), after the 12-byte signature for v2
	// ("base64:" first for binary).
	Raw string

	Family   string // v1: TCP4, TCP6, UNKNOWN; v2: AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX
	Protocol string // v2: UNSPEC, STREAM (default; UNSPEC with AF_UNSPEC), DGRAM
	Command  string // v2: LOCAL, PROXY (default)

	Source, Dest         string // addresses (v2 AF_UNIX: paths)
	SourcePort, DestPort string
}

// proxyV2Sig opens every v2 header.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Header encodes the header.
func (p Proxy) Header() ([]byte, error) {
	switch p.Version {
	case 1:
		return p.v1()
	case 2:
		return p.v2()
	}
	return nil, fmt.Errorf("--proxy-version %d: 1 or 2", p.Version)
}

func (p Proxy) v1() ([]byte, error) {
	if p.Raw != "" {
		raw := strings.TrimPrefix(p.Raw, "PROXY ")
		if strings.ContainsAny(raw, "\r\n") {
			return nil, fmt.Errorf("--proxy: one line, without CR or LF")
		}
		return []byte("PROXY " + raw + "\r\n"), nil
	}
	fam := strings.ToUpper(p.Family)
	if fam == "UNKNOWN" {
		return []byte("PROXY UNKNOWN\r\n"), nil
	}
	if fam != "TCP4" && fam != "TCP6" {
		return nil, fmt.Errorf("--proxy-family %q: TCP4, TCP6 or UNKNOWN with --proxy-version 1", p.Family)
	}
	if err := p.needAll(); err != nil {
		return nil, err
	}
	for _, f := range []string{p.Source, p.Dest, p.SourcePort, p.DestPort} {
		if strings.ContainsAny(f, " \r\n") {
			return nil, fmt.Errorf("--proxy-*: %q holds a space or line end", f)
		}
	}
	// Upper case, as swaks writes it (2001:DB8::1).
	line := strings.ToUpper(fmt.Sprintf("PROXY %s %s %s %s %s\r\n", fam, p.Source, p.Dest, p.SourcePort, p.DestPort))
	return []byte(line), nil
}

func (p Proxy) needAll() error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"--proxy-source", p.Source}, {"--proxy-source-port", p.SourcePort},
		{"--proxy-dest", p.Dest}, {"--proxy-dest-port", p.DestPort}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if p.Family == "" {
		missing = append([]string{"--proxy-family"}, missing...)
	}
	if len(missing) > 0 {
		return fmt.Errorf("the PROXY header needs %s (or --proxy RAW)", strings.Join(missing, ", "))
	}
	return nil
}

var (
	proxyFamilies  = map[string]byte{"AF_UNSPEC": 0, "AF_INET": 1, "AF_INET6": 2, "AF_UNIX": 3}
	proxyProtocols = map[string]byte{"UNSPEC": 0, "STREAM": 1, "DGRAM": 2}
	proxyCommands  = map[string]byte{"LOCAL": 0, "PROXY": 1}
)

func (p Proxy) v2() ([]byte, error) {
	if p.Raw != "" {
		raw := []byte(p.Raw)
		if b64, ok := strings.CutPrefix(p.Raw, "base64:"); ok {
			var err error
			if raw, err = base64.StdEncoding.DecodeString(b64); err != nil {
				return nil, fmt.Errorf("--proxy base64: %w", err)
			}
		}
		return append(append([]byte(nil), proxyV2Sig...), raw...), nil
	}
	cmd, proto := p.Command, p.Protocol
	if cmd == "" {
		cmd = "PROXY"
	}
	if proto == "" {
		proto = "STREAM"
		if proxyFamilies[strings.ToUpper(p.Family)] == 0 {
			proto = "UNSPEC" // no address, no transport (a LOCAL health check)
		}
	}
	c, ok1 := proxyCommands[strings.ToUpper(cmd)]
	pr, ok2 := proxyProtocols[strings.ToUpper(proto)]
	fam, ok3 := proxyFamilies[strings.ToUpper(p.Family)]
	if !ok1 || !ok2 || (!ok3 && p.Family != "") {
		return nil, fmt.Errorf("--proxy-command %q, --proxy-protocol %q, --proxy-family %q: LOCAL|PROXY, UNSPEC|STREAM|DGRAM, AF_UNSPEC|AF_INET|AF_INET6|AF_UNIX", cmd, proto, p.Family)
	}
	var addrs []byte
	if fam != 0 {
		if err := p.needAll(); err != nil {
			return nil, err
		}
		var err error
		if addrs, err = p.v2Addrs(fam); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	b.Write(proxyV2Sig)
	b.WriteByte(0x20 | c)
	b.WriteByte(fam<<4 | pr)
	binary.Write(&b, binary.BigEndian, uint16(len(addrs)))
	b.Write(addrs)
	return b.Bytes(), nil
}

// v2Addrs encodes the address block of family fam.
func (p Proxy) v2Addrs(fam byte) ([]byte, error) {
	if fam == 3 { // AF_UNIX: two 108-byte paths
		if len(p.Source) > 108 || len(p.Dest) > 108 {
			return nil, fmt.Errorf("--proxy-source/--proxy-dest: a Unix path is at most 108 bytes")
		}
		out := make([]byte, 216)
		copy(out, p.Source)
		copy(out[108:], p.Dest)
		return out, nil
	}
	var out []byte
	for _, a := range []string{p.Source, p.Dest} {
		ip, err := netip.ParseAddr(a)
		if err != nil || (fam == 1) != ip.Is4() {
			return nil, fmt.Errorf("--proxy-source/--proxy-dest %q: not an IPv%d address", a, map[byte]int{1: 4, 2: 6}[fam])
		}
		out = append(out, ip.AsSlice()...)
	}
	for _, port := range []string{p.SourcePort, p.DestPort} {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("--proxy-source-port/--proxy-dest-port %q: a number up to 65535", port)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	}
	return out, nil
}
