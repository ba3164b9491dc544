package recordings

// MarkdownEscape makes sanitized text inert in a Markdown table cell or
// paragraph: the escaping WriteMarkdown uses, for other reports (ehlo
// audit) that paste server text into Markdown.
func MarkdownEscape(s string) string { return mdEscape(s) }

// MarkdownFence returns a code fence that no line of content can close:
// one backtick longer than its longest run of backticks, and at least
// three.
func MarkdownFence(content []byte) string {
	n := max(3, longestRun(content, '`')+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = '`'
	}
	return string(b)
}
