package protocol

// Reply is a server reply: its code and its text. For a multi-line reply
// the text of each line (after the code and separator, trimmed as smtplib
// trims it) is joined with "\n", as smtplib joins them.
type Reply struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}
