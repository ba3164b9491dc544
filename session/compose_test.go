package session

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

type part struct {
	Header textproto.MIMEHeader
	body   []byte
}

// parts parses a composed message and returns its MIME parts.
func parts(t *testing.T, msg []byte) []part {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	var out []part
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, part{p.Header, b})
	}
}

// TestCatalogueJ12AttachmentNameQuoted: a file name with a quote and a
// semicolon stays one filename parameter; a name that is not ASCII goes
// out in RFC 2231 form and parses back to itself.
func TestCatalogueJ12AttachmentNameQuoted(t *testing.T) {
	for _, name := range []string{`report.txt"; filename="invoice.exe`, "résumé; v2.pdf", `a\b "c".txt`} {
		c := Composition{To: []string{"b@x.test"}, Attachments: []Attachment{{Name: name, Data: []byte("hello")}}}
		msg, err := c.Build()
		if err != nil {
			t.Fatal(err)
		}
		ps := parts(t, msg)
		if len(ps) != 2 {
			t.Fatalf("%q: %d parts", name, len(ps))
		}
		att := ps[1]
		for _, h := range []string{"Content-Disposition", "Content-Type"} {
			raw := att.Header.Get(h)
			// A second filename= would be a "duplicate parameter" error.
			_, params, err := mime.ParseMediaType(raw)
			if err != nil {
				t.Fatalf("%q: %s %q: %v", name, h, raw, err)
			}
			key := map[string]string{"Content-Disposition": "filename", "Content-Type": "name"}[h]
			if params[key] != name || len(params) > 2 {
				t.Errorf("%q: %s parameters %q", name, h, params)
			}
		}
	}
}

// TestComposeStreamedEqualsInMemory: an attachment and a body read from
// files go out exactly as the same bytes held in memory do.
func TestComposeStreamedEqualsInMemory(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("\x00\x01\x02binary\xff"), 20000) // not a multiple of 57
	body := strings.Repeat("a line of text.\n.leading dot\n", 3000) + "no final newline"
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	att, err := OpenInput(ctx, "--attach d.bin", write("d.bin", data))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := OpenInput(ctx, "--body @b.txt", write("b.txt", []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mem := Composition{To: []string{"b@x.test"}, Date: date, Body: body, Attachments: []Attachment{{Name: "d.bin", Data: data}}}
	file := Composition{To: []string{"b@x.test"}, Date: date, BodyInput: bin, Attachments: []Attachment{{Name: "d.bin", Input: att}}}
	a, err := mem.Build()
	if err != nil {
		t.Fatal(err)
	}
	b, err := file.Build()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stripTokens(a), stripTokens(b)) {
		t.Fatal("streamed message differs from the in-memory one")
	}
	ps := parts(t, b)
	got, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(ps[1].body)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("attachment does not decode to the file: %v", err)
	}
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		if len(line) > 76 && !strings.HasPrefix(line, "Message-Id") {
			t.Fatalf("line of %d characters: %.80q", len(line), line)
		}
	}
}

// stripTokens blanks the random boundary and Message-Id.
func stripTokens(b []byte) []byte {
	s := string(b)
	for _, p := range []string{"ehlo-", "Message-Id: <20260102030405."} {
		for i := 0; ; {
			j := strings.Index(s[i:], p)
			if j < 0 {
				break
			}
			k := i + j + len(p)
			s = s[:k] + "X" + s[k+16:]
			i = k
		}
	}
	return []byte(s)
}

// TestComposeSeekableForSize: a message of files is an io.Seeker, so its
// size can be taken (SIZE=) and it can then be read from the start again.
func TestComposeSeekableForSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(p, []byte(strings.Repeat("x\n", 50000)), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := OpenInput(context.Background(), "--attach x.txt", p)
	if err != nil {
		t.Fatal(err)
	}
	c := Composition{To: []string{"b@x.test"}, Attachments: []Attachment{{Name: "x.txt", Input: in}}}
	m, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rs, ok := m.(io.ReadSeeker)
	if !ok {
		t.Fatal("a message of regular files is not seekable")
	}
	first, err := io.ReadAll(rs)
	if err != nil {
		t.Fatal(err)
	}
	if pos, err := rs.Seek(100, io.SeekStart); err != nil || pos != 100 {
		t.Fatalf("Seek(100) = %d, %v", pos, err)
	}
	size, err := protocol.NormalizedSize(rs)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := protocol.NormalizedSize(bytes.NewReader(first[100:]))
	if size != want {
		t.Fatalf("size after Seek(100) = %d, want %d", size, want)
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	again, _ := io.ReadAll(rs)
	if !bytes.Equal(again, first) {
		t.Fatalf("read %d bytes after Seek(0), first read %d", len(again), len(first))
	}
}

// TestCatalogueJ7DevZeroCapped: /dev/zero, which never ends, is cut off at
// the cap (the server's SIZE) with an error that names it; memory stays
// flat on the way.
func TestCatalogueJ7DevZeroCapped(t *testing.T) {
	in, err := OpenInput(context.Background(), "--attach /dev/zero", "/dev/zero")
	if err != nil {
		t.Skip("no /dev/zero")
	}
	c := Composition{To: []string{"b@x.test"}, Attachments: []Attachment{{Name: "zero", Input: in}}}
	m, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, ok := m.(io.Seeker); ok {
		t.Fatal("a message with a device in it claims to be seekable")
	}
	m.(interface{ SetStreamLimit(int64) }).SetStreamLimit(1 << 20)
	n, err := io.Copy(io.Discard, m)
	if err == nil || !strings.Contains(err.Error(), "--attach /dev/zero: not a regular file, and longer than 1048576 bytes (the server's SIZE limit)") {
		t.Fatalf("err = %v", err)
	}
	if n > 2<<20 {
		t.Fatalf("%d bytes read before the cap", n)
	}
}

// TestCatalogueJ7StreamedBody: a body on stdin longer than what is held
// to choose its encoding goes quoted-printable, streamed; a short one is
// read whole and may go 7bit.
func TestCatalogueJ7StreamedBody(t *testing.T) {
	long := strings.Repeat("plain ascii line\n", maxBodyPrefix/16)
	c := Composition{To: []string{"b@x.test"}, BodyInput: StreamInput(context.Background(), "--body -", strings.NewReader(long))}
	msg, err := c.Build()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(msg, []byte("Content-Transfer-Encoding: quoted-printable\r\n\r\nplain ascii line\r\n")) {
		t.Fatalf("long body not quoted-printable: %.400q", msg)
	}
	if got := bytes.Count(msg, []byte("plain ascii line\r\n")); got != maxBodyPrefix/16 {
		t.Fatalf("%d lines of %d", got, maxBodyPrefix/16)
	}
	c.BodyInput = StreamInput(context.Background(), "--body -", strings.NewReader("short"))
	msg, err = c.Build()
	if err != nil || !bytes.HasSuffix(msg, []byte("\r\n\r\nshort\r\n")) || bytes.Contains(msg, []byte("quoted-printable")) {
		t.Fatalf("short body: %v %q", err, msg)
	}
}

// TestComposeBodyNUL: a 7bit body cannot carry NUL (security-anchors E3):
// refused before anything connects, with the offset in the file.
func TestComposeBodyNUL(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nul.txt")
	os.WriteFile(p, []byte("line\r\n\x00.\r\nmore\r\n"), 0o600)
	in, err := OpenInput(context.Background(), "--body @nul.txt", p)
	if err != nil {
		t.Fatal(err)
	}
	c := Composition{To: []string{"b@x.test"}, BodyInput: in}
	_, err = c.Open()
	if !errors.Is(err, protocol.ErrNULInData) || !strings.Contains(err.Error(), "--body @nul.txt: NUL byte at offset 6") {
		t.Fatalf("err = %v", err)
	}
}

// TestCatalogueJ7FIFOInterrupted: a FIFO nobody writes to blocks in its
// very open; cancelling the context (Ctrl+C) ends the read at once, for an
// attachment (while sending) and for a body (while composing).
func TestCatalogueJ7FIFOInterrupted(t *testing.T) {
	dir := t.TempDir()
	for _, asBody := range []bool{false, true} {
		p := filepath.Join(dir, "fifo")
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skip("mkfifo:", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		in, err := OpenInput(ctx, "--attach fifo", p)
		if err != nil {
			t.Fatal(err)
		}
		c := Composition{To: []string{"b@x.test"}}
		if asBody {
			c.BodyInput = in
		} else {
			c.Attachments = []Attachment{{Name: "fifo", Input: in}}
		}
		done := make(chan error, 1)
		go func() {
			_, err := c.Build()
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "interrupted") {
				t.Fatalf("body %v: err = %v", asBody, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("body %v: the read of a FIFO ignored the cancelled context", asBody)
		}
		// Release the goroutine blocked in open.
		if f, err := os.OpenFile(p, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	}
}

// BenchmarkComposeAttachment reads a message with an 8 MiB attachment
// from a file: B/op stays near the encoder's buffers, not the file's size.
func BenchmarkComposeAttachment(b *testing.B) {
	p := filepath.Join(b.TempDir(), "a.bin")
	if err := os.WriteFile(p, bytes.Repeat([]byte{0, 1, 2, 3, 0xff}, 8<<20/5), 0o600); err != nil {
		b.Fatal(err)
	}
	in, err := OpenInput(context.Background(), "--attach a.bin", p)
	if err != nil {
		b.Fatal(err)
	}
	c := Composition{To: []string{"b@x.test"}, Attachments: []Attachment{{Name: "a.bin", Input: in}}}
	b.SetBytes(8 << 20)
	b.ReportAllocs()
	for b.Loop() {
		m, err := c.Open()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, m); err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
}
