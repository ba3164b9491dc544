module github.com/ehlo-dev/ehlo

go 1.26

require (
	github.com/alecthomas/kong v1.17.0 // indirect
	github.com/charmbracelet/x/term v0.2.2 // indirect
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6 // indirect
	github.com/emersion/go-smtp v0.25.1 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	golang.org/x/sys v0.36.0 // indirect
)
