package recordings

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/session"
)

// pcapPacket is one frame of a capture, decoded and checked by parsePcap.
type pcapPacket struct {
	ts               time.Time
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            byte
	payload          []byte
}

func (p pcapPacket) fromClient() bool { return p.dstPort < p.srcPort }

// parsePcap reads a classic pcap file as a dissector would, independently
// of the writer, and fails the test on anything malformed: the file and
// record headers, Ethernet, the IPv4 header and its checksum, the TCP
// header and its checksum over the pseudo-header.
func parsePcap(t *testing.T, b []byte) []pcapPacket {
	t.Helper()
	if len(b) < 24 {
		t.Fatalf("pcap of %d bytes", len(b))
	}
	le := binary.LittleEndian
	if m := le.Uint32(b); m != 0xa1b2c3d4 {
		t.Fatalf("magic %#x", m)
	}
	if le.Uint16(b[4:]) != 2 || le.Uint16(b[6:]) != 4 || le.Uint32(b[20:]) != 1 {
		t.Fatalf("file header: version %d.%d linktype %d", le.Uint16(b[4:]), le.Uint16(b[6:]), le.Uint32(b[20:]))
	}
	snap := le.Uint32(b[16:])
	var out []pcapPacket
	for off := 24; off < len(b); {
		if off+16 > len(b) {
			t.Fatalf("record header cut off at %d", off)
		}
		sec, usec, incl, orig := le.Uint32(b[off:]), le.Uint32(b[off+4:]), le.Uint32(b[off+8:]), le.Uint32(b[off+12:])
		off += 16
		if incl != orig || incl > snap || off+int(incl) > len(b) || usec >= 1e6 {
			t.Fatalf("record at %d: incl %d orig %d usec %d", off-16, incl, orig, usec)
		}
		f := b[off : off+int(incl)]
		off += int(incl)
		be := binary.BigEndian
		if len(f) < 54 || be.Uint16(f[12:]) != 0x0800 {
			t.Fatalf("frame %d: not Ethernet/IPv4", len(out)+1)
		}
		ip := f[14:34]
		if ip[0] != 0x45 || ip[9] != 6 || int(be.Uint16(ip[2:])) != len(f)-14 {
			t.Fatalf("frame %d: IPv4 header %x", len(out)+1, ip)
		}
		if onesSum(ip) != 0xffff {
			t.Errorf("frame %d: bad IPv4 checksum", len(out)+1)
		}
		tcp := f[34:]
		if tcp[12]>>4 != 5 {
			t.Fatalf("frame %d: TCP header length %d", len(out)+1, tcp[12]>>4*4)
		}
		pseudo := append(append(append([]byte{}, ip[12:20]...), 0, 6), byte(len(tcp)>>8), byte(len(tcp)))
		if onesSum(append(pseudo, tcp...)) != 0xffff {
			t.Errorf("frame %d: bad TCP checksum", len(out)+1)
		}
		out = append(out, pcapPacket{
			ts:      time.Unix(int64(sec), int64(usec)*1000).UTC(),
			srcPort: be.Uint16(tcp[0:]), dstPort: be.Uint16(tcp[2:]),
			seq: be.Uint32(tcp[4:]), ack: be.Uint32(tcp[8:]), flags: tcp[13],
			payload: tcp[20:],
		})
	}
	return out
}

// onesSum is the one's complement sum (RFC 1071) of b; a header with a
// correct checksum sums to 0xffff.
func onesSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// checkStreams follows every TCP connection in packets: a handshake first,
// each segment's sequence number where the previous one ended, every ACK
// the peer's next byte, a FIN exchange last; and it returns the bytes each
// side sent, over all connections in order.
func checkStreams(t *testing.T, packets []pcapPacket, serverPort uint16) (client, server []byte, conns int) {
	t.Helper()
	type conn struct {
		next   [2]uint32 // the next sequence number of client, server
		stage  int       // 0 SYN seen, 1 SYN-ACK seen, 2 established, 3 closing, 4 closed
		finned [2]bool
	}
	streams := map[uint16]*conn{}
	var prev time.Time
	for i, p := range packets {
		n := i + 1
		if p.ts.Before(prev) {
			t.Errorf("frame %d: time goes back", n)
		}
		prev = p.ts
		side, port := 1, p.dstPort
		if p.dstPort == serverPort {
			side, port = 0, p.srcPort
		} else if p.srcPort != serverPort {
			t.Fatalf("frame %d: neither port is the server's %d", n, serverPort)
		}
		c := streams[port]
		if c == nil {
			if side != 0 || p.flags != tcpSYN {
				t.Fatalf("frame %d: connection %d does not start with the client's SYN (flags %#x)", n, port, p.flags)
			}
			streams[port] = &conn{next: [2]uint32{p.seq + 1}}
			conns++
			continue
		}
		if c.stage == 4 {
			t.Fatalf("frame %d: traffic after the connection closed", n)
		}
		if c.stage == 0 {
			if side != 1 || p.flags != tcpSYN|tcpACK || p.ack != c.next[0] {
				t.Fatalf("frame %d: want the SYN-ACK", n)
			}
			c.next[1], c.stage = p.seq+1, 1
			continue
		}
		if p.seq != c.next[side] {
			t.Errorf("frame %d: seq %d, want %d", n, p.seq, c.next[side])
		}
		if p.flags&tcpACK == 0 || p.ack != c.next[1-side] {
			t.Errorf("frame %d: ack %d, want %d", n, p.ack, c.next[1-side])
		}
		if c.stage == 1 {
			if side != 0 || len(p.payload) != 0 || p.flags != tcpACK {
				t.Fatalf("frame %d: want the handshake's last ACK", n)
			}
			c.stage = 2
			continue
		}
		c.next[side] += uint32(len(p.payload))
		if side == 0 {
			client = append(client, p.payload...)
		} else {
			server = append(server, p.payload...)
		}
		if p.flags&tcpFIN != 0 {
			c.next[side]++
			c.finned[side] = true
			c.stage = 3
		} else if c.stage == 3 && c.finned[0] && c.finned[1] && len(p.payload) == 0 {
			c.stage = 4
		}
	}
	for port, c := range streams {
		if c.stage != 4 {
			t.Errorf("connection %d was not closed (stage %d)", port, c.stage)
		}
	}
	return client, server, conns
}

// wireBytes is what each side sent in a recording.
func wireBytes(rec *Recording) (client, server []byte) {
	for _, e := range rec.Events {
		switch e.Kind {
		case session.KindClient:
			client = append(client, e.Data...)
		case session.KindServer:
			server = append(server, e.Data...)
		}
	}
	return client, server
}

func TestPcapSTARTTLS(t *testing.T) {
	pw := canary(t)
	rec := readRecording(t, recordConversation(t, authConversation(t, pw), pw, false))
	var b bytes.Buffer
	if err := WritePcap(&b, rec); err != nil {
		t.Fatal(err)
	}
	packets := parsePcap(t, b.Bytes())
	client, server, conns := checkStreams(t, packets, 25)
	wantC, wantS := wireBytes(rec)
	if !bytes.Equal(client, wantC) {
		t.Errorf("client bytes:\n got %q\nwant %q", client, wantC)
	}
	if !bytes.Equal(server, wantS) {
		t.Errorf("server bytes:\n got %q\nwant %q", server, wantS)
	}
	// The part after STARTTLS is a second connection (see pcap.go), which
	// starts where the TLS handshake happened.
	if conns != 2 {
		t.Errorf("%d connections, want 2 (before and after STARTTLS)", conns)
	}
	var tlsAt time.Time
	for _, e := range rec.Events {
		if e.Kind == session.KindTLS {
			tlsAt = rec.Header.Created.Add(e.Offset).Truncate(time.Microsecond)
		}
	}
	for i, p := range packets {
		if p.flags == tcpSYN && i > 0 {
			if !p.ts.Equal(tlsAt) {
				t.Errorf("second SYN at %v, want the TLS handshake's %v", p.ts, tlsAt)
			}
			if next := packets[i+3]; !bytes.HasPrefix(next.payload, []byte("EHLO")) {
				t.Errorf("the second connection starts with %q", next.payload)
			}
		}
	}
	// Each data segment carries its event's time.
	checkTimes(t, rec, packets)
}

// checkTimes checks that the data segments, in order, carry the bytes of
// the recording's data events, each at its event's time.
func checkTimes(t *testing.T, rec *Recording, packets []pcapPacket) {
	t.Helper()
	var data []pcapPacket
	for _, p := range packets {
		if len(p.payload) > 0 {
			data = append(data, p)
		}
	}
	for _, e := range rec.Events {
		if (e.Kind != session.KindClient && e.Kind != session.KindServer) || len(e.Data) == 0 {
			continue
		}
		want := rec.Header.Created.Add(e.Offset).Truncate(time.Microsecond)
		for n := 0; n < len(e.Data); {
			if len(data) == 0 {
				t.Fatalf("no segment for %q", e.Data)
			}
			p := data[0]
			data = data[1:]
			if !p.ts.Equal(want) {
				t.Errorf("segment %q at %v, want %v", p.payload, p.ts, want)
			}
			if (e.Kind == session.KindClient) != p.fromClient() || !bytes.Equal(p.payload, e.Data[n:n+len(p.payload)]) {
				t.Fatalf("segment %q is not the next bytes of %q", p.payload, e.Data)
			}
			n += len(p.payload)
		}
	}
}

// Segments are at most one MSS; several connect … close runs are several
// connections; an implicit-TLS recording is one connection, on 587.
func TestPcapSegmentsAndRuns(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789\xff"), 1000)
	big = append(big, "\r\n.\r\n"...)
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	run := func(base int) []session.Event {
		return []session.Event{
			{Offset: us(base), Kind: session.KindConnect, Network: "tcp", Addr: "mx.test:465"},
			{Offset: us(base + 1), Kind: session.KindTLS, Handshake: &session.TLSSummary{Version: "TLSv1.3", Complete: true}},
			{Offset: us(base + 2), Kind: session.KindServer, TLS: true, Data: []byte("220 hi\r\n")},
			{Offset: us(base + 3), Kind: session.KindClient, TLS: true, Data: []byte("DATA\r\n")},
			{Offset: us(base + 4), Kind: session.KindServer, TLS: true, Data: []byte("354 go\r\n")},
			{Offset: us(base + 5), Kind: session.KindClient, TLS: true, Data: big},
			{Offset: us(base + 6), Kind: session.KindServer, TLS: true, Data: []byte("250 ok\r\n")},
			{Offset: us(base + 7), Kind: session.KindClose},
		}
	}
	h := testHeader
	h.Transport = "smtps"
	var file bytes.Buffer
	r, _ := NewRecorder(&file, h)
	for _, e := range append(run(0), run(1000)...) {
		r.Event(e)
	}
	r.Close()
	rec := readRecording(t, file.Bytes())
	var b bytes.Buffer
	if err := WritePcap(&b, rec); err != nil {
		t.Fatal(err)
	}
	packets := parsePcap(t, b.Bytes())
	client, server, conns := checkStreams(t, packets, 587)
	wantC, wantS := wireBytes(rec)
	if !bytes.Equal(client, wantC) || !bytes.Equal(server, wantS) {
		t.Error("payload differs from the recording")
	}
	if conns != 2 {
		t.Errorf("%d connections, want 2", conns)
	}
	for _, p := range packets {
		if len(p.payload) > pcapMSS {
			t.Errorf("segment of %d bytes", len(p.payload))
		}
	}
	checkTimes(t, rec, packets)
	if packets[0].ts != rec.Header.Created {
		t.Errorf("the first SYN at %v, want the connect at %v", packets[0].ts, rec.Header.Created)
	}
}

// tsharkPath finds tshark, or skips; with EHLO_REQUIRE_TSHARK=1 (CI) a
// missing tshark fails the test instead.
func tsharkPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("EHLO_REQUIRE_TSHARK") == "1" {
			t.Fatal("EHLO_REQUIRE_TSHARK=1 but tshark is not on PATH")
		}
		t.Skip("tshark not installed (EHLO_REQUIRE_TSHARK=1 makes this a failure)")
	}
	return p
}

// TsharkCommands runs tshark on a capture and returns the SMTP request
// commands it decodes, upper case, and fails on any frame tshark flags
// (bad checksums, TCP analysis warnings, malformed packets).
func tsharkCommands(t *testing.T, tshark, file string, extra ...string) []string {
	t.Helper()
	run := func(args ...string) string {
		t.Helper()
		args = append(append([]string{"-r", file}, extra...), args...)
		cmd := exec.Command(tshark, args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if bad := run("-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
		"-Y", "tcp.checksum.status == 2 || ip.checksum.status == 2 || tcp.analysis.flags || _ws.malformed"); strings.TrimSpace(bad) != "" {
		t.Errorf("tshark flags frames:\n%s", bad)
	}
	var cmds []string
	for _, l := range strings.Split(run("-Y", "smtp.req.command", "-T", "fields", "-e", "smtp.req.command"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			cmds = append(cmds, strings.ToUpper(l))
		}
	}
	return cmds
}

// tshark decodes the capture, commands after STARTTLS included, with no
// warning about checksums or TCP sequence numbers.
func TestPcapTshark(t *testing.T) {
	tshark := tsharkPath(t)
	pw := canary(t)
	rec := readRecording(t, recordConversation(t, authConversation(t, pw), pw, false))
	file := filepath.Join(t.TempDir(), "s.pcap")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := Export(f, rec, "pcap", ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := strings.Join(tsharkCommands(t, tshark, file), " ")
	// tshark shows a long verb by its first four letters (STAR for STARTTLS).
	want := "EHLO STAR EHLO AUTH AUTH MAIL RCPT DATA QUIT"
	if got != want {
		t.Errorf("tshark decodes %q, want %q", got, want)
	}
}

// A capture of events the writer does not expect (a session with no data,
// a failed handshake, data with no connect) is still well formed.
func TestPcapOddRecordings(t *testing.T) {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	cases := map[string][]session.Event{
		"empty": nil,
		"no data": {
			{Kind: session.KindConnect, Network: "tcp", Addr: "x:25"},
			{Offset: us(5), Kind: session.KindNote, Text: "connection refused"},
		},
		"failed handshake": {
			{Kind: session.KindConnect, Network: "tcp", Addr: "x:25"},
			{Offset: us(1), Kind: session.KindServer, Data: []byte("220 x\r\n")},
			{Offset: us(2), Kind: session.KindClient, Data: []byte("STARTTLS\r\n")},
			{Offset: us(3), Kind: session.KindServer, Data: []byte("220 go\r\n")},
			{Offset: us(4), Kind: session.KindTLS, Handshake: &session.TLSSummary{Error: "bad certificate"}},
		},
		"no connect, no close": {
			{Kind: session.KindClient, Data: []byte("NOOP\r\n")},
			{Offset: us(1), Kind: session.KindServer, Data: []byte("250 ok\r\n")},
			{Offset: us(2), Kind: session.KindState, State: protocol.State{Phase: protocol.PhaseHello}},
		},
	}
	for name, evs := range cases {
		t.Run(name, func(t *testing.T) {
			rec := &Recording{Header: testHeader, Events: evs}
			var b bytes.Buffer
			if err := WritePcap(&b, rec); err != nil {
				t.Fatal(err)
			}
			packets := parsePcap(t, b.Bytes())
			client, server, _ := checkStreams(t, packets, 25)
			wantC, wantS := wireBytes(rec)
			if !bytes.Equal(client, wantC) || !bytes.Equal(server, wantS) {
				t.Errorf("payload: %q %q", client, server)
			}
		})
	}
}

func TestPcapPort(t *testing.T) {
	for tr, want := range map[string]uint16{"smtp": 25, "smtps": 587, "lmtp": 24, "": 25} {
		if got := PcapPort(tr); got != want {
			t.Errorf("PcapPort(%q) = %d, want %d", tr, got, want)
		}
	}
}
