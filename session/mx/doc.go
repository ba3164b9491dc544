// Package mx owns what ehlo learns from DNS and HTTPS about where mail for a
// domain goes and how its transport must be secured: the MX hosts in
// preference order with RFC 5321 §5.1's implicit-MX fallback (Lookup), DANE
// for SMTP per RFC 7672 (LookupTLSA, Verify), MTA-STS per RFC 8461
// (LookupMTASTS, FetchPolicy, Policy.Matches) and the TLS-RPT record of
// RFC 8460 (LookupTLSRPT).
//
// It speaks DNS itself (github.com/miekg/dns) rather than through the Go
// resolver, because DANE needs the AD bit of a validating resolver, which
// net.Resolver does not expose. It imports nothing of the rest of ehlo, so
// the send driver, the TUI and `ehlo audit` can all call it.
package mx
