package protocol_test

import (
	"errors"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

func TestReplyEnhanced(t *testing.T) {
	for _, c := range []struct {
		code int
		msg  string
		want string
	}{
		{550, "5.1.1 no such user", "5.1.1"},
		{250, "2.0.0", "2.0.0"},
		{451, "4.7.650 greylisted", "4.7.650"},
		{250, "2.1.0\tok", "2.1.0"},
		{250, "2.1.0 ok\n2.1.0 again", "2.1.0"},
		{550, "5.123.456 x", "5.123.456"},
		{250, "mx.example.com", ""},
		{250, "2.1 ok", ""},
		{250, "2.1.0.1 ok", ""},
		{250, "2.1.0x ok", ""},
		{550, "5.1234.1 x", ""},
		{550, "5.1.1234 x", ""},
		{550, "5..1 x", ""},
		{550, "2.1.0 classes disagree", ""},
		{354, "3.0.0 no class 3", ""},
		{550, "", ""},
		{0, "", ""},
		{550, "no code 5.1.1", ""},
	} {
		if got := (protocol.Reply{Code: c.code, Message: c.msg}).Enhanced(); got != c.want {
			t.Errorf("Reply{%d, %q}.Enhanced() = %q, want %q", c.code, c.msg, got, c.want)
		}
	}
}

// Every error that carries a server reply gives its enhanced code, also
// through errors.As to the embedded *ResponseError.
func TestErrorsCarryEnhanced(t *testing.T) {
	re := protocol.ResponseError{Code: 550, Message: "5.7.1 relaying denied"}
	for _, err := range []interface {
		error
		Enhanced() string
	}{
		&re,
		&protocol.SenderRefusedError{ResponseError: re, Sender: "a@x"},
		&protocol.DataError{ResponseError: re},
		&protocol.ConnectError{ResponseError: re},
		&protocol.HeloError{ResponseError: re},
		&protocol.AuthenticationError{ResponseError: re},
	} {
		if got := err.Enhanced(); got != "5.7.1" {
			t.Errorf("%T.Enhanced() = %q", err, got)
		}
		var target *protocol.ResponseError
		if !errors.As(err, &target) || target.Enhanced() != "5.7.1" {
			t.Errorf("%T: errors.As to *ResponseError gives %v", err, target)
		}
	}
	var nilErr *protocol.ResponseError
	if nilErr.Enhanced() != "" {
		t.Error("nil *ResponseError has an enhanced code")
	}
}
