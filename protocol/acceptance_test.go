package protocol_test

// The 78 acceptance cases of smtplib-behaviour.md §23, one subtest each,
// named after the case number. Where ehlo deliberately departs from
// smtplib (PRODUCT.md §8, docs/smtplib-differences.md), the subtest says
// what smtplib does and what ehlo does instead.
//
// The AUTH cases (51–61) live in auth_test.go and the STARTTLS/TLS cases
// (62–66) in tls_test.go; they are run from the table below so that every
// case is TestAcceptance/NN_name.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

type acceptanceCase struct {
	name string
	fn   func(t *testing.T)
}

func TestAcceptance(t *testing.T) {
	cases := []acceptanceCase{
		// Connection and greeting
		{"01_greeting_220", acc01},
		{"02_greeting_554", acc02},
		{"03_greeting_250", acc03},
		{"04_host_port_parsing", acc04},
		{"05_timeout_zero", acc05},
		{"06_use_before_connect", acc06},
		{"07_source_address", acc07},
		{"08_context_manager_exit", acc08},
		// Reply parsing
		{"09_multiline_inconsistent_codes", acc09},
		{"10_bare_lf_replies", acc10},
		{"11_unparsable_code", acc11},
		{"12_lenient_code", acc12},
		{"13_line_of_8192_bytes", acc13},
		{"14_eof_mid_reply", acc14},
		{"15_read_timeout", acc15},
		// EHLO/HELO
		{"16_feature_parsing", acc16},
		{"17_duplicate_keyword", acc17},
		{"18_ehlo_502_helo_fallback", acc18},
		{"19_ehlo_and_helo_fail", acc19},
		{"20_ehlo_251", acc20},
		{"21_ehlo_blank_line", acc21},
		{"22_ehlo_default_name", acc22},
		{"23_re_ehlo", acc23},
		// Simple commands
		{"24_vrfy_address_extraction", acc24},
		{"25_help_text_only", acc25},
		{"26_crlf_injection", acc26},
		{"27_options_without_esmtp", acc27},
		{"28_quoteaddr_table", acc28},
		// sendmail
		{"29_happy_path_wire", acc29},
		{"30_sender_refused_550", acc30},
		{"31_sender_refused_421", acc31},
		{"32_sender_refused_then_disconnect", acc32},
		{"33_all_recipients_refused", acc33},
		{"34_rcpt_421_second_of_three", acc34},
		{"35_rcpt_252_refused", acc35},
		{"36_empty_recipient_list", acc36},
		{"37_data_command_554", acc37},
		{"38_data_command_421", acc38},
		{"39_final_reply_552", acc39},
		{"40_final_reply_421", acc40},
		{"41_size_semantics", acc41},
		{"42_mail_rcpt_options_order", acc42},
		{"43_smtputf8_not_advertised", acc43},
		{"44_smtputf8_advertised", acc44},
		{"45_non_ascii_message", acc45},
		{"46_null_sender", acc46},
		{"47_bytes_message_normalised", acc47},
		{"48_line_ending_normalisation", acc48},
		{"49_empty_message", acc49},
		{"50_dot_after_bare_cr", acc50},
		// AUTH (auth_test.go)
		{"51_plain_initial_response", acc51},
		{"52_login_initial_response", acc52},
		{"53_login_no_initial_response", acc53},
		{"54_cram_md5_rfc2195", acc54},
		{"55_login_preference_fallthrough", acc55},
		{"56_auth_503_is_success", acc56},
		{"57_lowercase_advertisement", acc57},
		{"58_no_auth_extension", acc58},
		{"59_infinite_334", acc59},
		{"60_bad_base64_challenge", acc60},
		{"61_auth_does_not_greet", acc61},
		// STARTTLS / TLS (tls_test.go)
		{"62_starttls_not_advertised", acc62},
		{"63_starttls_454", acc63},
		{"64_starttls_resets_state", acc64},
		{"65_certificate_verification", acc65},
		{"66_smtps_connect_host_is_server_name", acc66},
		// send_message
		{"67_header_extraction", acc67},
		{"68_sender_beats_from", acc68},
		{"69_single_resent_block", acc69},
		{"70_two_resent_blocks", acc70},
		{"71_international_addresses", acc71},
		{"72_group_syntax", acc72},
		// QUIT, LMTP, debug, trace
		{"73_quit_resets", acc73},
		{"74_lmtp_unix_socket", acc74},
		{"75_lmtp_multi_recipient_data", acc75},
		{"76_debug_level_1", acc76},
		{"77_debug_level_2", acc77},
		{"78_trace_hooks", acc78},
	}
	if len(cases) != 78 {
		t.Fatalf("%d cases, want 78", len(cases))
	}
	for i, c := range cases {
		if want := fmt.Sprintf("%02d_", i+1); !strings.HasPrefix(c.name, want) {
			t.Fatalf("case %q out of order, want prefix %s", c.name, want)
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t)
		})
	}
}

// ---------------------------------------------------------------------------
// Connection and greeting

func acc01(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP")})
	c, r, err := srv.dial(t, protocol.SMTP)
	wantNoErr(t, err, "Dial")
	wantReply(t, r, 220, "fake ESMTP")
	if st := c.State(); st.Phase != protocol.PhaseGreeted || st.TLS {
		t.Errorf("state = %+v, want greeted, no TLS", st)
	}
	wantOpen(t, c)
}

func acc02(t *testing.T) {
	// F17: smtplib closes without QUIT; so does ehlo.
	srv := newServer(t, []step{S("554 go away"), ExpectEOF()})
	c, r, err := srv.dial(t, protocol.SMTP)
	if c != nil {
		t.Errorf("Dial returned a client for a 554 greeting")
	}
	ce := wantErrAs[*protocol.ConnectError](t, err)
	if ce.Code != 554 || ce.Message != "go away" {
		t.Errorf("ConnectError = (%d, %q), want (554, \"go away\")", ce.Code, ce.Message)
	}
	wantReply(t, r, 554, "go away")
	wantSMTP(t, err)
	re := wantErrAs[*protocol.ResponseError](t, err)
	if re.Code != 554 {
		t.Errorf("ResponseError code %d", re.Code)
	}
	srv.Wait(0) // the server saw EOF: the socket was closed
}

func acc03(t *testing.T) {
	srv := newServer(t, []step{S("250 hi"), ExpectEOF()})
	_, _, err := srv.dial(t, protocol.SMTP)
	ce := wantErrAs[*protocol.ConnectError](t, err)
	if ce.Code != 250 || ce.Message != "hi" {
		t.Errorf("ConnectError = (%d, %q)", ce.Code, ce.Message)
	}
	srv.Wait(0)
}

func acc04(t *testing.T) {
	t.Run("host_colon_port", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP")})
		c := newClient(t, protocol.SMTP)
		r, err := c.Connect(fmt.Sprintf("127.0.0.1:%d", srv.port), 0)
		wantNoErr(t, err, "Connect")
		wantReply(t, r, 220, "fake ESMTP")
	})
	t.Run("nonnumeric_port", func(t *testing.T) {
		rec := &recorder{}
		c := newClient(t, protocol.SMTP, withTracer(rec))
		_, err := c.Connect("localhost:abc", 0)
		ve := wantErrAs[*protocol.ValueError](t, err)
		if !strings.Contains(ve.Msg, "nonnumeric port") {
			t.Errorf("error %q does not say nonnumeric port", ve.Msg)
		}
		if n := len(rec.of(protocol.EventConnect)); n != 0 {
			t.Errorf("%d connect events: want no network activity", n)
		}
		if _, err := c.Connect("host:", 0); err == nil {
			t.Errorf(`Connect("host:") succeeded`)
		}
		// A number too large is out of range, not "nonnumeric" (issue 14
		// item 10).
		for _, addr := range []string{"127.0.0.1:99999", "[::1]:70000"} {
			_, err = c.Connect(addr, 0)
			ve = wantErrAs[*protocol.ValueError](t, err)
			if !strings.Contains(ve.Msg, "out of range") || strings.Contains(ve.Msg, "nonnumeric") {
				t.Errorf("%s: error %q, want out of range", addr, ve.Msg)
			}
		}
	})
	t.Run("split_rules", func(t *testing.T) {
		tests := []struct {
			host     string
			port     int
			wantHost string
			wantPort int
			wantErr  bool
		}{
			{"127.0.0.1:2525", 0, "127.0.0.1", 2525, false},
			{"::1", 0, "::1", 0, false}, // two colons: no split, default port
			{"[::1]:2525", 0, "::1", 2525, false},
			{"[::1]", 0, "::1", 0, false},
			{"mx.example", 25, "mx.example", 25, false},
			{"mx.example:2525", 587, "mx.example:2525", 587, false}, // explicit port wins, no split
			{"localhost:abc", 0, "", 0, true},
			{"host:", 0, "", 0, true},
			{"[::1]x", 0, "", 0, true},
			{"[::1]:x", 0, "", 0, true},
		}
		for _, tt := range tests {
			h, p, err := protocol.SplitHostPort(tt.host, tt.port)
			if (err != nil) != tt.wantErr || h != tt.wantHost || p != tt.wantPort {
				t.Errorf("SplitHostPort(%q, %d) = %q, %d, %v; want %q, %d, err=%v", tt.host, tt.port, h, p, err, tt.wantHost, tt.wantPort, tt.wantErr)
			}
		}
		if protocol.SMTP.DefaultPort() != 25 || protocol.SMTPS.DefaultPort() != 465 || protocol.LMTP.DefaultPort() != 2003 {
			t.Errorf("default ports %d/%d/%d", protocol.SMTP.DefaultPort(), protocol.SMTPS.DefaultPort(), protocol.LMTP.DefaultPort())
		}
	})
	t.Run("explicit_port", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP")})
		c := newClient(t, protocol.SMTP)
		_, err := c.Connect("127.0.0.1", srv.port)
		wantNoErr(t, err, "Connect")
	})
}

func acc05(t *testing.T) {
	srv := newServer(t) // no connection may arrive
	for _, tc := range []struct {
		kind    protocol.Kind
		host    string
		network string
	}{
		{protocol.SMTP, "127.0.0.1", "tcp"},
		{protocol.LMTP, "/nonexistent/ehlo.sock", "unix"},
	} {
		rec := &recorder{}
		_, _, err := protocol.Dial(tc.kind, tc.host, srv.port, protocol.Options{LocalHostname: "c.example", Tracer: rec})
		ve := wantErrAs[*protocol.ValueError](t, err)
		if !strings.Contains(ve.Msg, "timeout") {
			t.Errorf("%v: error %q does not mention the timeout", tc.kind, ve.Msg)
		}
		// The connect event fires before the timeout check, as smtplib's
		// audit event does (for SMTP; for a Unix socket ehlo reports it
		// too, where smtplib's LMTP fires none, see case 74).
		ev := rec.of(protocol.EventConnect)
		if len(ev) != 1 || ev[0].Network != tc.network {
			t.Errorf("%v: connect events %+v", tc.kind, ev)
		}
	}
	if n := srv.NumConns(); n != 0 {
		t.Errorf("server saw %d connections, want none", n)
	}
}

// TestTimeoutZeroIsErrTimeoutZero: ErrTimeoutZero's doc says it "is returned when a
// client is configured with a zero timeout", so errors.Is must find it.
func TestTimeoutZeroIsErrTimeoutZero(t *testing.T) {
	_, _, err := protocol.Dial(protocol.SMTP, "127.0.0.1", 1, protocol.Options{LocalHostname: "c.example"})
	if !errors.Is(err, protocol.ErrTimeoutZero) {
		t.Errorf("errors.Is(%v, ErrTimeoutZero) is false", err)
	}
	wantErrAs[*protocol.ValueError](t, err)
}

func acc06(t *testing.T) {
	rec := &recorder{}
	c := newClient(t, protocol.SMTP, withTracer(rec))
	for name, call := range map[string]func() error{
		"Ehlo": func() error { _, err := c.Ehlo(""); return err },
		"Noop": func() error { _, err := c.Noop(); return err },
		"GetReply": func() error {
			_, err := c.GetReply()
			return err
		},
	} {
		err := call()
		sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
		if sd.Msg != "not connected" {
			t.Errorf("%s: %q", name, sd.Msg)
		}
		wantSMTP(t, err)
	}
	if s := rec.sent(); s != "" {
		t.Errorf("sent %q before connecting", s)
	}
}

func acc07(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := newServer(t, []step{
		Do("peer port", func(sc *serverConn) error {
			if got := sc.NetConn().RemoteAddr().(*net.TCPAddr).Port; got != p {
				return fmt.Errorf("peer port %d, want %d", got, p)
			}
			return nil
		}),
		S("220 fake ESMTP"),
	})
	_, _, err = srv.dial(t, protocol.SMTP, func(o *protocol.Options) { o.SourceAddress = fmt.Sprintf("127.0.0.1:%d", p) })
	wantNoErr(t, err, "Dial with source address")
	srv.Conn(0)
}

func acc08(t *testing.T) {
	t.Run("221", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("QUIT"), S("221 bye"), ExpectEOF()})
		c := srv.mustDial(t)
		wantNoErr(t, c.Exit(), "Exit")
		wantClosed(t, c)
		srv.Wait(0)
	})
	t.Run("421", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("QUIT"), S("421 QUIT FAILED"), ExpectEOF()})
		c := srv.mustDial(t)
		err := c.Exit()
		re := wantErrAs[*protocol.ResponseError](t, err)
		if re.Code != 421 || re.Message != "QUIT FAILED" {
			t.Errorf("ResponseError (%d, %q)", re.Code, re.Message)
		}
		wantClosed(t, c)
		srv.Wait(0)
	})
	t.Run("server_gone", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), Close()})
		c := srv.mustDial(t)
		srv.Wait(0)
		if err := c.Exit(); err != nil {
			t.Errorf("Exit on a closed server: %v, want nil", err)
		}
		wantClosed(t, c)
	})
	t.Run("protocol_error_is_returned", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("QUIT"), SRaw("2x1 what\r\n"), ExpectEOF()})
		c := srv.mustDial(t)
		wantErrAs[*protocol.ProtocolError](t, c.Exit())
		wantClosed(t, c)
	})
}

// ---------------------------------------------------------------------------
// Reply parsing

// noopScript greets, expects NOOP and answers raw bytes; the client must
// then close without sending anything.
func noopScript(raw string) []step {
	return []step{S("220 fake ESMTP"), C("noop"), SRaw(raw), ExpectEOF()}
}

func acc09(t *testing.T) {
	// smtplib returns (251, "first\nsecond\nthird"): it never compares the
	// codes of continuation lines. ehlo: inconsistent codes in one reply
	// are a ProtocolError and the connection is closed (security-anchors F6).
	srv := newServer(t, noopScript("250-first\r\n550-second\r\n251 third\r\n"))
	c := srv.mustDial(t)
	_, err := c.Noop()
	pe := wantErrAs[*protocol.ProtocolError](t, err)
	if !strings.Contains(pe.Msg, "inconsistent reply codes (250, 550)") {
		t.Errorf("ProtocolError %q", pe.Msg)
	}
	if string(pe.Line) != "550-second\r\n" {
		t.Errorf("Line = %q", pe.Line)
	}
	wantSMTP(t, err)
	wantClosed(t, c)
}

func acc10(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), SRaw("250-a\n250 b\n")})
	c := srv.mustDial(t, withTracer(rec))
	r, err := c.Noop()
	wantNoErr(t, err, "Noop")
	wantReply(t, r, 250, "a\nb")
	if !rec.hasNote("bare LF") {
		t.Errorf("no note about the bare LF; notes: %q", rec.notes())
	}
}

func acc11(t *testing.T) {
	// smtplib returns (-1, "foo") and leaves "250 bar" for the next NOOP
	// (a desync). ehlo: the malformed code is a ProtocolError, the
	// connection is closed, and the next command says so at once.
	srv := newServer(t, noopScript("2x0-foo\r\n250 bar\r\n"))
	c := srv.mustDial(t)
	_, err := c.Noop()
	pe := wantErrAs[*protocol.ProtocolError](t, err)
	if !strings.Contains(pe.Msg, "malformed reply code") || string(pe.Line) != "2x0-foo\r\n" {
		t.Errorf("ProtocolError %q, Line %q", pe.Msg, pe.Line)
	}
	wantClosed(t, c)
	start := time.Now()
	_, err = c.Noop()
	sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if sd.Msg != "not connected" || time.Since(start) > time.Second {
		t.Errorf("second NOOP: %q after %s", sd.Msg, time.Since(start))
	}
}

func acc12(t *testing.T) {
	// smtplib's int() is lenient: "250OK" gives (250, "K") and "+25 x"
	// gives code 25. ehlo: both are ProtocolErrors (security-anchors F7, F9).
	for _, tc := range []struct{ raw, want string }{
		{"250OK\r\n", "unexpected O after reply code 250"},
		{"+25 x\r\n", "malformed reply code"},
	} {
		t.Run(strings.TrimSpace(tc.raw), func(t *testing.T) {
			srv := newServer(t, noopScript(tc.raw))
			c := srv.mustDial(t)
			_, err := c.Noop()
			pe := wantErrAs[*protocol.ProtocolError](t, err)
			if !strings.Contains(pe.Msg, tc.want) {
				t.Errorf("ProtocolError %q, want it to contain %q", pe.Msg, tc.want)
			}
			wantClosed(t, c)
		})
	}
}

func acc13(t *testing.T) {
	t.Run("8192_accepted", func(t *testing.T) {
		line := "220 " + strings.Repeat("x", 8186) + "\r\n"
		if len(line) != 8192 {
			t.Fatal(len(line))
		}
		srv := newServer(t, []step{SRaw(line)})
		_, r, err := srv.dial(t, protocol.SMTP)
		wantNoErr(t, err, "Dial")
		if r.Code != 220 || len(r.Message) != 8186 {
			t.Errorf("reply code %d, %d bytes of text", r.Code, len(r.Message))
		}
	})
	t.Run("8193_too_long", func(t *testing.T) {
		rec := &recorder{}
		srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), SRaw("250 " + strings.Repeat("x", 8187) + "\r\n"), ExpectEOF()})
		c := srv.mustDial(t, withTracer(rec))
		_, err := c.Noop()
		re := wantErrAs[*protocol.ResponseError](t, err)
		if re.Code != 500 || re.Message != "Line too long" {
			t.Errorf("ResponseError (%d, %q)", re.Code, re.Message)
		}
		wantClosed(t, c)
		if !rec.hasNote("8193+ bytes") {
			t.Errorf("notes %q: want the byte count", rec.notes())
		}
	})
}

func acc14(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), SRaw("250-a\r\n"), Close()})
	c := srv.mustDial(t)
	_, err := c.Noop()
	sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if sd.Msg != "connection unexpectedly closed" {
		t.Errorf("message %q", sd.Msg)
	}
	wantClosed(t, c)
}

func acc15(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), C("noop"), ExpectEOF()})
	c := srv.mustDial(t, withTimeout(300*time.Millisecond))
	start := time.Now()
	_, err := c.Noop()
	el := time.Since(start)
	sd := wantErrAs[*protocol.ServerDisconnectedError](t, err)
	if !strings.HasPrefix(sd.Msg, "connection unexpectedly closed:") {
		t.Errorf("message %q", sd.Msg)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error does not wrap the deadline: %v", sd.Err)
	}
	if el < 250*time.Millisecond || el > 3*time.Second {
		t.Errorf("timed out after %s, want about 300ms", el)
	}
	wantClosed(t, c)
}

// ---------------------------------------------------------------------------
// EHLO/HELO

func acc16(t *testing.T) {
	srv := newServer(t, greet("SIZE 1000", "AUTH=LOGIN PLAIN", "AUTH CRAM-MD5 LOGIN", "8BITMIME", "X_FOO bar", "HELP"))
	c := srv.mustDial(t)
	r, err := c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	if r.Code != 250 {
		t.Fatalf("code %d", r.Code)
	}
	want := map[string]string{"size": "1000", "auth": " LOGIN PLAIN CRAM-MD5 LOGIN", "8bitmime": "", "x": "_FOO bar", "help": ""}
	if got := c.Features(); !mapsEqual(got, want) {
		t.Errorf("features = %q\nwant       %q", got, want)
	}
	if !c.HasExtn("Size") || !c.DoesESMTP() {
		t.Errorf("HasExtn(Size)=%v DoesESMTP=%v", c.HasExtn("Size"), c.DoesESMTP())
	}
	if v, ok := c.Extn("SIZE"); !ok || v != "1000" {
		t.Errorf("Extn(SIZE) = %q, %v", v, ok)
	}
	exts := c.Extensions()
	if len(exts) != 6 || exts[0].Keyword != "SIZE" || exts[1].Keyword != "AUTH" || exts[4].Keyword != "X" {
		t.Errorf("extensions %+v", exts)
	}
	if resp, ok := c.EhloResp(); !ok || !strings.HasPrefix(resp, "fake.example\nSIZE 1000\n") {
		t.Errorf("EhloResp %q %v", resp, ok)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func acc17(t *testing.T) {
	srv := newServer(t, greet("SIZE 5", "SIZE 7"))
	c := srv.mustDial(t)
	_, err := c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	if v, _ := c.Extn("size"); v != "7" {
		t.Errorf("size = %q, want 7", v)
	}
}

func acc18(t *testing.T) {
	srv := newServer(t, []step{
		S("220 fake ESMTP"),
		C("ehlo c.example"), S("502 no ehlo"),
		C("helo c.example"), S("250 hello"),
		C("mail FROM:<a@x>"), S("250 ok"), // no SIZE, no options
		C("rcpt TO:<b@y>"), S("250 ok"), // no options
		C("data"), S("354 go"),
		CData("hi\r\n.\r\n"), S("250 queued"),
	})
	c := srv.mustDial(t)
	refused, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), []string{"BODY=8BITMIME"}, []string{"NOTIFY=NEVER"})
	wantNoErr(t, err, "Sendmail")
	if len(refused) != 0 {
		t.Errorf("refused %v", refused)
	}
	if resp, ok := c.EhloResp(); !ok || resp != "no ehlo" {
		t.Errorf("EhloResp = %q, %v", resp, ok)
	}
	if resp, ok := c.HeloResp(); !ok || resp != "hello" {
		t.Errorf("HeloResp = %q, %v", resp, ok)
	}
	if c.DoesESMTP() {
		t.Errorf("DoesESMTP after HELO fallback")
	}
}

func acc19(t *testing.T) {
	srv := newServer(t, []step{
		S("220 fake ESMTP"),
		C("ehlo c.example"), S("502 no ehlo"),
		C("helo c.example"), S("501 bad"),
		ExpectEOF(),
	})
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	he := wantErrAs[*protocol.HeloError](t, err)
	if he.Code != 501 || he.Message != "bad" {
		t.Errorf("HeloError (%d, %q)", he.Code, he.Message)
	}
	wantSMTP(t, err)
}

func acc20(t *testing.T) {
	srv := newServer(t, []step{S("220 fake ESMTP"), C("ehlo c.example"), S("251-fake.example", "251 SIZE 10")})
	c := srv.mustDial(t)
	wantNoErr(t, c.EhloOrHeloIfNeeded(), "EhloOrHeloIfNeeded")
	if c.DoesESMTP() || len(c.Features()) != 0 {
		t.Errorf("DoesESMTP=%v features=%v, want false and empty", c.DoesESMTP(), c.Features())
	}
	// Greeted: a second call sends nothing (the script would fail).
	wantNoErr(t, c.EhloOrHeloIfNeeded(), "second EhloOrHeloIfNeeded")
}

func acc21(t *testing.T) {
	// smtplib: SMTPServerDisconnected("Server not connected") after the
	// reply (-1, b""). ehlo: a blank line is not a reply, a ProtocolError,
	// and the connection is closed.
	srv := newServer(t, []step{S("220 fake ESMTP"), C("ehlo c.example"), SRaw("\r\n"), ExpectEOF()})
	c := srv.mustDial(t)
	_, err := c.Ehlo("")
	wantErrAs[*protocol.ProtocolError](t, err)
	wantClosed(t, c)
}

func acc22(t *testing.T) {
	t.Run("smtp", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("ehlo c.example"), S("250 ok")})
		c := srv.mustDial(t)
		_, err := c.Ehlo("")
		wantNoErr(t, err, "Ehlo")
	})
	t.Run("lmtp", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake LMTP"), C("lhlo c.example"), S("250 ok")})
		c := srv.mustDialKind(t, protocol.LMTP)
		_, err := c.Ehlo("")
		wantNoErr(t, err, "Ehlo")
		if c.Kind() != protocol.LMTP || c.Kind().String() != "lmtp" {
			t.Errorf("kind %v", c.Kind())
		}
	})
	t.Run("helo", func(t *testing.T) {
		srv := newServer(t, []step{S("220 fake ESMTP"), C("helo c.example"), S("250 ok")})
		c := srv.mustDial(t)
		_, err := c.Helo("")
		wantNoErr(t, err, "Helo")
	})
}

func acc23(t *testing.T) {
	srv := newServer(t, script(greet("SIZE 10", "8BITMIME"), []step{C("ehlo other"), S("250-other.example", "250 PIPELINING")}))
	c := srv.mustDial(t)
	_, err := c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	_, err = c.Ehlo("other")
	wantNoErr(t, err, "second Ehlo")
	if got := c.Features(); !mapsEqual(got, map[string]string{"pipelining": ""}) {
		t.Errorf("features after re-EHLO = %v", got)
	}
	if resp, _ := c.EhloResp(); resp != "other.example\nPIPELINING" {
		t.Errorf("EhloResp %q", resp)
	}
}

// ---------------------------------------------------------------------------
// Simple commands

func acc24(t *testing.T) {
	srv := newServer(t, []step{
		S("220 fake ESMTP"),
		C("vrfy bob@x"), S("252 cannot verify"),
		C("expn staff@x"), S("250 <bob@x>"),
	})
	c := srv.mustDial(t)
	r, err := c.Verify("Bob Smith <bob@x>")
	wantNoErr(t, err, "Verify")
	wantReply(t, r, 252, "cannot verify")
	_, err = c.Expn("Staff <staff@x>")
	wantNoErr(t, err, "Expn")
}

func acc25(t *testing.T) {
	srv := newServer(t, []step{
		S("220 fake ESMTP"),
		C("help"), S("214-help1", "214 help2"),
		C("help MAIL"), S("214 MAIL FROM:<addr>"),
	})
	c := srv.mustDial(t)
	txt, err := c.Help("")
	wantNoErr(t, err, "Help")
	if txt != "help1\nhelp2" {
		t.Errorf("Help = %q", txt)
	}
	txt, err = c.Help("MAIL")
	wantNoErr(t, err, "Help MAIL")
	if txt != "MAIL FROM:<addr>" {
		t.Errorf("Help MAIL = %q", txt)
	}
}

func acc26(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{S("220 fake ESMTP")}) // and nothing more: the script fails on any byte
	c := srv.mustDial(t, withTracer(rec), withHostname("hi\nX-INJECTED"))

	_, err := c.Docmd("NOOP\r\nRSET", "")
	ve := wantErrAs[*protocol.ValueError](t, err)
	if !strings.Contains(ve.Msg, "prohibited newline characters") || !strings.Contains(ve.Msg, `NOOP\r\nRSET`) {
		t.Errorf("Docmd error %q: want smtplib's text with \\r\\n escaped", ve.Msg)
	}
	if strings.ContainsAny(ve.Msg, "\r\n") {
		t.Errorf("error text carries a raw CR/LF: %q", ve.Msg)
	}
	if errors.Is(err, protocol.ErrSMTP) {
		t.Errorf("a ValueError must not match ErrSMTP")
	}

	_, err = c.Mail("a@x", "X\nY")
	ve = wantErrAs[*protocol.ValueError](t, err)
	if !strings.Contains(ve.Msg, "prohibited newline characters") {
		t.Errorf("Mail option error %q", ve.Msg)
	}

	_, err = c.Ehlo("") // the local hostname carries the LF
	ve = wantErrAs[*protocol.ValueError](t, err)
	if !strings.Contains(ve.Msg, `hi\nX-INJECTED`) {
		t.Errorf("Ehlo error %q", ve.Msg)
	}

	_, err = c.Rcpt("b@y>\r\nDATA")
	wantErrAs[*protocol.ValueError](t, err)
	_, err = c.Docmd("NOOP\x00", "")
	ve = wantErrAs[*protocol.ValueError](t, err)
	if !strings.Contains(ve.Msg, "NUL") {
		t.Errorf("NUL error %q", ve.Msg)
	}
	if err := c.Putcmd("AUTH", "PLAIN dXNlcgBwYXNz\r\nRSET"); err != nil {
		// The credentials typed into a raw AUTH line are not echoed.
		if strings.Contains(err.Error(), "dXNlcgBwYXNz") {
			t.Errorf("AUTH argument echoed in %q", err)
		}
	} else {
		t.Errorf("Putcmd with CRLF succeeded")
	}

	if s := rec.sent(); s != "" {
		t.Errorf("bytes reached the server: %q", s)
	}
	wantOpen(t, c)
}

func acc27(t *testing.T) {
	srv := newServer(t, []step{
		S("220 fake ESMTP"),
		C("ehlo c.example"), S("502 no"),
		C("helo c.example"), S("250 hello"),
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("250 ok"),
	})
	c := srv.mustDial(t)
	wantNoErr(t, c.EhloOrHeloIfNeeded(), "greeting")
	_, err := c.Mail("a@x", "BODY=8BITMIME")
	wantNoErr(t, err, "Mail")
	_, err = c.Rcpt("b@y", "NOTIFY=NEVER")
	wantNoErr(t, err, "Rcpt")
	if st := c.State(); st.Phase != protocol.PhaseRcpt || st.Recipients != 1 {
		t.Errorf("state %+v", st)
	}
}

func acc28(t *testing.T) {
	for in, want := range map[string]string{
		"<>":         "<>",
		"":           "<>",
		"Name <a@b>": "<a@b>",
		"a@b (c)":    "<a@b>",
		"@@@":        "<@@@>",
		"<foo":       "<foo>",
		"a@b":        "<a@b>",
		"<a@b>":      "<a@b>",
		`"q" <a@b>`:  "<a@b>",
	} {
		if got := protocol.QuoteAddr(in); got != want {
			t.Errorf("QuoteAddr(%q) = %q, want %q", in, got, want)
		}
	}
	// ehlo's deliberate difference (security-anchors D5): the address
	// checks refuse what smtplib's quoteaddr would silently shorten.
	for _, bad := range []string{"x@y> NOTIFY=SUCCESS", "a@b,c@d", "x@y\r\nRSET", "bad address"} {
		if err := protocol.ValidateAddress(bad); err == nil {
			t.Errorf("ValidateAddress(%q) accepted", bad)
		}
	}
}

// ---------------------------------------------------------------------------
// sendmail

func acc29(t *testing.T) {
	srv := newServer(t, script(greet("SIZE"), []step{
		C("mail FROM:<a@x> size=25"), S("250 ok"),
		C("rcpt TO:<good@y>"), S("250 ok"),
		C("rcpt TO:<bad@y>"), S("550 no such user"),
		C("data"), S("354 go"),
		CData("Subject: t\r\n\r\n..line\r\nbody\r\n.\r\n"), S("250 queued"),
	}))
	c := srv.mustDial(t)
	refused, err := c.Sendmail("a@x", []string{"good@y", "bad@y"}, strings.NewReader("Subject: t\n\n.line\nbody"), nil, nil)
	wantNoErr(t, err, "Sendmail")
	if len(refused) != 1 || refused["bad@y"] != (protocol.Reply{Code: 550, Message: "no such user"}) {
		t.Errorf("refused = %v", refused)
	}
	wantOpen(t, c)
	if st := c.State(); st.Phase != protocol.PhaseHello || st.Recipients != 0 {
		t.Errorf("state after the transaction %+v", st)
	}
}

func acc30(t *testing.T) {
	srv := newServer(t, script(greet(), []step{C("mail FROM:<a@x>"), S("550 no"), C("rset"), S("250 ok")}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	se := wantErrAs[*protocol.SenderRefusedError](t, err)
	if se.Code != 550 || se.Message != "no" || se.Sender != "a@x" {
		t.Errorf("SenderRefusedError %+v", se)
	}
	wantErrAs[*protocol.ResponseError](t, err)
	wantSMTP(t, err)
	wantOpen(t, c)
}

func acc31(t *testing.T) {
	srv := newServer(t, script(greet(), []step{C("mail FROM:<a@x>"), S("421 closing"), ExpectEOF()}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	se := wantErrAs[*protocol.SenderRefusedError](t, err)
	if se.Code != 421 || se.Sender != "a@x" {
		t.Errorf("SenderRefusedError %+v", se)
	}
	wantClosed(t, c)
	srv.Wait(0)
}

func acc32(t *testing.T) {
	srv := newServer(t, script(greet(), []step{C("mail FROM:<a@x>"), S("451 try later"), Close()}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	se := wantErrAs[*protocol.SenderRefusedError](t, err)
	if se.Code != 451 {
		t.Errorf("SenderRefusedError %+v (the RSET's disconnect must not mask it)", se)
	}
	wantClosed(t, c)
}

func acc33(t *testing.T) {
	srv := newServer(t, script(greet(), []step{
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("550 no b"),
		C("rcpt TO:<c@y>"), S("553 no c"),
		C("rset"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	refused, err := c.Sendmail("a@x", []string{"b@y", "c@y"}, strings.NewReader("hi"), nil, nil)
	rr := wantErrAs[*protocol.RecipientsRefusedError](t, err)
	want := map[string]protocol.Reply{"b@y": {Code: 550, Message: "no b"}, "c@y": {Code: 553, Message: "no c"}}
	if len(rr.Recipients) != 2 || rr.Recipients["b@y"] != want["b@y"] || rr.Recipients["c@y"] != want["c@y"] {
		t.Errorf("Recipients %v", rr.Recipients)
	}
	if len(refused) != 2 {
		t.Errorf("returned map %v", refused)
	}
	var re *protocol.ResponseError
	if errors.As(err, &re) {
		t.Errorf("RecipientsRefusedError carries a code, like smtplib's it must not")
	}
	wantSMTP(t, err)
	if !strings.Contains(err.Error(), "b@y: 550 no b") {
		t.Errorf("Error() = %q", err)
	}
	wantOpen(t, c)
}

func acc34(t *testing.T) {
	srv := newServer(t, script(greet(), []step{
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("251 will forward"),
		C("rcpt TO:<c@y>"), S("421 closing"),
		ExpectEOF(),
	}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y", "c@y", "d@y"}, strings.NewReader("hi"), nil, nil)
	rr := wantErrAs[*protocol.RecipientsRefusedError](t, err)
	if len(rr.Recipients) != 1 || rr.Recipients["c@y"] != (protocol.Reply{Code: 421, Message: "closing"}) {
		t.Errorf("Recipients %v", rr.Recipients)
	}
	wantClosed(t, c)
	srv.Wait(0)
}

func acc35(t *testing.T) {
	srv := newServer(t, script(greet(), []step{
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("252 cannot verify"),
		C("rcpt TO:<c@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("hi\r\n.\r\n"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	refused, err := c.Sendmail("a@x", []string{"b@y", "c@y"}, strings.NewReader("hi"), nil, nil)
	wantNoErr(t, err, "Sendmail")
	if refused["b@y"].Code != 252 || len(refused) != 1 {
		t.Errorf("refused %v", refused)
	}
}

func acc36(t *testing.T) {
	srv := newServer(t, script(greet(), []step{C("mail FROM:<a@x>"), S("250 ok"), C("rset"), S("250 ok")}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", nil, strings.NewReader("hi"), nil, nil)
	rr := wantErrAs[*protocol.RecipientsRefusedError](t, err)
	if len(rr.Recipients) != 0 {
		t.Errorf("Recipients %v", rr.Recipients)
	}
	if err.Error() == "" {
		t.Errorf("empty error text")
	}
}

// dataTxn is a transaction up to the DATA command.
func dataTxn() []step {
	return []step{C("mail FROM:<a@x>"), S("250 ok"), C("rcpt TO:<b@y>"), S("250 ok"), C("data")}
}

func acc37(t *testing.T) {
	srv := newServer(t, script(greet(), dataTxn(), []step{S("554 no data")}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	de := wantErrAs[*protocol.DataError](t, err)
	if de.Code != 554 || de.Message != "no data" {
		t.Errorf("DataError (%d, %q)", de.Code, de.Message)
	}
	wantSMTP(t, err)
	wantOpen(t, c) // and no RSET: the script ends here
}

func acc38(t *testing.T) {
	// smtplib leaves the connection open after 421 to DATA (gh-132796);
	// ehlo closes it, as it does for every other 421.
	srv := newServer(t, script(greet(), dataTxn(), []step{S("421 closing"), ExpectEOF()}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	de := wantErrAs[*protocol.DataError](t, err)
	if de.Code != 421 {
		t.Errorf("DataError code %d", de.Code)
	}
	wantClosed(t, c)
}

func acc39(t *testing.T) {
	srv := newServer(t, script(greet(), dataTxn(), []step{
		S("354 go"), CData("hi\r\n.\r\n"), S("552 too big"),
		C("rset"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	de := wantErrAs[*protocol.DataError](t, err)
	if de.Code != 552 || de.Message != "too big" {
		t.Errorf("DataError (%d, %q)", de.Code, de.Message)
	}
	wantOpen(t, c)
}

func acc40(t *testing.T) {
	srv := newServer(t, script(greet(), dataTxn(), []step{
		S("354 go"), CData("hi\r\n.\r\n"), S("421 closing"), ExpectEOF(),
	}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	de := wantErrAs[*protocol.DataError](t, err)
	if de.Code != 421 {
		t.Errorf("DataError code %d", de.Code)
	}
	wantClosed(t, c)
}

// oneTxn is a whole accepted transaction with the given MAIL line and payload.
func oneTxn(mail, payload string) []step {
	return []step{
		C(mail), S("250 ok"), C("rcpt TO:<b@y>"), S("250 ok"),
		C("data"), S("354 go"), CData(payload), S("250 queued"),
	}
}

func acc41(t *testing.T) {
	t.Run("advertised", func(t *testing.T) {
		// "a\n.b\n" is 7 bytes after CRLF normalisation, 8 after stuffing.
		srv := newServer(t, script(greet("SIZE 1000"), oneTxn("mail FROM:<a@x> size=7", "a\r\n..b\r\n.\r\n")))
		c := srv.mustDial(t)
		_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("a\n.b\n"), nil, nil)
		wantNoErr(t, err, "Sendmail")
	})
	t.Run("not_advertised", func(t *testing.T) {
		srv := newServer(t, script(greet("8BITMIME"), oneTxn("mail FROM:<a@x>", "a\r\n..b\r\n.\r\n")))
		c := srv.mustDial(t)
		_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("a\n.b\n"), nil, nil)
		wantNoErr(t, err, "Sendmail")
	})
	t.Run("unknown_size_stream", func(t *testing.T) {
		// ehlo: a message that cannot be read twice (stdin) has no known
		// size, so no SIZE= is announced (smtplib always has the whole
		// message in memory).
		srv := newServer(t, script(greet("SIZE 1000"), oneTxn("mail FROM:<a@x>", "a\r\n..b\r\n.\r\n")))
		c := srv.mustDial(t)
		_, err := c.Sendmail("a@x", []string{"b@y"}, streamOf("a\n.b\n"), nil, nil)
		wantNoErr(t, err, "Sendmail")
	})
	t.Run("bytes_reader_mid_stream", func(t *testing.T) {
		// The size counts from the reader's current position.
		srv := newServer(t, script(greet("SIZE 1000"), oneTxn("mail FROM:<a@x> size=3", "xyz\r\n.\r\n")))
		c := srv.mustDial(t)
		r := bytes.NewReader([]byte("skip:xyz"))
		r.Seek(5, 0)
		_, err := c.Sendmail("a@x", []string{"b@y"}, r, nil, nil)
		wantNoErr(t, err, "Sendmail")
	})
}

func acc42(t *testing.T) {
	srv := newServer(t, script(greet("DSN"), []step{
		C("mail FROM:<a@x> BODY=8BITMIME RET=HDRS"), S("250 ok"),
		C("rcpt TO:<b@y> NOTIFY=SUCCESS,FAILURE"), S("250 ok"),
		C("rcpt TO:<c@y> NOTIFY=SUCCESS,FAILURE"), S("250 ok"),
		C("data"), S("354 go"), CData("hi\r\n.\r\n"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y", "c@y"}, strings.NewReader("hi"),
		[]string{"BODY=8BITMIME", "RET=HDRS"}, []string{"NOTIFY=SUCCESS,FAILURE"})
	wantNoErr(t, err, "Sendmail")
}

func acc43(t *testing.T) {
	srv := newServer(t, greet("8BITMIME"))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), []string{"SMTPUTF8"}, nil)
	ns := wantErrAs[*protocol.NotSupportedError](t, err)
	if ns.Msg != "SMTPUTF8 not supported by server" {
		t.Errorf("NotSupportedError %q", ns.Msg)
	}
	wantSMTP(t, err)
	if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
		t.Errorf("wire %q, want only EHLO", got)
	}
}

func acc44(t *testing.T) {
	srv := newServer(t, script(greet("SMTPUTF8", "8BITMIME"), []step{
		C("mail FROM:<jö@x> SMTPUTF8"), S("250 ok"),
		C("rcpt TO:<ü@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("hi\r\n.\r\n"), S("250 ok"),
		C("rset"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	_, err := c.Sendmail("jö@x", []string{"ü@y"}, strings.NewReader("hi"), []string{"SMTPUTF8"}, nil)
	wantNoErr(t, err, "Sendmail")
	// smtplib stays in UTF-8 until rset(); ehlo leaves it with the
	// transaction (smtplib-differences row 33): ASCII again, nothing sent.
	_, err = c.Verify("ö@x")
	wantErrAs[*protocol.ValueError](t, err)
	_, err = c.Rset()
	wantNoErr(t, err, "Rset")
	_, err = c.Verify("ö@x")
	wantErrAs[*protocol.ValueError](t, err)
}

func acc45(t *testing.T) {
	// smtplib: a str message with non-ASCII raises UnicodeEncodeError
	// after EHLO, before MAIL. Go messages are bytes: ehlo sends them as
	// smtplib's bytes path does (8-bit, unchanged but for line endings).
	msg := "Subject: caf\u00e9\n\nna\u00efve\n"
	srv := newServer(t, script(greet(), oneTxn("mail FROM:<a@x>", "Subject: caf\u00e9\r\n\r\nna\u00efve\r\n.\r\n")))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader(msg), nil, nil)
	wantNoErr(t, err, "Sendmail")
}

func acc46(t *testing.T) {
	srv := newServer(t, script(greet(),
		oneTxn("mail FROM:<>", "bounce\r\n.\r\n"),
		oneTxn("mail FROM:<>", "bounce\r\n.\r\n")))
	c := srv.mustDial(t)
	for _, from := range []string{"<>", ""} {
		_, err := c.Sendmail(from, []string{"b@y"}, strings.NewReader("bounce"), nil, nil)
		wantNoErr(t, err, fmt.Sprintf("Sendmail(%q)", from))
	}
}

// dataCase sends one message and checks the exact DATA payload.
func dataCase(t *testing.T, msg, payload string) {
	t.Helper()
	srv := newServer(t, script(greet(), oneTxn("mail FROM:<a@x>", payload)))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, bytes.NewReader([]byte(msg)), nil, nil)
	wantNoErr(t, err, "Sendmail")
}

func acc47(t *testing.T) {
	// smtplib sends bytes untouched: "a\n..b\nc\n\r\n.\r\n". ehlo
	// normalises every input (security-anchors §2.2, SMTP smuggling).
	dataCase(t, "a\n.b\nc\n", "a\r\n..b\r\nc\r\n.\r\n")
}

func acc48(t *testing.T) {
	dataCase(t, "a\r.\rc\r\n.\r\n", "a\r\n..\r\nc\r\n..\r\n.\r\n")
}

func acc49(t *testing.T) {
	srv := newServer(t, script(greet("SIZE"), oneTxn("mail FROM:<a@x> size=0", "\r\n.\r\n")))
	c := srv.mustDial(t)
	_, err := c.Sendmail("a@x", []string{"b@y"}, strings.NewReader(""), nil, nil)
	wantNoErr(t, err, "Sendmail")
}

func acc50(t *testing.T) {
	// smtplib sends bytes "a\r.\r\nb" unchanged: the dot after a bare CR
	// is not stuffed. ehlo: the bare CR is a line end, so the dot is.
	dataCase(t, "a\r.\r\nb", "a\r\n..\r\nb\r\n.\r\n")
}

// ---------------------------------------------------------------------------
// send_message

func sendMessageCase(t *testing.T, ext []string, steps []step, msg string) (map[string]protocol.Reply, error) {
	t.Helper()
	srv := newServer(t, script(greet(ext...), steps))
	c := srv.mustDial(t)
	return c.SendMessage(strings.NewReader(msg), nil, nil, nil)
}

func acc67(t *testing.T) {
	msg := "From: A <a@x>\r\nTo: b@y, C <c@y>\r\nCc: d@y\r\nBcc: e@y\r\nSubject: s\r\n\r\nbody\r\n"
	orig := []byte(msg)
	srv := newServer(t, script(greet(), []step{
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("250 ok"),
		C("rcpt TO:<c@y>"), S("250 ok"),
		C("rcpt TO:<e@y>"), S("250 ok"),
		C("rcpt TO:<d@y>"), S("250 ok"),
		C("data"), S("354 go"),
		CData("From: A <a@x>\r\nTo: b@y, C <c@y>\r\nCc: d@y\r\nSubject: s\r\n\r\nbody\r\n.\r\n"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	_, err := c.SendMessage(bytes.NewReader(orig), nil, nil, nil)
	wantNoErr(t, err, "SendMessage")
	if string(orig) != msg {
		t.Errorf("the caller's message was changed")
	}
}

func acc68(t *testing.T) {
	_, err := sendMessageCase(t, nil, oneTxn("mail FROM:<s@x>", "From: a@x\r\nSender: S <s@x>\r\nTo: b@y\r\n\r\nhi\r\n.\r\n"),
		"From: a@x\r\nSender: S <s@x>\r\nTo: b@y\r\n\r\nhi\r\n")
	wantNoErr(t, err, "SendMessage")
}

func acc69(t *testing.T) {
	msg := "From: a@x\r\nTo: o@y\r\nBcc: ob@y\r\n" +
		"Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-From: r@x\r\nResent-To: t@y\r\nResent-Cc: u@y\r\nResent-Bcc: v@y,\r\n w@y\r\n" +
		"\r\nhi\r\n"
	_, err := sendMessageCase(t, nil, []step{
		C("mail FROM:<r@x>"), S("250 ok"),
		C("rcpt TO:<t@y>"), S("250 ok"),
		C("rcpt TO:<v@y>"), S("250 ok"),
		C("rcpt TO:<w@y>"), S("250 ok"),
		C("rcpt TO:<u@y>"), S("250 ok"),
		C("data"), S("354 go"),
		// Both Bcc and Resent-Bcc are gone, folded line included.
		CData("From: a@x\r\nTo: o@y\r\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nResent-From: r@x\r\nResent-To: t@y\r\nResent-Cc: u@y\r\n\r\nhi\r\n.\r\n"),
		S("250 ok"),
	}, msg)
	wantNoErr(t, err, "SendMessage")
}

func acc70(t *testing.T) {
	msg := "From: a@x\r\nTo: b@y\r\nResent-Date: x\r\nResent-To: c@y\r\nResent-Date: y\r\n\r\nhi\r\n"
	srv := newServer(t, greet()) // EHLO, then nothing
	c := srv.mustDial(t)
	_, err := c.SendMessage(strings.NewReader(msg), nil, nil, nil)
	ve := wantErrAs[*protocol.ValueError](t, err)
	if !strings.Contains(ve.Msg, "more than one 'Resent-' header block") {
		t.Errorf("ValueError %q", ve.Msg)
	}
	if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
		t.Errorf("wire %q: EHLO first, then nothing", got)
	}
}

func acc71(t *testing.T) {
	msg := "From: J\u00f6 <j\u00f6@x>\r\nTo: b@y\r\nSubject: gr\u00fc\u00dfe\r\n\r\nhi\r\n"
	t.Run("without_smtputf8", func(t *testing.T) {
		srv := newServer(t, greet("8BITMIME"))
		c := srv.mustDial(t)
		_, err := c.SendMessage(strings.NewReader(msg), nil, nil, nil)
		ns := wantErrAs[*protocol.NotSupportedError](t, err)
		if !strings.Contains(ns.Msg, "SMTPUTF8") {
			t.Errorf("NotSupportedError %q", ns.Msg)
		}
		if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
			t.Errorf("wire %q", got)
		}
	})
	t.Run("with_smtputf8", func(t *testing.T) {
		_, err := sendMessageCase(t, []string{"SMTPUTF8", "8BITMIME"}, []step{
			C("mail FROM:<j\u00f6@x> SMTPUTF8 BODY=8BITMIME"), S("250 ok"),
			C("rcpt TO:<b@y>"), S("250 ok"),
			C("data"), S("354 go"),
			CData("From: J\u00f6 <j\u00f6@x>\r\nTo: b@y\r\nSubject: gr\u00fc\u00dfe\r\n\r\nhi\r\n.\r\n"), S("250 ok"),
		}, msg)
		wantNoErr(t, err, "SendMessage")
	})
	t.Run("caller_options_first", func(t *testing.T) {
		srv := newServer(t, script(greet("SMTPUTF8", "8BITMIME", "DSN"), []step{
			C("mail FROM:<j\u00f6@x> RET=HDRS SMTPUTF8 BODY=8BITMIME"), S("250 ok"),
			C("rcpt TO:<b@y> NOTIFY=NEVER"), S("250 ok"),
			C("data"), S("354 go"),
			CData("From: J\u00f6 <j\u00f6@x>\r\nTo: b@y\r\nSubject: gr\u00fc\u00dfe\r\n\r\nhi\r\n.\r\n"), S("250 ok"),
		}))
		c := srv.mustDial(t)
		opts := []string{"RET=HDRS"}
		_, err := c.SendMessage(strings.NewReader(msg), nil, opts, []string{"NOTIFY=NEVER"})
		wantNoErr(t, err, "SendMessage")
		if len(opts) != 1 {
			t.Errorf("caller's options mutated: %v", opts)
		}
	})
}

func acc72(t *testing.T) {
	_, err := sendMessageCase(t, nil, []step{
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<>"), S("550 no"),
		C("rcpt TO:<e@y>"), S("250 ok"),
		C("data"), S("354 go"),
		CData("From: a@x\r\nTo: undisclosed-recipients:;\r\n\r\nhi\r\n.\r\n"), S("250 ok"),
	}, "From: a@x\r\nTo: undisclosed-recipients:;\r\nBcc: e@y\r\n\r\nhi\r\n")
	wantNoErr(t, err, "SendMessage")
}

// ---------------------------------------------------------------------------
// QUIT, LMTP, debug, trace

func acc73(t *testing.T) {
	srv := newServer(t,
		script(greet("SIZE 10"), []step{C("quit"), S("221 bye"), ExpectEOF()}),
		script(greet("SIZE 20"), []step{C("quit"), S("500 what"), ExpectEOF()}),
	)
	c := srv.mustDial(t)
	_, err := c.Ehlo("")
	wantNoErr(t, err, "Ehlo")
	r, err := c.Quit()
	wantNoErr(t, err, "Quit")
	wantReply(t, r, 221, "bye")
	if len(c.Features()) != 0 || c.DoesESMTP() {
		t.Errorf("after quit: features %v, DoesESMTP %v", c.Features(), c.DoesESMTP())
	}
	if _, ok := c.EhloResp(); ok {
		t.Errorf("EhloResp survives quit")
	}
	wantClosed(t, c)
	_, err = c.Connect("127.0.0.1", srv.port)
	wantNoErr(t, err, "reconnect")
	wantNoErr(t, c.EhloOrHeloIfNeeded(), "greeting again")
	if v, _ := c.Extn("size"); v != "20" {
		t.Errorf("size after reconnect %q", v)
	}
	r, err = c.Quit()
	wantNoErr(t, err, "Quit answered 500")
	wantReply(t, r, 500, "what")
	wantClosed(t, c)
}

func acc74(t *testing.T) {
	t.Run("connect", func(t *testing.T) {
		rec := &recorder{}
		srv := newUnixServer(t, []step{S("220 lmtp ready"), C("lhlo c.example"), S("250-lmtp.example", "250 PIPELINING")})
		c, r, err := protocol.Dial(protocol.LMTP, srv.addr, 0, protocol.Options{LocalHostname: "c.example", Timeout: 3 * time.Second, Tracer: rec})
		wantNoErr(t, err, "Dial unix")
		t.Cleanup(func() { c.Close() })
		wantReply(t, r, 220, "lmtp ready")
		_, err = c.Ehlo("")
		wantNoErr(t, err, "LHLO")
		// smtplib fires no connect audit event for a Unix socket; ehlo's
		// tracer reports the connect with Network "unix" and the path.
		ev := rec.of(protocol.EventConnect)
		if len(ev) != 1 || ev[0].Network != "unix" || ev[0].Addr != srv.addr {
			t.Errorf("connect events %+v", ev)
		}
		// smtplib leaves the timeout unset by default; ehlo requires one
		// (Options.Timeout), so there is no "unset" case to test.
	})
	t.Run("missing_socket", func(t *testing.T) {
		c := newClient(t, protocol.LMTP)
		_, err := c.Connect(t.TempDir()+"/missing.sock", 0)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v (%T), want file-not-found", err, err)
		}
		wantClosed(t, c)
	})
}

func acc75(t *testing.T) {
	// smtplib reads one reply after the final dot and the second stays
	// buffered for the next command (gh-76984). ehlo reads one reply per
	// accepted recipient (RFC 2033) and reports each.
	srv := newUnixServer(t, []step{
		S("220 lmtp ready"),
		C("lhlo c.example"), S("250 lmtp.example"),
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<r1@y>"), S("250 ok"),
		C("rcpt TO:<r2@y>"), S("250 ok"),
		C("rcpt TO:<r3@y>"), S("550 no such user"),
		C("data"), S("354 go"),
		CData("hi\r\n.\r\n"),
		S("250 2.0.0 <r1@y> delivered", "452 4.2.2 <r2@y> mailbox full"),
		C("noop"), S("250 2.0.0 ok"),
	})
	c, _, err := protocol.Dial(protocol.LMTP, srv.addr, 0, clientOpts())
	wantNoErr(t, err, "Dial")
	t.Cleanup(func() { c.Close() })
	refused, err := c.Sendmail("a@x", []string{"r1@y", "r2@y", "r3@y"}, strings.NewReader("hi"), nil, nil)
	wantNoErr(t, err, "Sendmail")
	if len(refused) != 2 || refused["r2@y"].Code != 452 || refused["r3@y"].Code != 550 {
		t.Errorf("refused %v", refused)
	}
	got := c.LMTPReplies()
	want := []protocol.RecipientReply{
		{Recipient: "r1@y", Reply: protocol.Reply{Code: 250, Message: "2.0.0 <r1@y> delivered"}},
		{Recipient: "r2@y", Reply: protocol.Reply{Code: 452, Message: "4.2.2 <r2@y> mailbox full"}},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("LMTPReplies = %+v", got)
	}
	r, err := c.Noop()
	wantNoErr(t, err, "Noop after LMTP DATA")
	wantReply(t, r, 250, "2.0.0 ok") // its own reply, not the second delivery status
}

// debugSession runs the session of cases 76/77 and returns the debug output.
func debugSession(t *testing.T, level int) (string, int) {
	srv := newServer(t, script(greet("AUTH PLAIN"), []step{
		C("AUTH PLAIN AHVzZXIAcGFzcw=="), S("235 ok"),
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("250 ok"),
		C("data"), S("354 go"),
		CData("hi\r\n.\r\n"), S("250 queued"),
	}))
	var out bytes.Buffer
	c := newClient(t, protocol.SMTP, withCleartext())
	c.SetDebugLevel(level, &out)
	_, err := c.Connect("127.0.0.1", srv.port)
	wantNoErr(t, err, "Connect")
	_, err = c.Login("user", "pass", true)
	wantNoErr(t, err, "Login")
	_, err = c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	wantNoErr(t, err, "Sendmail")
	return out.String(), srv.port
}

func debugWant(port int) string {
	return strings.Join([]string{
		fmt.Sprintf("connect: to ('127.0.0.1', %d) None", port),
		`reply: b'220 fake ESMTP\r\n'`,
		`reply: retcode (220); Msg: b'fake ESMTP'`,
		`connect: b'fake ESMTP'`,
		`send: 'ehlo c.example\r\n'`,
		`reply: b'250-fake.example\r\n'`,
		`reply: b'250 AUTH PLAIN\r\n'`,
		`reply: retcode (250); Msg: b'fake.example\nAUTH PLAIN'`,
		// smtplib prints the credentials here; ehlo redacts them.
		`send: 'AUTH PLAIN [redacted]\r\n'`,
		`reply: b'235 ok\r\n'`,
		`reply: retcode (235); Msg: b'ok'`,
		`send: 'mail FROM:<a@x>\r\n'`,
		`reply: b'250 ok\r\n'`,
		`reply: retcode (250); Msg: b'ok'`,
		`send: 'rcpt TO:<b@y>\r\n'`,
		`reply: b'250 ok\r\n'`,
		`reply: retcode (250); Msg: b'ok'`,
		`send: 'data\r\n'`,
		`reply: b'354 go\r\n'`,
		`reply: retcode (354); Msg: b'go'`,
		`data: (354, b'go')`,
		`send: b'hi\r\n.\r\n'`,
		`reply: b'250 queued\r\n'`,
		`reply: retcode (250); Msg: b'queued'`,
		`data: (250, b'queued')`,
	}, "\n") + "\n"
}

func acc76(t *testing.T) {
	got, port := debugSession(t, 1)
	if want := debugWant(port); got != want {
		t.Errorf("debug output differs\n got:\n%s\nwant:\n%s", got, want)
	}
	for _, secret := range []string{"pass", "AHVzZXIAcGFzcw==", "cGFzcw"} {
		if strings.Contains(got, secret) {
			t.Errorf("debug output contains the credential %q", secret)
		}
	}
}

func acc77(t *testing.T) {
	got, port := debugSession(t, 2)
	stamp := regexp.MustCompile(`^\d{2}:\d{2}:\d{2}(\.\d{6})? `)
	var stripped []string
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		loc := stamp.FindStringIndex(line)
		if loc == nil {
			t.Errorf("line without HH:MM:SS.ffffff prefix: %q", line)
			continue
		}
		stripped = append(stripped, line[loc[1]:])
	}
	if s := strings.Join(stripped, "\n") + "\n"; s != debugWant(port) {
		t.Errorf("level 2 lines (prefix removed) differ from level 1\n got:\n%s\nwant:\n%s", s, debugWant(port))
	}
	if strings.Contains(got, "AHVzZXIAcGFzcw==") {
		t.Errorf("credentials in level 2 output")
	}
}

func acc78(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, script([]step{S("220 fake ESMTP"), C("noop"), S("250 ok"), C("ehlo c.example"), S("250-fake.example", "250 SIZE")}, oneTxn("mail FROM:<a@x> size=2", "hi\r\n.\r\n")))
	c := srv.mustDial(t, withTracer(rec))
	_, err := c.Noop() // before EHLO: the transaction greets
	wantNoErr(t, err, "Noop")
	_, err = c.Sendmail("a@x", []string{"b@y"}, strings.NewReader("hi"), nil, nil)
	wantNoErr(t, err, "Sendmail")
	c.Close()
	srv.Wait(0)

	evs := rec.all()
	if len(evs) == 0 || evs[0].Kind != protocol.EventConnect || evs[0].Network != "tcp" || evs[0].Addr != fmt.Sprintf("127.0.0.1:%d", srv.port) {
		t.Fatalf("first event %+v, want the connect event before dialling", evs[0])
	}
	var sends []string
	for _, e := range rec.of(protocol.EventSend) {
		sends = append(sends, string(e.Data))
		if e.TLS {
			t.Errorf("send event marked TLS on a plain connection")
		}
		if e.Time.IsZero() {
			t.Errorf("event without time")
		}
	}
	want := []string{"noop\r\n", "ehlo c.example\r\n", "mail FROM:<a@x> size=2\r\n", "rcpt TO:<b@y>\r\n", "data\r\n", "hi\r\n.\r\n"}
	if strings.Join(sends, "|") != strings.Join(want, "|") {
		t.Errorf("send events %q\nwant %q", sends, want)
	}
	if got := srv.Conn(0).All(); got != strings.Join(want, "") {
		t.Errorf("the tracer's bytes differ from the wire: %q", got)
	}
	if rec.received() != "220 fake ESMTP\r\n250 ok\r\n250-fake.example\r\n250 SIZE\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n" {
		t.Errorf("recv events %q", rec.received())
	}
	if last := evs[len(evs)-1]; last.Kind != protocol.EventClose {
		t.Errorf("last event %v, want close", last.Kind)
	}
	// State events follow the state machine.
	var phases []string
	for _, e := range rec.of(protocol.EventState) {
		phases = append(phases, e.State.Phase.String())
	}
	if got := strings.Join(phases, ","); got != "connected,greeted,hello,mail,rcpt,data,hello" {
		t.Errorf("state events %s", got)
	}
	for k := protocol.EventConnect; k <= protocol.EventClose+1; k++ {
		if k.String() == "" {
			t.Errorf("EventKind %d has no name", k)
		}
	}
}

// Python's repr() escapes every non-printable character of a str
// (\xa0, \xad, \u200b, \u202e…), so smtplib's "send:" lines never carry
// them raw; the debug output must match that character for character, and
// a bidi override must not reach the terminal (security-anchors H3).
func TestDebugReprEscapesNonPrintable(t *testing.T) {
	srv := newServer(t, script(greet("SMTPUTF8"), []step{C("mail FROM:<\u202e@x> SMTPUTF8"), S("250 ok")}))
	var out bytes.Buffer
	c := srv.mustDial(t)
	c.SetDebugLevel(1, &out)
	wantNoErr(t, c.EhloOrHeloIfNeeded(), "EHLO")
	_, err := c.Mail("\u202e@x", "SMTPUTF8")
	wantNoErr(t, err, "Mail")
	if want := `send: 'mail FROM:<\u202e@x> SMTPUTF8\r\n'`; !strings.Contains(out.String(), want) {
		t.Errorf("debug output %q lacks %q", out.String(), want)
	}
}

// ---------------------------------------------------------------------------
// Beyond the 78 cases: ehlo's documented departures and API surface.

// A message without From or Sender: smtplib sends MAIL FROM:<None>; ehlo
// refuses after EHLO (send_message greets first), before MAIL.
func TestSendMessageMissingFrom(t *testing.T) {
	srv := newServer(t, greet())
	c := srv.mustDial(t)
	_, err := c.SendMessage(strings.NewReader("To: b@y\r\nSubject: x\r\n\r\nhi\r\n"), nil, nil, nil)
	ve := wantErrAs[*protocol.ValueError](t, err)
	if !strings.Contains(ve.Msg, "no From or Sender") {
		t.Errorf("ValueError %q", ve.Msg)
	}
	if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
		t.Errorf("wire %q", got)
	}
}

func TestSendMessageEnvelopeOverride(t *testing.T) {
	from := "env@x"
	msg := "From: a@x\r\nTo: b@y\r\nBcc: hidden@y\r\n\r\nhi\r\n"
	srv := newServer(t, script(greet("SIZE"), []step{
		C("mail FROM:<env@x> size=26"), S("250 ok"),
		C("rcpt TO:<t1@y>"), S("250 ok"),
		C("rcpt TO:<t2@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("From: a@x\r\nTo: b@y\r\n\r\nhi\r\n.\r\n"), S("250 ok"),
		// A streamed message: no SIZE (unknown), envelope from the headers.
		C("mail FROM:<a@x>"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("250 ok"),
		C("rcpt TO:<hidden@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("From: a@x\r\nTo: b@y\r\n\r\nhi\r\n.\r\n"), S("250 ok"),
		// Only the sender overridden; a header block without a body.
		C("mail FROM:<env@x> size=18"), S("250 ok"),
		C("rcpt TO:<b@y>"), S("250 ok"),
		C("data"), S("354 go"), CData("From: a@x\r\nTo: b@y\r\n.\r\n"), S("250 ok"),
	}))
	c := srv.mustDial(t)
	_, err := c.SendMessage(strings.NewReader(msg), &protocol.Envelope{From: &from, To: []string{"t1@y", "t2@y"}}, nil, nil)
	wantNoErr(t, err, "SendMessage with an envelope")
	_, err = c.SendMessage(streamOf(msg), nil, nil, nil)
	wantNoErr(t, err, "SendMessage streamed")
	_, err = c.SendMessage(strings.NewReader("From: a@x\r\nTo: b@y"), &protocol.Envelope{From: &from}, nil, nil)
	wantNoErr(t, err, "SendMessage header only")
}

func TestSendMessageBadHeaderAddress(t *testing.T) {
	srv := newServer(t, greet())
	c := srv.mustDial(t)
	for _, msg := range []string{
		"From: a@x\r\nTo: <<<\r\n\r\nhi\r\n",
		"From: a@x\r\nTo: \"bob> NOTIFY=SUCCESS\" <bob@x> NOTIFY\r\n\r\nhi\r\n",
		"From: <unterminated\r\nTo: b@y\r\n\r\nhi\r\n",
	} {
		_, err := c.SendMessage(strings.NewReader(msg), nil, nil, nil)
		wantErrAs[*protocol.ValueError](t, err)
	}
	if got := srv.After(c).All(); got != "ehlo c.example\r\n" {
		t.Errorf("wire %q", got)
	}
}

// Every SMTP error matches ErrSMTP; a ValueError does not.
func TestErrorTypes(t *testing.T) {
	re := protocol.ResponseError{Code: 550, Message: "no"}
	for _, err := range []error{
		&protocol.Exception{Msg: "x"},
		&protocol.NotSupportedError{Msg: "x"},
		&protocol.ServerDisconnectedError{Msg: "x"},
		&re,
		&protocol.SenderRefusedError{ResponseError: re, Sender: "a@x"},
		&protocol.RecipientsRefusedError{Recipients: map[string]protocol.Reply{"b@y": {Code: 550, Message: "no"}}},
		&protocol.RecipientsRefusedError{},
		&protocol.DataError{ResponseError: re},
		&protocol.ConnectError{ResponseError: re},
		&protocol.HeloError{ResponseError: re},
		&protocol.AuthenticationError{ResponseError: re},
		&protocol.ProtocolError{Msg: "x"},
		&protocol.TLSError{Err: errors.New("x")},
	} {
		if !errors.Is(err, protocol.ErrSMTP) {
			t.Errorf("%T does not match ErrSMTP", err)
		}
		if err.Error() == "" {
			t.Errorf("%T has no text", err)
		}
	}
	if errors.Is(&protocol.ValueError{Msg: "x"}, protocol.ErrSMTP) {
		t.Errorf("ValueError matches ErrSMTP")
	}
	sr := &protocol.SenderRefusedError{ResponseError: re, Sender: "a@x"}
	if sr.Error() != "sender a@x refused: 550 no" {
		t.Errorf("SenderRefusedError %q", sr.Error())
	}
	ab := &protocol.AbortError{Err: errors.New("eof"), Sent: 7}
	if !errors.Is(ab, protocol.ErrMessageAborted) || !strings.Contains(ab.Error(), "after 7 bytes") {
		t.Errorf("AbortError %q", ab.Error())
	}
}

// The SMTPS debug output starts with smtplib's extra SMTP_SSL line,
// "connect: ('127.0.0.1', 465)", before "connect: to (...) None" (§19).
func TestDebugSMTPSConnectLine(t *testing.T) {
	pki := getPKI(t)
	srv := newServer(t, []step{StartTLS(pki.good), S("220 tls ESMTP")})
	var out strings.Builder
	c := newClient(t, protocol.SMTPS, withTLS(pki.trusting()))
	c.SetDebugLevel(1, &out)
	_, err := c.Connect("127.0.0.1", srv.port)
	wantNoErr(t, err, "Connect")
	want := fmt.Sprintf("connect: ('127.0.0.1', %d)\nconnect: to ('127.0.0.1', %d) None\n", srv.port, srv.port)
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("debug output starts %q, want %q", out.String(), want)
	}
}

// An empty initial response goes out as "=" (RFC 4954), where smtplib
// sends "AUTH MECH " with a trailing space; it is still marked secret.
func TestAuthEmptyInitialResponse(t *testing.T) {
	rec := &recorder{}
	srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH EXTERNAL ="), S("235 ok")})
	c := srv.mustDial(t, withCleartext(), withTracer(rec))
	_, err := c.Auth("EXTERNAL", &fixedAuth{ir: []byte{}}, true)
	wantNoErr(t, err, "Auth")
	checkAuthSecrets(t, rec)
}

// RFC 4954 §4: a client MUST NOT use an initial response that would make
// the AUTH line longer than SMTP allows (512 octets with CRLF); it sends
// AUTH alone and answers the first (empty) challenge instead.
func TestAuthLongInitialResponseNotOnTheCommandLine(t *testing.T) {
	token := strings.Repeat("t", 600)
	a, _ := protocol.XOAuth2Auth("user", token)
	blob, _ := a.Respond(nil, true)
	a, _ = protocol.XOAuth2Auth("user", token)
	srv := newServer(t, []step{S("220 fake ESMTP"), C("AUTH XOAUTH2"), S("334 "), C(base64Std(blob)), S("235 ok")})
	c := srv.mustDial(t, withCleartext(), withTimeout(500*time.Millisecond))
	_, err := c.Auth("XOAUTH2", a, true)
	wantNoErr(t, err, "Auth")
}
