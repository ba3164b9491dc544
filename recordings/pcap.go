package recordings

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/ehlo-dev/ehlo/session"
)

// The synthetic capture `ehlo export --format pcap` writes. A recording
// holds what the client and the server said, not the packets that carried
// it, so the capture is made up around the bytes: classic libpcap
// (LINKTYPE_ETHERNET), Ethernet II, IPv4 and TCP with correct checksums, a
// three-way handshake, every client and server event as data segments with
// the right sequence and acknowledgement numbers in both directions, and a
// FIN exchange at the end. It is written with the standard library alone
// (../shared/reference/deps-eval.md: gopacket would add 2.5–3.3 MB to the
// binary for this one format).
//
// What went through TLS is in the recording as the plaintext ehlo read and
// wrote, so the capture shows it as cleartext TCP. Wireshark's SMTP
// dissector hands a conversation to its TLS dissector once it has seen a
// 220 answer to STARTTLS, and would then decode the cleartext that follows
// as broken TLS records. So the part after STARTTLS goes on a second TCP
// connection (the client's next port), which starts with its own handshake
// at the moment the TLS handshake happened: tshark then decodes the
// commands on both sides of STARTTLS. Each connect … close run of a
// recording is one more connection. docs/recording-format.md describes the
// layout.
const (
	pcapClientIP   = "\x0a\x00\x00\x01" // 10.0.0.1
	pcapServerIP   = "\x0a\x00\x00\x02" // 10.0.0.2
	pcapClientMAC  = "\x02\x00\x00\x00\x00\x01"
	pcapServerMAC  = "\x02\x00\x00\x00\x00\x02"
	pcapFirstPort  = 49152 // the first port of the IANA ephemeral range
	pcapMSS        = 1460  // payload per segment, as on an Ethernet path
	pcapSnapLen    = 262144
	pcapWindow     = 64240
	pcapClientISN  = 0x1000_0000
	pcapServerISN  = 0x7000_0000
	linktypeEther  = 1
	pcapMagicMicro = 0xa1b2c3d4

	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpPSH = 0x08
	tcpACK = 0x10
)

// PcapPort is the server port a capture of a recording uses, chosen so
// that Wireshark decodes the SMTP without "Decode As": 25 for SMTP, 587 for
// implicit TLS (465 is registered for TLS in Wireshark, and the capture
// holds the decrypted conversation), and 24 for LMTP (which Wireshark has
// no dissector for; `tshark -d tcp.port==24,smtp` decodes it as SMTP).
func PcapPort(transport string) uint16 {
	switch transport {
	case "smtps":
		return 587
	case "lmtp":
		return 24
	}
	return 25
}

// WritePcap writes rec as a classic pcap file, as described above. It
// writes the events as they are: Export redacts them first.
func WritePcap(w io.Writer, rec *Recording) error {
	return writePcap(w, RecordingSource(rec))
}

func writePcap(w io.Writer, src *Source) error {
	p := &pcapWriter{w: w, base: src.Header.Created, port: PcapPort(src.Header.Transport)}
	p.fileHeader()
	var end time.Duration // the last event's offset
	_, err := src.Each(func(e session.Event) error {
		end = e.Offset
		p.event(e)
		return p.err
	})
	if err != nil {
		return err
	}
	if p.cur != nil {
		p.cur.close(end)
	}
	return p.err
}

// event writes the packets of one event.
func (p *pcapWriter) event(e session.Event) {
	switch e.Kind {
	case session.KindConnect:
		if p.cur != nil {
			p.cur.close(e.Offset)
			p.cur = nil
		}
		p.openAt, p.nextTLS = e.Offset, false
	case session.KindTLS:
		// Only a handshake that completed carries on in TLS; after a
		// failed one nothing more is exchanged. With implicit TLS there
		// is no connection yet: its SYN stays at the connect.
		if e.Handshake != nil && e.Handshake.Complete && p.cur != nil {
			p.nextTLS = true
			p.openAt = e.Offset
		}
	case session.KindClient, session.KindServer:
		if len(e.Data) == 0 {
			return
		}
		// A new connection for the first bytes of a run, and for the
		// first bytes inside TLS after a STARTTLS (see above).
		if p.cur != nil && e.TLS && !p.cur.tls && p.nextTLS {
			p.cur.close(p.openAt)
			p.cur = nil
		}
		if p.cur == nil {
			p.cur = p.open(p.openAt, e.TLS)
		}
		p.nextTLS = false
		p.cur.send(e.Kind == session.KindServer, e.Offset, e.Data)
	case session.KindClose:
		if p.cur != nil {
			p.cur.close(e.Offset)
			p.cur = nil
		}
		p.openAt = e.Offset
	}
}

type pcapWriter struct {
	w     io.Writer
	err   error
	base  time.Time
	port  uint16
	conns int       // connections opened, for the client port
	ipID  [2]uint16 // per host: client, server
	buf   []byte

	cur     *tcpStream    // the connection open, if any
	openAt  time.Duration // when the next connection's SYN goes out
	nextTLS bool          // the next data is the first after a TLS handshake
}

// tcpStream is one synthetic TCP connection; index 0 is the client, 1 the
// server.
type tcpStream struct {
	p     *pcapWriter
	cport uint16
	seq   [2]uint32 // the next sequence number each side sends
	tls   bool      // it carries bytes that went through TLS
}

func (p *pcapWriter) fileHeader() {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], pcapMagicMicro)
	binary.LittleEndian.PutUint16(h[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(h[6:], 4)
	// thiszone and sigfigs stay 0
	binary.LittleEndian.PutUint32(h[16:], pcapSnapLen)
	binary.LittleEndian.PutUint32(h[20:], linktypeEther)
	p.write(h[:])
}

func (p *pcapWriter) write(b []byte) {
	if p.err != nil {
		return
	}
	_, p.err = p.w.Write(b)
}

// open starts a connection with the three-way handshake.
func (p *pcapWriter) open(at time.Duration, tls bool) *tcpStream {
	p.conns++
	isn := uint32(p.conns-1) << 20
	s := &tcpStream{p: p, cport: uint16(pcapFirstPort + (p.conns-1)%(65536-pcapFirstPort)), tls: tls,
		seq: [2]uint32{pcapClientISN + isn, pcapServerISN + isn}}
	p.packet(s, 0, at, tcpSYN, nil)
	s.seq[0]++
	p.packet(s, 1, at, tcpSYN|tcpACK, nil)
	s.seq[1]++
	p.packet(s, 0, at, tcpACK, nil)
	return s
}

// send writes data from one side in segments of at most pcapMSS bytes.
func (s *tcpStream) send(server bool, at time.Duration, data []byte) {
	from := 0
	if server {
		from = 1
	}
	for len(data) > 0 {
		n := min(len(data), pcapMSS)
		flags := byte(tcpACK)
		if n == len(data) {
			flags |= tcpPSH
		}
		s.p.packet(s, from, at, flags, data[:n])
		s.seq[from] += uint32(n)
		data = data[n:]
	}
}

// close ends the connection: the client's FIN, the server's FIN, the
// client's last ACK.
func (s *tcpStream) close(at time.Duration) {
	s.p.packet(s, 0, at, tcpFIN|tcpACK, nil)
	s.seq[0]++
	s.p.packet(s, 1, at, tcpFIN|tcpACK, nil)
	s.seq[1]++
	s.p.packet(s, 0, at, tcpACK, nil)
}

// packet writes one record: Ethernet, IPv4, TCP and the payload. The
// acknowledgement number is always the next byte expected from the peer.
func (p *pcapWriter) packet(s *tcpStream, from int, at time.Duration, flags byte, payload []byte) {
	const ethLen, ipLen, tcpLen = 14, 20, 20
	n := ethLen + ipLen + tcpLen + len(payload)
	if cap(p.buf) < n {
		p.buf = make([]byte, n)
	}
	b := p.buf[:n]
	clear(b)

	srcMAC, dstMAC := pcapClientMAC, pcapServerMAC
	srcIP, dstIP := pcapClientIP, pcapServerIP
	sport, dport := s.cport, p.port
	if from == 1 {
		srcMAC, dstMAC = dstMAC, srcMAC
		srcIP, dstIP = dstIP, srcIP
		sport, dport = dport, sport
	}
	// Ethernet II
	copy(b[0:6], dstMAC)
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:], 0x0800)

	// IPv4, no options, Don't Fragment
	ip := b[ethLen : ethLen+ipLen]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+tcpLen+len(payload)))
	p.ipID[from]++
	binary.BigEndian.PutUint16(ip[4:], p.ipID[from])
	binary.BigEndian.PutUint16(ip[6:], 0x4000)
	ip[8] = 64 // TTL
	ip[9] = 6  // TCP
	copy(ip[12:16], srcIP)
	copy(ip[16:20], dstIP)
	binary.BigEndian.PutUint16(ip[10:], internetChecksum(0, ip))

	// TCP, no options
	tcp := b[ethLen+ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], s.seq[from])
	if flags&tcpACK != 0 {
		binary.BigEndian.PutUint32(tcp[8:], s.seq[1-from])
	}
	tcp[12] = (tcpLen / 4) << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], pcapWindow)
	copy(tcp[tcpLen:], payload)
	binary.BigEndian.PutUint16(tcp[16:], tcpChecksum(ip[12:16], ip[16:20], tcp))

	// The record header: the time of the event, the whole frame kept.
	ts := p.base.Add(at)
	if ts.Unix() < 0 || ts.Unix() > 1<<32-1 { // a header without a usable time
		ts = time.Unix(0, 0).Add(at)
	}
	var rh [16]byte
	binary.LittleEndian.PutUint32(rh[0:], uint32(ts.Unix()))
	binary.LittleEndian.PutUint32(rh[4:], uint32(ts.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(rh[8:], uint32(n))
	binary.LittleEndian.PutUint32(rh[12:], uint32(n))
	p.write(rh[:])
	p.write(b)
}

// tcpChecksum is the TCP checksum over the IPv4 pseudo-header and the
// segment (RFC 793 §3.1), with the checksum field zero.
func tcpChecksum(src, dst []byte, seg []byte) uint16 {
	var pseudo [12]byte
	copy(pseudo[0:4], src)
	copy(pseudo[4:8], dst)
	pseudo[9] = 6
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
	return internetChecksum(sum16(0, pseudo[:]), seg)
}

// internetChecksum is the one's complement of the one's complement sum
// (RFC 1071), continuing from a partial sum.
func internetChecksum(partial uint32, b []byte) uint16 {
	s := sum16(partial, b)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func sum16(s uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return s
}
