package protocol

import "errors"

// ErrCancelAuth, returned by an Authenticator, makes the client send "*" to
// cancel the exchange (RFC 4954) instead of a response. The client then
// reads the server's reply and returns an AuthenticationError.
var ErrCancelAuth = errors.New("authentication exchange cancelled by the client")

// Authenticator is the client side of one SASL exchange, smtplib's
// "authobject". A fresh one is used for each AUTH attempt.
//
// Respond is first called with initial true and a nil challenge, when the
// caller allows an initial response (RFC 4954): returning (nil, nil) then
// means "no initial response". After that it is called once per 334
// challenge with the decoded challenge bytes. The returned bytes are sent
// base64-encoded; every client line of the exchange is marked secret.
type Authenticator interface {
	Respond(challenge []byte, initial bool) ([]byte, error)
}
