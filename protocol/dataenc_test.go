package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/textproto"
	"strings"
	"testing"
	"testing/iotest"
)

// smtpsmugVariants are the non-standard end-of-data sequences that
// hannob/smtpsmug probes servers with (security-anchors §2.2, E2).
var smtpsmugVariants = []string{
	"\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\r\n.\r",
}

// encodeData runs data through a DataEncoder, split into writes by next (nil:
// one write), and returns what reached the writer and the first error.
func encodeData(data []byte, next func(rest int) int) ([]byte, *DataEncoder, error) {
	var out bytes.Buffer
	e := NewDataEncoder(&out)
	for len(data) > 0 {
		k := len(data)
		if next != nil {
			k = min(max(next(len(data)), 0), len(data))
		}
		if k == 0 {
			// An empty write must not disturb the state; then make
			// progress so that any chunker terminates.
			if _, err := e.Write(nil); err != nil {
				return out.Bytes(), e, err
			}
			k = 1
		}
		if _, err := e.Write(data[:k]); err != nil {
			return out.Bytes(), e, err
		}
		data = data[k:]
	}
	err := e.Close()
	return out.Bytes(), e, err
}

func oneByteChunks(int) int { return 1 }

// randomChunks returns a chunker with sizes 0..maxLen (zero-length writes
// included on purpose: they must not disturb the state).
func randomChunks(seed uint64, maxLen int) func(int) int {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(int) int { return r.IntN(maxLen + 1) }
}

// normalizeRef is the reference line-end fix, written differently from the
// encoder on purpose: smtplib's _fix_eols as three replacements.
func normalizeRef(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	b = bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// wantDecoded is the message a strict receiver must get back for input b:
// the normalised input, with a final CRLF when it did not end with a line
// end (an empty message is one empty line, as smtplib sends it).
func wantDecoded(b []byte) []byte {
	n := normalizeRef(b)
	if !bytes.HasSuffix(n, []byte("\r\n")) {
		n = append(n, '\r', '\n')
	}
	return n
}

// decodeDATA is a strict RFC 5321 §4.5.2 receiver written as a byte state
// machine: lines end only in CRLF, a line of "." ends the data and must be
// the last thing sent, and a leading dot is removed only when a second dot
// follows it, so that an unstuffed leading dot is an error rather than
// silently eaten.
func decodeDATA(wire []byte) ([]byte, error) {
	const (
		bol = iota
		dot
		dotCR
		text
		cr
	)
	var out []byte
	state := bol
	for i, c := range wire {
		switch state {
		case bol:
			switch c {
			case '.':
				state = dot
			case '\r':
				state = cr
			case '\n':
				return nil, fmt.Errorf("bare LF at %d", i)
			default:
				out = append(out, c)
				state = text
			}
		case dot:
			switch c {
			case '\r':
				state = dotCR
			case '.':
				out = append(out, '.')
				state = text
			default:
				return nil, fmt.Errorf("unstuffed leading dot before %q at %d", c, i)
			}
		case dotCR:
			if c != '\n' {
				return nil, fmt.Errorf("bare CR at %d", i-1)
			}
			if i != len(wire)-1 {
				return nil, fmt.Errorf("%d bytes after end of data", len(wire)-1-i)
			}
			return out, nil
		case text:
			switch c {
			case '\r':
				state = cr
			case '\n':
				return nil, fmt.Errorf("bare LF at %d", i)
			default:
				out = append(out, c)
			}
		case cr:
			if c != '\n' {
				return nil, fmt.Errorf("bare CR at %d", i-1)
			}
			out = append(out, '\r', '\n')
			state = bol
		}
	}
	return nil, errors.New("no end-of-data line")
}

// checkWire asserts the security-anchors §2.2 rule 3 invariants and the
// round trip through a strict receiver.
func checkWire(t testing.TB, in, wire []byte) {
	t.Helper()
	if n := bytes.Count(wire, []byte("\r\n.\r\n")); n != 1 || !bytes.HasSuffix(wire, []byte("\r\n.\r\n")) {
		t.Fatalf("wire %q: want exactly one CRLF.CRLF, at the end; found %d", wire, n)
	}
	got, err := decodeDATA(wire)
	if err != nil {
		t.Fatalf("wire %q: strict decoder: %v", wire, err)
	}
	if want := wantDecoded(in); !bytes.Equal(got, want) {
		t.Fatalf("input %q: decoded %q, want %q", in, got, want)
	}
}

var encoderCases = []struct {
	name, in, want string
}{
	{"smtplib §14 / §23 case 29", "Subject: t\n\n.line\nbody", "Subject: t\r\n\r\n..line\r\nbody\r\n.\r\n"},
	{"§23 case 49 empty message", "", "\r\n.\r\n"},
	{"§23 case 48 mixed EOLs, user terminator stuffed", "a\r.\rc\r\n.\r\n", "a\r\n..\r\nc\r\n..\r\n.\r\n"},
	// Cases 47 and 50 differ from smtplib on purpose: smtplib sends bytes
	// unnormalised ("a\n..b\nc\n\r\n.\r\n" and "a\r.\r\nb\r\n.\r\n"), so
	// a bare LF and an unstuffed dot after a bare CR reach the wire.
	{"§23 case 47 bytes normalised too", "a\n.b\nc\n", "a\r\n..b\r\nc\r\n.\r\n"},
	{"§23 case 50 dot after bare CR stuffed", "a\r.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
	{"E4 no final newline", "…last line", "…last line\r\n.\r\n"},
	{"E4 lone CR at end, never CR CR LF", "end\r", "end\r\n.\r\n"},
	{"E5 leading dots", ".hidden\n.\n..\n. x\n", "..hidden\r\n..\r\n...\r\n.. x\r\n.\r\n"},
	{"only CRLF", "\r\n", "\r\n.\r\n"},
	{"only LF", "\n", "\r\n.\r\n"},
	{"only CR", "\r", "\r\n.\r\n"},
	{"CR then CRLF is two line ends", "\r\r\n", "\r\n\r\n.\r\n"},
	{"LF then CR is two line ends", "\n\r", "\r\n\r\n.\r\n"},
	{"lone dot", ".", "..\r\n.\r\n"},
	{"dot then CR", ".\r", "..\r\n.\r\n"},
	{"blank lines kept", "a\n\n\n", "a\r\n\r\n\r\n.\r\n"},
	{"dot not at line start untouched", "a.b\r\n a.\r\n", "a.b\r\n a.\r\n.\r\n"},
	{"8-bit bytes pass", "caf\xc3\xa9\xff\r\n", "caf\xc3\xa9\xff\r\n.\r\n"},
	{"ends with user terminator CRLF.CRLF", "x\r\n.\r\n", "x\r\n..\r\n.\r\n"},
}

func TestDataEncoderExamples(t *testing.T) {
	for _, tc := range encoderCases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := encodeData([]byte(tc.in), nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("encodeData(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			checkWire(t, []byte(tc.in), got)
		})
	}
}

// TestDataEncoderSmuggling is security-anchors E2: every smtpsmug
// end-of-data variant in the middle of a body becomes a stuffed "." line
// between CRLFs, so no receiver can take it for the end of the data.
func TestDataEncoderSmuggling(t *testing.T) {
	const head = "From: a@x.test\r\nSubject: s\r\n\r\nhello"
	const tail = "MAIL FROM:<x@y.test>\r\nRCPT TO:<v@y.test>\r\nDATA\r\nspoofed\r\n"
	const want = head + "\r\n..\r\n" + tail + ".\r\n"
	for _, v := range smtpsmugVariants {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			in := []byte(head + v + tail)
			got, _, err := encodeData(in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
			checkWire(t, in, got)
		})
	}
	t.Run("nullbefore", func(t *testing.T) {
		in := []byte(head + "\r\n\x00.\r\n" + tail)
		got, _, err := encodeData(in, nil)
		var ne *NULError
		if !errors.As(err, &ne) || ne.Offset != int64(len(head)+2) {
			t.Fatalf("err = %v, want NUL at offset %d", err, len(head)+2)
		}
		if bytes.Contains(got, []byte("\r\n.\r\n")) {
			t.Errorf("terminator written after a NUL: %q", got)
		}
	})
}

// TestDataEncoderChunking is security-anchors E6: output does not depend on
// how the input is split, including a split between CR and LF.
func TestDataEncoderChunking(t *testing.T) {
	var inputs [][]byte
	for _, tc := range encoderCases {
		inputs = append(inputs, []byte(tc.in))
	}
	for _, v := range smtpsmugVariants {
		inputs = append(inputs, []byte("a"+v+"b"+v), []byte(v+v+v))
	}
	inputs = append(inputs, bytes.Repeat([]byte(".x\r\r\n\n.\r"), 50))
	for _, in := range inputs {
		want, _, err := encodeData(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		check := func(how string, next func(int) int) {
			t.Helper()
			got, _, err := encodeData(in, next)
			if err != nil {
				t.Fatalf("%q %s: %v", in, how, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%q %s:\n got %q\nwant %q", in, how, got, want)
			}
		}
		check("1-byte writes", oneByteChunks)
		for seed := range uint64(20) {
			check(fmt.Sprintf("random splits seed %d", seed), randomChunks(seed, 5))
		}
		for k := 0; k <= len(in) && k < 64; k++ {
			first := true
			check(fmt.Sprintf("split at %d", k), func(int) int {
				if first {
					first = false
					return k
				}
				return 1 << 30
			})
		}
	}
}

// TestDataEncoderCRLFSplitAcrossWrites pins the streaming state: a CR at
// the end of one write and an LF at the start of the next are one line end,
// and a dot after them is still at the start of a line.
func TestDataEncoderCRLFSplitAcrossWrites(t *testing.T) {
	var out bytes.Buffer
	e := NewDataEncoder(&out)
	for _, p := range []string{"a\r", "\n.b\r", "", "\n", ".\r", "\r", "\n"} {
		if _, err := e.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "a\r\n..b\r\n..\r\n\r\n.\r\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// encSink records how the encoder calls the connection.
type encSink struct {
	buf    bytes.Buffer
	writes []int
	failAt int // fail the write with this index (1-based); 0 never
	short  bool
}

var errEncSink = errors.New("connection reset")

func (w *encSink) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	if w.failAt == len(w.writes) {
		if w.short {
			w.buf.Write(p[:len(p)/2])
			return len(p) / 2, nil
		}
		return 0, errEncSink
	}
	return w.buf.Write(p)
}

// TestDataEncoderBuffering checks that tiny writes in do not become tiny
// writes out: the connection sees large chunks whatever the caller does.
func TestDataEncoderBuffering(t *testing.T) {
	line := strings.Repeat("x", 70) + "\n"
	in := []byte(strings.Repeat(line, 1<<20/len(line)))
	w := &encSink{}
	e := NewDataEncoder(w)
	for i := range in {
		if _, err := e.Write(in[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	want, _, _ := encodeData(in, nil)
	if !bytes.Equal(w.buf.Bytes(), want) {
		t.Fatal("1-byte writes changed the output")
	}
	if max := len(want)/encFlush + 1; len(w.writes) > max {
		t.Errorf("%d writes to the connection, want at most %d", len(w.writes), max)
	}
	for i, n := range w.writes[:len(w.writes)-1] {
		if n < encFlush {
			t.Errorf("write %d was %d bytes; only the last may be under %d", i, n, encFlush)
		}
	}
}

// TestDataEncoderAbort is security-anchors §2.2 rule 5 and E7: after
// Abort nothing more is written, in particular not the terminator.
func TestDataEncoderAbort(t *testing.T) {
	t.Run("small message, nothing flushed yet", func(t *testing.T) {
		w := &encSink{}
		e := NewDataEncoder(w)
		e.Write([]byte("Subject: partial\r\n\r\nfirst half"))
		e.Abort()
		if _, err := e.Write([]byte("more")); !errors.Is(err, ErrDataAborted) {
			t.Errorf("Write after Abort: %v, want ErrDataAborted", err)
		}
		if err := e.Close(); !errors.Is(err, ErrDataAborted) {
			t.Errorf("Close after Abort: %v, want ErrDataAborted", err)
		}
		if len(w.writes) != 0 {
			t.Errorf("aborted encoder wrote %q", w.buf.Bytes())
		}
	})
	t.Run("large message, part already sent", func(t *testing.T) {
		w := &encSink{}
		e := NewDataEncoder(w)
		e.Write(bytes.Repeat([]byte("line\n"), 20000))
		sent := w.buf.Len()
		if sent == 0 {
			t.Fatal("expected part of the message to be flushed")
		}
		e.Abort()
		e.Abort() // idempotent
		if err := e.Close(); !errors.Is(err, ErrDataAborted) {
			t.Errorf("Close: %v", err)
		}
		if w.buf.Len() != sent {
			t.Errorf("Close after Abort wrote %q", w.buf.Bytes()[sent:])
		}
		if bytes.Contains(w.buf.Bytes(), []byte("\r\n.\r\n")) {
			t.Error("terminator on the wire after Abort")
		}
		if err := e.Close(); !errors.Is(err, ErrDataEncoderClosed) {
			t.Errorf("second Close: %v, want ErrDataEncoderClosed", err)
		}
	})
	t.Run("Abort after Close changes nothing", func(t *testing.T) {
		w := &encSink{}
		e := NewDataEncoder(w)
		e.Write([]byte("x"))
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e.Abort()
		if w.buf.String() != "x\r\n.\r\n" {
			t.Errorf("got %q", w.buf.String())
		}
	})
}

func TestDataEncoderCloseTwice(t *testing.T) {
	var out bytes.Buffer
	e := NewDataEncoder(&out)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); !errors.Is(err, ErrDataEncoderClosed) {
		t.Errorf("second Close: %v, want ErrDataEncoderClosed", err)
	}
	if _, err := e.Write([]byte("x")); !errors.Is(err, ErrDataEncoderClosed) {
		t.Errorf("Write after Close: %v, want ErrDataEncoderClosed", err)
	}
	if out.String() != "\r\n.\r\n" {
		t.Errorf("got %q", out.String())
	}
}

// TestDataEncoderNUL is security-anchors §2.2 rule 4 and E3.
func TestDataEncoderNUL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		off    int64
		n      int // what the failing Write returns
	}{
		{"first byte", []string{"\x00abc"}, 0, 0},
		{"nullbefore variant", []string{"ab\r\n\x00.\r\n"}, 4, 4},
		{"offset counts earlier writes, raw bytes", []string{"a\nb\n", "cd\x00"}, 6, 2},
		{"after a dangling CR", []string{"a\r", "\x00"}, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &encSink{}
			e := NewDataEncoder(w)
			var err error
			var n int
			for _, p := range tc.writes {
				if n, err = e.Write([]byte(p)); err != nil {
					break
				}
			}
			var ne *NULError
			if !errors.As(err, &ne) || ne.Offset != tc.off {
				t.Fatalf("err = %v, want NUL at offset %d", err, tc.off)
			}
			if n != tc.n {
				t.Errorf("Write returned n = %d, want %d", n, tc.n)
			}
			if want := fmt.Sprintf("NUL byte at offset %d", tc.off); err.Error() != want {
				t.Errorf("text %q, want %q", err, want)
			}
			var ve *ValueError
			if !errors.Is(err, ErrNULInData) || !errors.As(err, &ve) {
				t.Errorf("%v should match ErrNULInData and *ValueError", err)
			}
			if _, err := e.Write([]byte("x")); !errors.Is(err, ErrNULInData) {
				t.Errorf("Write after NUL: %v", err)
			}
			cerr := e.Close()
			if !errors.Is(cerr, ErrDataAborted) || !errors.Is(cerr, ErrNULInData) {
				t.Errorf("Close: %v, want ErrDataAborted wrapping the NUL error", cerr)
			}
			if len(w.writes) != 0 {
				t.Errorf("wrote %q after a NUL", w.buf.Bytes())
			}
		})
	}
}

// TestDataEncoderWriteError: once the connection fails, the encoder stops
// writing and will not end the message (security-anchors E8).
func TestDataEncoderWriteError(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef\n"), 20000)
	for _, short := range []bool{false, true} {
		w := &encSink{failAt: 2, short: short}
		e := NewDataEncoder(w)
		_, err := e.Write(big)
		want := errEncSink
		if short {
			want = io.ErrShortWrite
		}
		if !errors.Is(err, want) {
			t.Fatalf("short=%v: Write err = %v, want %v", short, err, want)
		}
		calls := len(w.writes)
		if _, err := e.Write([]byte("more")); !errors.Is(err, want) {
			t.Errorf("short=%v: second Write err = %v", short, err)
		}
		if err := e.Close(); !errors.Is(err, ErrDataAborted) || !errors.Is(err, want) {
			t.Errorf("short=%v: Close err = %v", short, err)
		}
		if len(w.writes) != calls {
			t.Errorf("short=%v: %d more writes after the failure", short, len(w.writes)-calls)
		}
	}
}

// TestSize is smtplib-behaviour §23 cases 41 and 49: SIZE= counts the
// CRLF-normalised message, not the dot-stuffed one and not the CRLF that
// ends an unterminated last line.
func TestSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"Subject: t\n\n.line\nbody", 25}, // case 29 announces size=25
		{"", 0},                           // case 49
		{"end\r", 5},
		{"a\r.\rc\r\n.\r\n", 12},
		{"..\n..\n", 8},
		{"\r\r\n\n\r", 8},
	} {
		_, e, err := encodeData([]byte(tc.in), nil)
		if err != nil {
			t.Fatal(err)
		}
		if e.Size() != tc.want {
			t.Errorf("Size(%q) = %d, want %d", tc.in, e.Size(), tc.want)
		}
		for _, r := range []io.Reader{
			strings.NewReader(tc.in),
			bytes.NewReader([]byte(tc.in)), // measured in place
			iotest.OneByteReader(strings.NewReader(tc.in)),
			iotest.DataErrReader(strings.NewReader(tc.in)),
			iotest.HalfReader(strings.NewReader(tc.in)),
		} {
			n, err := NormalizedSize(r)
			if err != nil || n != tc.want {
				t.Errorf("NormalizedSize(%q) = %d, %v; want %d", tc.in, n, err, tc.want)
			}
		}
	}
}

func TestNormalizedSizeErrors(t *testing.T) {
	_, err := NormalizedSize(iotest.OneByteReader(strings.NewReader("ab\r\n\x00.\r\n")))
	var ne *NULError
	if !errors.As(err, &ne) || ne.Offset != 4 {
		t.Errorf("NUL: err = %v, want NUL at offset 4", err)
	}
	if n, err := NormalizedSize(bytes.NewReader([]byte("ab\n\x00.\r\n"))); !errors.As(err, &ne) || ne.Offset != 3 || n != 4 {
		t.Errorf("NUL in memory: %d, %v; want 4 and NUL at offset 3", n, err)
	}
	r := io.MultiReader(strings.NewReader("abc\n"), iotest.ErrReader(errEncSink))
	n, err := NormalizedSize(r)
	if !errors.Is(err, errEncSink) || n != 5 {
		t.Errorf("read error: %d, %v; want 5, %v", n, err, errEncSink)
	}
}

// TestLongLines: RFC 5321 §4.5.3.1.6 allows 998 octets before CRLF, not
// counting the transparency dot. Long lines are still sent, unfolded (E10).
func TestLongLines(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name   string
		writes []string
		want   int
	}{
		{"998 is fine", []string{a(998) + "\n"}, 0},
		{"999 is long", []string{a(999) + "\n"}, 1},
		{"last line without EOL", []string{"x\r\n" + a(999)}, 1},
		{"stuffed dot not counted", []string{"." + a(997) + "\n"}, 0},
		{"dot counts as text", []string{"." + a(998) + "\n"}, 1},
		{"across writes", []string{a(500), a(499), "\r", "\n"}, 1},
		{"counted once", []string{a(5000)}, 1},
		{"two", []string{a(1000) + "\r" + a(1000) + "\n" + a(10)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			e := NewDataEncoder(&out)
			for _, p := range tc.writes {
				e.Write([]byte(p))
			}
			if got := e.LongLines(); got != tc.want {
				t.Errorf("LongLines = %d, want %d", got, tc.want)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			checkWire(t, []byte(strings.Join(tc.writes, "")), out.Bytes())
		})
	}
}

// TestQuoteData is smtplib-behaviour §14: quotedata fixes EOLs and doubles
// leading dots, but adds no terminator and no final CRLF.
func TestQuoteData(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc\n.jkl\rfoo\r\n..blue", "abc\r\n..jkl\r\nfoo\r\n...blue"},
		{"", ""},
		{".", ".."},
		{"a\r", "a\r\n"},
		{"a\r\n.\r\n", "a\r\n..\r\n"},
		{"a\x00b", "a\x00b"}, // legacy helper: NUL is the encoder's business
	} {
		if got := QuoteData(tc.in); got != tc.want {
			t.Errorf("QuoteData(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// dotWriterOutput is what net/textproto's DotWriter (used by net/smtp and
// go-smtp) sends for b.
func dotWriterOutput(b []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	dw := textproto.NewWriter(bw).DotWriter()
	dw.Write(b)
	dw.Close()
	return out.Bytes()
}

// TestDotWriterDifference documents security-anchors §2.2: DotWriter lets a
// lone CR and the dot after it through; the encoder does not. Without a
// lone CR the two agree (checked for every input in FuzzDotEncode).
func TestDotWriterDifference(t *testing.T) {
	in := []byte("a\r.\rb")
	if got := dotWriterOutput(in); string(got) != "a\r.\rb\r\n.\r\n" {
		t.Fatalf("DotWriter changed: %q", got)
	}
	got, _, _ := encodeData(in, nil)
	if string(got) != "a\r\n..\r\nb\r\n.\r\n" {
		t.Errorf("encoder: %q", got)
	}
}

// benchText is about 1 MiB of ~1 KB lines, a tenth of them starting with a
// dot, with the given line end.
func benchText(lineLen int, eol string) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for i := 0; b.Len() < 1<<20; i++ {
		if i%10 == 0 {
			b.WriteByte('.')
		}
		for range lineLen - 1 {
			b.WriteByte(byte(' ' + r.IntN(95)))
		}
		b.WriteString(eol)
	}
	return b.Bytes()
}

func BenchmarkDataEncoder(b *testing.B) {
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"lf-1k-lines", benchText(1000, "\n")},
		{"crlf-1k-lines", benchText(1000, "\r\n")},
		{"cr-1k-lines", benchText(1000, "\r")},
		{"crlf-72-col", benchText(72, "\r\n")},
		{"lf-72-col", benchText(72, "\n")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				e := NewDataEncoder(io.Discard)
				// io.Copy's chunk size, which is what the client sees.
				for p := bc.data; len(p) > 0; {
					k := min(len(p), 32<<10)
					if _, err := e.Write(p[:k]); err != nil {
						b.Fatal(err)
					}
					p = p[k:]
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNormalizedSize(b *testing.B) {
	data := benchText(1000, "\n")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := NormalizedSize(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDotEncode is the security-anchors §5 target: for any bytes and any
// chunking, the wire has no bare CR or LF, no unstuffed leading dot and
// exactly one CRLF.CRLF, at the end; a strict receiver gets the normalised
// input back; chunking changes nothing; NUL is refused at its offset; Size,
// NormalizedSize, LongLines and QuoteData agree with references.
func FuzzDotEncode(f *testing.F) {
	for _, tc := range encoderCases {
		f.Add([]byte(tc.in), []byte{1})
	}
	for _, v := range smtpsmugVariants {
		f.Add([]byte("hello"+v+"MAIL FROM:<x@y>\r\n"), []byte{3, 1, 4, 1, 5})
		f.Add([]byte(v), []byte{0})
	}
	f.Add([]byte("a\r\n\x00.\r\nb"), []byte{2, 7})
	f.Add([]byte("\r\n.\r\nQUIT\r\n"), []byte{1, 1})
	f.Add([]byte(strings.Repeat("a", 1200)+"\n."), []byte{200})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		chunker := func() func(int) int {
			i := 0
			return func(int) int {
				if len(cuts) == 0 {
					return 1
				}
				c := int(cuts[i%len(cuts)])
				i++
				return c
			}
		}
		out, e, err := encodeData(data, nil)
		chunked, ce, cerr := encodeData(data, chunker())
		if nul := bytes.IndexByte(data, 0); nul >= 0 {
			for _, err := range []error{err, cerr} {
				var ne *NULError
				if !errors.As(err, &ne) || ne.Offset != int64(nul) {
					t.Fatalf("NUL at %d: err = %v", nul, err)
				}
			}
			if _, err := NormalizedSize(bytes.NewReader(data)); !errors.As(err, new(*NULError)) {
				t.Fatalf("NormalizedSize accepted a NUL: %v", err)
			}
			if bytes.Contains(out, []byte("\r\n.\r\n")) || bytes.Contains(chunked, []byte("\r\n.\r\n")) {
				t.Fatalf("end of data sent for a refused message")
			}
			if err := e.Close(); !errors.Is(err, ErrDataAborted) {
				t.Fatalf("Close after NUL: %v", err)
			}
			return
		}
		if err != nil || cerr != nil {
			t.Fatalf("unexpected errors: %v, %v", err, cerr)
		}
		checkWire(t, data, out)
		if !bytes.Equal(out, chunked) {
			t.Fatalf("chunking changed the output:\n one %q\n cut %q", out, chunked)
		}
		if len(data) <= 4096 {
			bytewise, _, _ := encodeData(data, oneByteChunks)
			if !bytes.Equal(out, bytewise) {
				t.Fatalf("1-byte writes changed the output")
			}
		}
		norm := normalizeRef(data)
		if e.Size() != int64(len(norm)) || ce.Size() != e.Size() {
			t.Fatalf("Size = %d (chunked %d), want %d", e.Size(), ce.Size(), len(norm))
		}
		if n, err := NormalizedSize(iotest.OneByteReader(bytes.NewReader(data))); err != nil || n != e.Size() {
			t.Fatalf("NormalizedSize = %d, %v; Size = %d", n, err, e.Size())
		}
		long := 0
		for _, line := range bytes.Split(norm, []byte("\r\n")) {
			if len(line) > maxTextLine {
				long++
			}
		}
		if e.LongLines() != long || ce.LongLines() != long {
			t.Fatalf("LongLines = %d (chunked %d), want %d", e.LongLines(), ce.LongLines(), long)
		}
		q := QuoteData(string(data))
		if !strings.HasSuffix(q, "\r\n") {
			q += "\r\n"
		}
		if q+".\r\n" != string(out) {
			t.Fatalf("QuoteData disagrees: %q vs %q", q, out)
		}
		if bytes.Count(data, []byte("\r")) == bytes.Count(data, []byte("\r\n")) {
			if dw := dotWriterOutput(data); !bytes.Equal(dw, out) {
				t.Fatalf("without lone CR DotWriter sends %q, encoder %q", dw, out)
			}
		}
	})
}

func ExampleDataEncoder() {
	var wire strings.Builder
	enc := NewDataEncoder(&wire)
	// A bare LF, a lone CR before a dot (the "\r.\r" smuggling variant)
	// and no final newline.
	io.WriteString(enc, "Subject: hi\n\nline one\r.\rlast")
	if err := enc.Close(); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%q size=%d\n", wire.String(), enc.Size())
	// Output: "Subject: hi\r\n\r\nline one\r\n..\r\nlast\r\n.\r\n" size=32
}
