package protocol

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrSMTP is the common base of every SMTP error this package returns, the
// counterpart of smtplib's SMTPException: errors.Is(err, ErrSMTP) is true for
// all of them.
var ErrSMTP = errors.New("smtp error")

// nilErr is what the Error method of a nil error pointer says, as fmt
// prints one, instead of panicking.
const nilErr = "<nil>"

// ErrTimeoutZero is returned when a client is configured with a zero timeout;
// smtplib refuses it too, since it would mean a non-blocking socket.
var ErrTimeoutZero = errors.New("timeout of zero is not supported (it would mean a non-blocking socket)")

// Exception is a plain SMTP error that carries only a message, like raising
// smtplib.SMTPException directly (smtplib's "No suitable authentication
// method found.", written here as Go writes errors: "no suitable
// authentication method found").
type Exception struct{ Msg string }

func (e *Exception) Error() string {
	if e == nil {
		return nilErr
	}
	return e.Msg
}
func (e *Exception) Is(target error) bool { return target == ErrSMTP }

// NotSupportedError says the server does not advertise what the call needs
// (STARTTLS, AUTH, SMTPUTF8).
type NotSupportedError struct {
	Msg string
	Err error // a sentinel such as ErrCleartextAuth, for errors.Is
}

func (e *NotSupportedError) Error() string {
	if e == nil {
		return nilErr
	}
	return e.Msg
}
func (e *NotSupportedError) Is(target error) bool { return target == ErrSMTP }
func (e *NotSupportedError) Unwrap() error        { return e.Err }

// ServerDisconnectedError says the connection is gone: the server closed it,
// a read or write failed or timed out, or the client was never connected.
// Err is the underlying network error, if any.
type ServerDisconnectedError struct {
	Msg string
	Err error
}

func (e *ServerDisconnectedError) Error() string {
	if e == nil {
		return nilErr
	}
	return e.Msg
}
func (e *ServerDisconnectedError) Is(target error) bool { return target == ErrSMTP }
func (e *ServerDisconnectedError) Unwrap() error        { return e.Err }

// ResponseError is an error reply from the server (smtplib's
// SMTPResponseException): its code and text.
type ResponseError struct {
	Code    int
	Message string
}

func (e *ResponseError) Error() string {
	if e == nil {
		return nilErr
	}
	return fmt.Sprintf("%d %s", e.Code, e.Message)
}
func (e *ResponseError) Is(target error) bool { return target == ErrSMTP }

// SenderRefusedError: the server refused MAIL FROM.
type SenderRefusedError struct {
	ResponseError
	Sender string
}

func (e *SenderRefusedError) Error() string {
	if e == nil {
		return nilErr
	}
	return fmt.Sprintf("sender %s refused: %d %s", e.Sender, e.Code, e.Message)
}
func (e *SenderRefusedError) Unwrap() error { return &e.ResponseError }

// RecipientsRefusedError: every recipient was refused, or a RCPT got 421.
// Like smtplib's it carries no code of its own, only the map of refusals.
type RecipientsRefusedError struct {
	Recipients map[string]Reply
}

func (e *RecipientsRefusedError) Error() string {
	if e == nil {
		return nilErr
	}
	if len(e.Recipients) == 0 {
		return "no recipients"
	}
	addrs := make([]string, 0, len(e.Recipients))
	for a := range e.Recipients {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		r := e.Recipients[a]
		parts[i] = fmt.Sprintf("%s: %d %s", a, r.Code, r.Message)
	}
	return "recipients refused: " + strings.Join(parts, "; ")
}
func (e *RecipientsRefusedError) Is(target error) bool { return target == ErrSMTP }

// DataError: DATA was not answered 354, or the message was refused after it.
type DataError struct{ ResponseError }

func (e *DataError) Error() string {
	if e == nil {
		return nilErr
	}
	return "data refused: " + e.ResponseError.Error()
}
func (e *DataError) Unwrap() error { return &e.ResponseError }

// ConnectError: the greeting was not 220.
type ConnectError struct{ ResponseError }

func (e *ConnectError) Error() string {
	if e == nil {
		return nilErr
	}
	return "bad greeting: " + e.ResponseError.Error()
}
func (e *ConnectError) Unwrap() error { return &e.ResponseError }

// HeloError: both EHLO and HELO were refused.
type HeloError struct{ ResponseError }

func (e *HeloError) Error() string {
	if e == nil {
		return nilErr
	}
	return "HELO/EHLO refused: " + e.ResponseError.Error()
}
func (e *HeloError) Unwrap() error { return &e.ResponseError }

// AuthenticationError: the server did not accept the credentials.
type AuthenticationError struct{ ResponseError }

func (e *AuthenticationError) Error() string {
	if e == nil {
		return nilErr
	}
	return "authentication failed: " + e.ResponseError.Error()
}
func (e *AuthenticationError) Unwrap() error { return &e.ResponseError }

// ProtocolError says the server broke the reply grammar (a malformed code,
// inconsistent codes, an over-long reply, bytes nobody asked for). smtplib
// has no such error and silently desynchronises instead; ehlo closes the
// connection, because nothing after a malformed line can be trusted.
type ProtocolError struct {
	Msg  string
	Line []byte // the offending bytes, if any, as received
}

func (e *ProtocolError) Error() string {
	if e == nil {
		return nilErr
	}
	return "protocol error: " + e.Msg
}
func (e *ProtocolError) Is(target error) bool { return target == ErrSMTP }

// ValueError is smtplib's ValueError: the caller passed something that must
// not be sent (CR or LF in a command, a malformed address, two Resent-
// blocks). Nothing was written when it is returned. It is not an ErrSMTP.
type ValueError struct {
	Msg string
	Err error // a sentinel such as ErrTimeoutZero, for errors.Is
}

func (e *ValueError) Error() string {
	if e == nil {
		return nilErr
	}
	return e.Msg
}
func (e *ValueError) Unwrap() error { return e.Err }

// TLSError wraps a failed TLS handshake or certificate verification. The
// connection is closed: after a failed handshake its state is unknown, so not
// even QUIT is sent.
type TLSError struct{ Err error }

func (e *TLSError) Error() string {
	if e == nil {
		return nilErr
	}
	return "TLS: " + fmt.Sprint(e.Err)
}
func (e *TLSError) Unwrap() error        { return e.Err }
func (e *TLSError) Is(target error) bool { return target == ErrSMTP }
