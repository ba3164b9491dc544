// Package sandbox is ehlo's embedded practice server: an SMTP and LMTP
// server that a workshop can start with no setup and whose every reply is
// the one RFC 5321 (and RFC 1869, 2034, 2920, 3030, 3207, 3461, 4954, 6531,
// 2033 for LMTP) calls for, so a teacher can point at a line and say "this
// is what a server must answer".
//
// It owns:
//   - the listeners: plain SMTP with STARTTLS, implicit TLS and a Unix
//     socket, on loopback unless the caller names another address;
//   - on Linux, its own epoll set (poller_linux.go): connections are
//     accepted, read, written and closed with raw system calls, so that a
//     short session never wakes the Go runtime's monitor thread, as
//     smtp-sink's one thread is never woken (docs/performance.md, finding
//     17); elsewhere the net package's;
//   - an in-memory self-signed certificate (or a PEM pair from disk) and
//     its fingerprint, so a client can trust exactly this server;
//   - demo users for AUTH PLAIN, LOGIN and CRAM-MD5;
//   - an in-memory, concurrency-safe Mailbox of what was delivered, a ring
//     bounded by count and by bytes, each message with its envelope as
//     the server saw it (every recipient and its reply, refused ones too);
//   - the bounds that keep one client from taking the machine: a buffer
//     all sessions share for content in flight, a session cap counted
//     from accept, a handshake deadline, a limit on failed AUTH;
//   - fault injection (ParseFault): delays, drops, 421s, refusals and
//     malformed, over-long or injected reply bytes, for demonstrations and
//     for testing ehlo's own client against hostile servers; and the
//     vulnerable servers `ehlo audit` looks for (STARTTLS injection, SMTP
//     smuggling, AUTH before TLS, user enumeration, old TLS), so each of
//     its findings can be shown failing and passing;
//   - a per-session, direction-tagged log ("[s3] C: …", "[s3] S: …"),
//     written in batches;
//   - the workshop (Config.Workshop): accounts for a room
//     (GenerateStudents), a mailbox per user that only that user can
//     read, over the XMAILBOX extension after AUTH, and the room an
//     instructor watches (Sessions, Watch, SetFault per user,
//     OnSessionEnd for recordings);
//   - playing a recorded server side instead of its own replies (Script,
//     for `ehlo replay --serve`) through the same listeners, caps,
//     deadlines and readers, so a replay is as strict as the sandbox.
//
// It is written on the standard library alone, not on go-smtp: the replies
// a teaching server gives must be exact (503 for bad sequence, 555 for an
// unknown parameter, a 421 that closes), and faults need control of every
// byte and every write. docs/sandbox.md explains the choice. The package
// must never import ehlo's client packages (protocol, session, tui): a
// server that shares code with the client under test would share its bugs.
package sandbox
