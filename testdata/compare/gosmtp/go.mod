// A module of its own, so that the main module (and the ehlo binary) never
// depends on go-smtp: this client exists only for `make compare`.
module github.com/ehlo-dev/ehlo/testdata/compare/gosmtp

go 1.26

require github.com/emersion/go-smtp v0.25.1

require github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
