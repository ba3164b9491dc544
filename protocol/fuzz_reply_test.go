package protocol

// Fuzz targets for the reply reader and the EHLO parser (security-anchors
// §5): the fuzzer plays the server. Seeds come from the hostile catalogue
// (F1–F15, A6–A8) and from testdata/fuzz/.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fuzzConn is a net.Conn whose reads come from data, cut into the chunks
// the fuzzer chose; writes are discarded and deadlines ignored (the data
// ends in EOF, so nothing can block).
type fuzzConn struct {
	data   []byte
	chunks []byte // chunk sizes, cycled; empty means all at once
	i      int
	closed bool
}

func (f *fuzzConn) Read(p []byte) (int, error) {
	if f.closed {
		return 0, net.ErrClosed
	}
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	n := len(f.data)
	if len(f.chunks) > 0 {
		n = int(f.chunks[f.i%len(f.chunks)])%97 + 1
		f.i++
	}
	n = min(n, len(p), len(f.data))
	copy(p, f.data[:n])
	f.data = f.data[n:]
	return n, nil
}

func (f *fuzzConn) Write(p []byte) (int, error)      { return len(p), nil }
func (f *fuzzConn) Close() error                     { f.closed = true; return nil }
func (f *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (f *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// replyResult is what one GetReply produced, in comparable form.
type replyResult struct {
	reply    Reply
	errType  string
	errMsg   string
	consumed int // bytes of the input read as reply lines
	rest     []byte
}

func readOneReply(data, chunks []byte) replyResult {
	fc := &fuzzConn{data: append([]byte(nil), data...), chunks: chunks}
	var consumed int
	c := NewClient(SMTP, Options{Timeout: time.Second, Tracer: TracerFunc(func(e Event) {
		if e.Kind == EventRecv {
			consumed += len(e.Data)
		}
	})})
	c.raw, c.conn = fc, fc
	c.br = bufio.NewReaderSize(fc, 4096)
	br := c.br
	r, err := c.GetReply()
	res := replyResult{reply: r, consumed: consumed}
	if err != nil {
		res.errType = fmt.Sprintf("%T", err)
		res.errMsg = err.Error()
		return res
	}
	buffered, _ := br.Peek(br.Buffered())
	res.rest = append(append([]byte(nil), buffered...), fc.data...)
	return res
}

// refReply is a reference reader written from RFC 5321 §4.2 and ehlo's
// documented limits (8192-byte lines, 1000 lines or 1 MiB per reply),
// independent of conn.go's code. It returns the reply, an error class
// ("", "toolong", "protocol", "disconnected") and the bytes consumed.
func refReply(data []byte) (Reply, string, int) {
	var texts []string
	code, lines, total, off := 0, 0, 0, 0
	for {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			if len(data)-off > MaxLine {
				return Reply{}, "toolong", 0
			}
			return Reply{}, "disconnected", 0
		}
		line := data[off : off+nl+1]
		if len(line) > MaxLine {
			return Reply{}, "toolong", 0
		}
		off += len(line)
		lines++
		total += len(line)
		if lines > MaxReplyLines || total > MaxReplyBytes {
			return Reply{}, "protocol", 0
		}
		body := line[:len(line)-1]
		if n := len(body); n > 0 && body[n-1] == '\r' {
			body = body[:n-1]
		}
		if len(body) < 3 || !strings.ContainsRune("2345", rune(body[0])) ||
			!strings.ContainsRune("012345", rune(body[1])) || body[2] < '0' || body[2] > '9' {
			return Reply{}, "protocol", 0
		}
		lc := int(body[0]-'0')*100 + int(body[1]-'0')*10 + int(body[2]-'0')
		if lines > 1 && lc != code {
			return Reply{}, "protocol", 0
		}
		code = lc
		last := true
		text := ""
		if len(body) > 3 {
			switch body[3] {
			case '-':
				last = false
			case ' ':
			default:
				return Reply{}, "protocol", 0
			}
			text = strings.Trim(string(body[4:]), " \t\r\n")
		}
		texts = append(texts, text)
		if last {
			return Reply{Code: code, Message: strings.Join(texts, "\n")}, "", off
		}
	}
}

func errClass(res replyResult) string {
	switch res.errType {
	case "":
		return ""
	case "*protocol.ProtocolError":
		return "protocol"
	case "*protocol.ServerDisconnectedError":
		return "disconnected"
	case "*protocol.ResponseError":
		if res.errMsg == "500 Line too long" {
			return "toolong"
		}
	}
	return "other:" + res.errType + ":" + res.errMsg
}

// replySeeds are hostile server bytes from the catalogue.
var replySeeds = []string{
	"220 fake ESMTP\r\n",
	"250-first\r\n550-second\r\n251 third\r\n",                                       // case 9 / F6
	"250-a\n250 b\n",                                                                 // case 10 / F10
	"2x0-foo\r\n250 bar\r\n",                                                         // case 11 / F7
	"250OK\r\n", "+25 x\r\n", " 25 ok\r\n", "2_5 ok\r\n", "25 ok\r\n", "2500 ok\r\n", // F7
	"099 x\r\n", "100 x\r\n", "600 x\r\n", "666 Mouhahahaha!!\r\n", "999 x\r\n", // F8
	"250Xok\r\n", "250\tok\r\n", // F9
	"250\r\n", "250 \r\n", "250-x\r\n250\r\n", // F5
	"250 a\rb\r\n", "250 bell\x07\r\n", "250 has\x00nul \xff\xfe\r\n", // F11, F12
	"250-a\r\n250-b", "500 Command not", "", // F13, F14, EOF
	"220 Ready\r\n250-evil.example\r\n250 AUTH PLAIN LOGIN\r\n", // A6
	"220 ok\r\n250-AUTH PLA",                                    // A8
	"\r\n", "\n", "250-\r\n250 \r\n", "250 x\r\r\n", "4",
	"220 " + strings.Repeat("x", 8186) + "\r\n",       // F1
	"220 " + strings.Repeat("x", 8187) + "\r\n",       // F2
	"220 " + strings.Repeat("A", 9000),                // F3
	strings.Repeat("250-x\r\n", 1001) + "250 end\r\n", // F4
}

func FuzzReadReply(f *testing.F) {
	for i, s := range replySeeds {
		f.Add([]byte(s), []byte{byte(i), 1, 7, 200})
	}
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		whole := readOneReply(data, nil)
		split := readOneReply(data, chunks)
		if err := whole.errType; err == "" {
			if whole.reply.Code < 200 || whole.reply.Code > 599 {
				t.Fatalf("code %d out of range for %q", whole.reply.Code, data)
			}
			// Never past the final line: what was not read as reply lines
			// is still there, byte for byte.
			if whole.consumed == 0 || data[whole.consumed-1] != '\n' {
				t.Fatalf("reply ends at %d, not after a line end: %q", whole.consumed, data)
			}
			if !bytes.Equal(whole.rest, data[whole.consumed:]) {
				t.Fatalf("read past the final line: rest %q, want %q", whole.rest, data[whole.consumed:])
			}
		}
		// Chunking changes nothing.
		if whole.reply != split.reply || whole.errType != split.errType || whole.errMsg != split.errMsg ||
			whole.consumed != split.consumed || !bytes.Equal(whole.rest, split.rest) {
			t.Fatalf("chunking changed the result for %q:\n whole %+v\n split %+v", data, whole, split)
		}
		// Differential against the reference reader.
		ref, class, consumed := refReply(data)
		if got := errClass(whole); got != class {
			t.Fatalf("error class %q (%s: %s), reference %q, for %q", got, whole.errType, whole.errMsg, class, data)
		}
		if class == "" && (ref != whole.reply || consumed != whole.consumed) {
			t.Fatalf("reply %+v (%d bytes), reference %+v (%d bytes), for %q", whole.reply, whole.consumed, ref, consumed, data)
		}
	})
}

var keyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func FuzzParseEHLO(f *testing.F) {
	for _, s := range []string{
		"fake.example\nSIZE 1000\nAUTH=LOGIN PLAIN\nAUTH CRAM-MD5 LOGIN\n8BITMIME\nX_FOO bar\nHELP", // case 16
		"x\nSIZE 5\nSIZE 7",                        // case 17
		"x\nSIZE 99999999999999999999999\nSIZE -5", // F18
		"x\nSTARTTLS\nSTARTTLS\n\u00e9t\u00e9 x",   // F18
		"x\nAUTH " + strings.Repeat("X-MECH ", 60), // EAST X_1
		"", "\n", "x\n-\n--x\n\x00\n auth=x\nAuth=y\nAUTH=", "evil\n250-AUTH PLA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		features, exts := ParseEHLO(msg)
		for k := range features {
			if !keyRE.MatchString(k) {
				t.Fatalf("key %q is not lower-case alnum/-", k)
			}
		}
		for _, e := range exts {
			if _, ok := features[strings.ToLower(e.Keyword)]; !ok {
				t.Fatalf("extension %q has no feature", e.Keyword)
			}
			if strings.ContainsAny(e.Params, "\n") || strings.ContainsRune(e.Keyword, '\n') {
				t.Fatalf("extension %+v spans lines", e)
			}
		}
		if len(exts) > strings.Count(msg, "\n") {
			t.Fatalf("%d extensions from %d lines", len(exts), strings.Count(msg, "\n"))
		}
	})
}

// pyRepr must print what Python's repr() prints (smtplib-behaviour §19);
// the expected strings were produced by Python 3.11.
func TestPyReprMatchesPython(t *testing.T) {
	for _, tc := range []struct {
		in      string
		isBytes bool
		want    string
	}{
		{"", true, `b''`},
		{"250 ok\r\n", true, `b'250 ok\r\n'`},
		{"it's", true, `b"it's"`},
		{`say "hi"`, true, `b'say "hi"'`},
		{`both ' and "`, true, `b'both \' and "'`},
		{"\x00\x7f\x80\xff\\", true, `b'\x00\x7f\x80\xff\\'`},
		{"tab\there", true, `b'tab\there'`},
		{"ehlo c.example\r\n", false, `'ehlo c.example\r\n'`},
		{"it's", false, `"it's"`},
		{`both ' and "`, false, `'both \' and "'`},
		{"caf\u00e9 \u0085", false, `'café \x85'`},
		{"\x00\x7f\\", false, `'\x00\x7f\\'`},
	} {
		if got := pyRepr([]byte(tc.in), tc.isBytes); got != tc.want {
			t.Errorf("pyRepr(%q, %v) = %s, want %s", tc.in, tc.isBytes, got, tc.want)
		}
	}
	if got := pyTime(time.Date(2026, 1, 2, 22, 48, 8, 0, time.UTC)); got != "22:48:08" {
		t.Errorf("pyTime at .000000 = %q, want Python's 22:48:08", got)
	}
	if got := pyTime(time.Date(2026, 1, 2, 22, 48, 8, 798115000, time.UTC)); got != "22:48:08.798115" {
		t.Errorf("pyTime = %q", got)
	}
}
