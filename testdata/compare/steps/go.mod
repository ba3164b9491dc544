// A module of its own (standard library only), like ../latency: a tool for
// docs/performance.md, not part of ehlo.
module github.com/ehlo-dev/ehlo/testdata/compare/steps

go 1.26
