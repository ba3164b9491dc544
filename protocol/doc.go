// Package protocol is ehlo's SMTP, ESMTP and LMTP client: a Go rendering of
// Python's smtplib that keeps its semantics and leaves out its open bugs and
// insecure defaults.
//
// A Client is one conversation with one server. It owns the connection, reads
// replies with hard limits (8192-byte lines, a cap per reply, one deadline per
// reply), remembers what EHLO advertised, and enforces smtplib's rules: EHLO
// then HELO when a command needs a greeting, all EHLO knowledge forgotten after
// STARTTLS, RSET after a failed transaction, close on 421, the AUTH 334 loop,
// the envelope taken from headers by SendMessage (read as Python's
// email.utils.getaddresses reads them) with Bcc never transmitted.
//
// Client's methods are smtplib's API. What an interactive debugger needs
// beyond it lives on a separate view, Client.Debug: a line sent as typed
// (Raw), the answers to a typed AUTH's challenges and its cancel, a message
// after a typed DATA, a TLS upgrade after a STARTTLS sent by other means,
// the check for and the watch on bytes the server sends unasked (a 421
// above all, seen between commands instead of read as the next reply), and
// Abort from another goroutine.
//
// Every command line, whether a method built it, Raw was given it or a
// pipelined group carries it, goes through one encoder (CR, LF and NUL,
// ASCII unless SMTPUTF8, line length) and each reply through one state
// reducer; SplitCommand is the one verb tokenizer, exported so that callers
// read a line as the client and servers do. Sendmail's engines judge a
// transaction with one set of rules.
//
// Every byte written and read, every state change and the TLS handshake are
// reported to a Tracer, with the byte ranges that carry credentials marked,
// so that a debugger can show and record a session without leaking secrets.
//
// Beyond smtplib, Options can narrow TCP to IPv4 or IPv6 (Network), open
// the connection some other way (Dial: a command's pipes) and write bytes
// before the greeting is read (Preamble: a PROXY protocol header).
//
// Errors are typed, one per smtplib exception (ServerDisconnectedError,
// ResponseError, SenderRefusedError, RecipientsRefusedError, DataError,
// ConnectError, HeloError, NotSupportedError, AuthenticationError), and all of
// them match ErrSMTP with errors.Is; those carrying a reply give its RFC
// 3463 enhanced status code with Enhanced. Their texts follow Go's
// conventions rather than smtplib's. Where ehlo departs from smtplib the
// departure is listed in docs/smtplib-differences.md.
//
// Package protocol/smtptest is a scripted server for testing SMTP clients,
// this one included: strict scripts of client lines and canned replies.
//
// The package uses the standard library only.
package protocol
