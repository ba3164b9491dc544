// A module of its own (standard library only), like ../gosmtp: a tool of
// `make compare`, not part of ehlo.
module github.com/ehlo-dev/ehlo/testdata/compare/latency

go 1.26
