package session

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Attachment is one file to attach to a composed message.
type Attachment struct {
	Name        string // file name shown to the recipient
	ContentType string // empty: detected from the name, then the content
	Data        []byte
}

// Composition describes the message `ehlo send` builds when no whole
// message (--data) is given: the default headers, the caller's headers,
// a body, and attachments as a MIME multipart/mixed message.
type Composition struct {
	From        string
	To          []string
	Subject     string // empty: "test <date>", as swaks does
	Headers     []string
	Body        string // empty: "This is a test mailing"
	Attachments []Attachment
	Date        time.Time
	Hostname    string // for the Message-Id
	Mailer      string // X-Mailer value; empty: none
}

// LoadAttachment reads a file for --attach. A missing file is an error,
// never content.
func LoadAttachment(path string) (Attachment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Attachment{}, fmt.Errorf("--attach %s: %w", path, err)
	}
	return Attachment{Name: filepath.Base(path), Data: data}, nil
}

// ValidateHeaderLine checks a "Name: value" header given on the command
// line: one line only, a printable name without a colon.
func ValidateHeaderLine(h string) (name, value string, err error) {
	i := strings.IndexByte(h, ':')
	if i <= 0 {
		return "", "", fmt.Errorf("header %q is not of the form \"Name: value\"", h)
	}
	name, value = h[:i], strings.TrimLeft(h[i+1:], " \t")
	if err := protocol.ValidateHeader(name, value); err != nil {
		return "", "", err
	}
	return name, value, nil
}

// Build renders the message with CRLF line endings.
func (c *Composition) Build() ([]byte, error) {
	date := c.Date
	if date.IsZero() {
		date = time.Now()
	}
	subject := c.Subject
	if subject == "" {
		subject = "test " + date.Format(time.RFC1123Z)
	}
	if err := protocol.ValidateHeader("Subject", subject); err != nil {
		return nil, err
	}
	body := c.Body
	if body == "" {
		body = "This is a test mailing\n"
	}
	host := c.Hostname
	if host == "" || strings.ContainsAny(host, "[]") {
		host = "ehlo.invalid"
	}
	var b bytes.Buffer
	custom := map[string]bool{}
	var extra []string
	for _, h := range c.Headers {
		name, value, err := ValidateHeaderLine(h)
		if err != nil {
			return nil, err
		}
		custom[strings.ToLower(name)] = true
		extra = append(extra, name+": "+value)
	}
	hdr := func(name, value string) {
		if !custom[strings.ToLower(name)] {
			fmt.Fprintf(&b, "%s: %s\r\n", name, value)
		}
	}
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("To", strings.Join(c.To, ", "))
	from := c.From
	if from == "" {
		from = "<>"
	}
	hdr("From", from)
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Message-Id", "<"+date.UTC().Format("20060102150405")+"."+randomToken()+"@"+host+">")
	if c.Mailer != "" {
		hdr("X-Mailer", c.Mailer)
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	if len(c.Attachments) == 0 {
		writeTextPart(&b, body, false)
		return b.Bytes(), nil
	}
	boundary := "ehlo-" + randomToken()
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary)
	b.WriteString("This is a multi-part message in MIME format.\r\n")
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	writeTextPart(&b, body, true)
	for _, a := range c.Attachments {
		fmt.Fprintf(&b, "\r\n--%s\r\n", boundary)
		ct := a.ContentType
		if ct == "" {
			ct = detectType(a.Name, a.Data)
		}
		name := mime.QEncoding.Encode("utf-8", a.Name)
		fmt.Fprintf(&b, "Content-Type: %s; name=\"%s\"\r\n", ct, name)
		b.WriteString("Content-Transfer-Encoding: base64\r\n")
		fmt.Fprintf(&b, "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n", name)
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		if enc != "" {
			b.WriteString(enc + "\r\n")
		}
	}
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return b.Bytes(), nil
}

// writeTextPart writes the body: 7bit when it is plain ASCII with short
// lines, quoted-printable otherwise, so the message is valid on any server.
func writeTextPart(b *bytes.Buffer, body string, inMultipart bool) {
	body = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(body)
	needsQP := false
	for _, line := range strings.Split(body, "\n") {
		if len(line) > 998 {
			needsQP = true
		}
	}
	for i := 0; i < len(body); i++ {
		if body[i] >= 0x80 {
			needsQP = true
		}
	}
	if needsQP || inMultipart {
		if !inMultipart {
			b.WriteString("MIME-Version: 1.0\r\n")
		}
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
		if needsQP {
			b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
			var qp bytes.Buffer
			w := quotedprintable.NewWriter(&qp)
			io.WriteString(w, strings.ReplaceAll(body, "\n", "\r\n"))
			w.Close()
			b.Write(qp.Bytes())
			if !bytes.HasSuffix(qp.Bytes(), []byte("\r\n")) {
				b.WriteString("\r\n")
			}
			return
		}
		b.WriteString("\r\n")
	} else {
		b.WriteString("\r\n")
	}
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\r\n")
	}
}

func detectType(name string, data []byte) string {
	if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
		return t
	}
	// A full sniffer (net/http's) would cost start-up time for one flag;
	// text or not is what matters for a test attachment.
	if utf8.Valid(data) && !bytes.ContainsRune(data, 0) {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

func randomToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
