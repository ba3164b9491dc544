package smtptest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"
)

func (sc *Conn) fail(i int, st Step, format string, args ...any) {
	sc.srv.errorf("conn #%d step %d (%s): %s", sc.idx+1, i+1, st, fmt.Sprintf(format, args...))
}

// run plays steps; the first one that fails ends the script, and the
// connection with it.
func (sc *Conn) run(steps []Step) {
	_ = sc.raw.SetDeadline(time.Now().Add(ScriptTimeout))
	for i, st := range steps {
		var err error
		var end bool
		switch st.kind {
		case stExpect, stExpectRaw, stExpectData, stExpectMatch:
			err = sc.expect(st)
		case stSend:
			if werr := sc.Write(st.data); werr != nil {
				err = fmt.Errorf("write: %v", werr)
			}
		case stSleep:
			time.Sleep(st.dur)
		case stDrip:
			end = sc.drip(st)
		case stSendForever:
			_ = sc.raw.SetDeadline(time.Now().Add(2 * ScriptTimeout))
			for sc.Write(st.data) == nil {
			}
			end = true
		case stTLS, stTLSFail:
			end, err = sc.tlsStep(st)
		default:
			end, err = sc.endStep(st)
		}
		if err != nil {
			sc.fail(i, st, "%v", err)
			return
		}
		if end {
			return
		}
	}
	// Script over: the client must send nothing more.
	if rest, _ := sc.readRest(); len(rest) > 0 {
		sc.srv.errorf("conn #%d: client sent %q after the end of the script", sc.idx+1, clip(rest, 200))
	}
}

// expect reads what the client sends for an expecting step and compares
// it with the script.
func (sc *Conn) expect(st Step) error {
	switch st.kind {
	case stExpect:
		got, err := sc.ReadLine()
		if err != nil {
			return fmt.Errorf("client sent %q then: %v", got, err)
		}
		if !bytes.Equal(got, st.data) {
			return fmt.Errorf("client line differs\n  want: %q\n  got:  %q", st.data, got)
		}
	case stExpectMatch:
		got, err := sc.ReadLine()
		if err != nil {
			return fmt.Errorf("client sent %q then: %v", got, err)
		}
		if !bytes.HasSuffix(got, []byte("\r\n")) || !st.re.Match(got[:len(got)-2]) {
			return fmt.Errorf("client line does not match\n  want: /%v/ and CRLF\n  got:  %q", st.re, got)
		}
	case stExpectRaw:
		got, err := sc.ReadFull(len(st.data))
		if err != nil || !bytes.Equal(got, st.data) {
			return fmt.Errorf("client bytes differ\n  want: %q\n  got:  %q (%v)", st.data, got, err)
		}
	case stExpectData:
		var got []byte
		for !bytes.HasSuffix(got, []byte("\r\n.\r\n")) && string(got) != ".\r\n" {
			b, err := sc.readByte()
			if err != nil {
				return fmt.Errorf("DATA payload cut short after %q: %v", clip(got, 200), err)
			}
			got = append(got, b)
			if len(got) > len(st.data)+(1<<20) {
				return fmt.Errorf("DATA payload runs on: %q", clip(got, 200))
			}
		}
		if !bytes.Equal(got, st.data) {
			return fmt.Errorf("DATA payload differs\n  want: %q\n  got:  %q", st.data, got)
		}
	}
	return nil
}

// drip writes one byte at a time and says whether the client gave up,
// which is what a drip tests for, so it ends the script without failing.
func (sc *Conn) drip(st Step) (end bool) {
	for _, b := range st.data {
		if _, err := sc.conn.Write([]byte{b}); err != nil {
			return true
		}
		time.Sleep(st.dur)
	}
	return false
}

// tlsStep runs StartTLS or TLSRefused.
func (sc *Conn) tlsStep(st Step) (end bool, err error) {
	herr := sc.Handshake(&tls.Config{Certificates: []tls.Certificate{*st.cert}})
	if st.kind == stTLS {
		if herr != nil {
			return true, fmt.Errorf("TLS handshake: %v", herr)
		}
		return false, nil
	}
	if herr == nil {
		err = fmt.Errorf("the client accepted a certificate it must refuse")
	}
	// Nothing may follow a refused handshake, not even QUIT; an alert
	// record may.
	rest, _ := io.ReadAll(sc.raw)
	if err == nil && len(rest) > 0 && rest[0] != 0x15 {
		err = fmt.Errorf("client sent %q after refusing the certificate", clip(rest, 60))
	}
	return true, err
}

// endStep runs the steps that end a script, ReadRaw and Do.
func (sc *Conn) endStep(st Step) (end bool, err error) {
	switch st.kind {
	case stClose:
		return true, nil
	case stReset:
		if tc, ok := sc.raw.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		return true, nil
	case stReadRaw:
		buf := make([]byte, st.n)
		n, rerr := io.ReadFull(sc.raw, buf)
		sc.mu.Lock()
		sc.rawRead.Write(buf[:n])
		sc.mu.Unlock()
		if rerr != nil {
			return true, fmt.Errorf("read raw: %v", rerr)
		}
	case stExpectEOF:
		if rest, _ := sc.readRest(); len(rest) > 0 {
			return true, fmt.Errorf("client sent %q; it should have sent nothing more", clip(rest, 200))
		}
		return true, nil
	case stAnything:
		sc.readRest()
		return true, nil
	case stFunc:
		if ferr := st.fn(sc); ferr != nil {
			return true, ferr
		}
	}
	return false, nil
}
