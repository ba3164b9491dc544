package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
)

// Style colours the terminal report; main wires it to a theme. Plain is
// the style without colour.
type Style interface {
	Status(s Status, text string) string
	Muted(text string) string
	Bold(text string) string
}

// Plain is a Style that adds nothing, for pipes and NO_COLOR.
type Plain struct{}

func (Plain) Status(_ Status, t string) string { return t }
func (Plain) Muted(t string) string            { return t }
func (Plain) Bold(t string) string             { return t }

// MaxTextEvidence caps the evidence lines per finding in the terminal
// report; --json and --markdown carry them all.
const MaxTextEvidence = 12

// WriteText writes the report for a terminal. Every string from the
// server is already escaped in the evidence.
func WriteText(w io.Writer, rep *Report, st Style) error {
	if st == nil {
		st = Plain{}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s, started %s\n", st.Bold("ehlo audit of"), st.Bold(session.SanitizeString(rep.Server)), rep.Started.UTC().Format(time.RFC3339))
	for _, l := range mxLines(rep.MX) {
		fmt.Fprintf(&b, "%s\n", st.Muted(l))
	}
	b.WriteString("\n")
	idw := 0
	for _, f := range rep.Findings {
		idw = max(idw, len(f.ID))
	}
	for _, f := range rep.Findings {
		label := st.Status(f.Status, fmt.Sprintf("%-5s", strings.ToUpper(string(f.Status))))
		fmt.Fprintf(&b, "%s  %-*s  %-6s  %s\n", label, idw, f.ID, f.Severity, f.Summary)
		for i, e := range f.Evidence {
			if i == MaxTextEvidence {
				fmt.Fprintf(&b, "       %s\n", st.Muted(fmt.Sprintf("… %d more lines (--json or --markdown shows them all)", len(f.Evidence)-i)))
				break
			}
			fmt.Fprintf(&b, "       %s\n", st.Muted(e))
		}
	}
	fmt.Fprintf(&b, "\n%s\n", counts(rep))
	_, err := w.Write(b.Bytes())
	return err
}

func counts(rep *Report) string {
	n := map[Status]int{}
	for _, f := range rep.Findings {
		n[f.Status]++
	}
	return fmt.Sprintf("%d pass, %d warn, %d fail, %d skip, %d error", n[Pass], n[Warn], n[Fail], n[Skip], n[Error])
}

// mxLines says which MX host of the domain was audited, and the others.
func mxLines(c *MXChoice) []string {
	if c == nil {
		return nil
	}
	d := session.SanitizeString(c.Domain)
	if c.Implicit {
		return []string{fmt.Sprintf("%s has no MX record: audited its own address %s (RFC 5321 §5.1)", d, session.SanitizeString(c.Addr))}
	}
	out := []string{fmt.Sprintf("MX of %s: audited %s at %s, its most preferred MX that answers", d, session.SanitizeString(c.Audited), session.SanitizeString(c.Addr))}
	for _, o := range c.Others {
		out = append(out, "other MX "+session.SanitizeString(o))
	}
	return out
}

// WriteJSON writes {"server", "started", "mx" (for a DOMAIN: "domain",
// "audited", "addr", "implicit", "others"), "findings": [{"id", "status",
// "severity", "summary", "evidence"}]}.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteMarkdown writes the report so that it can be pasted into an issue:
// a table of the findings, then each finding's evidence in a fence no
// server text can close, with session's escaping for everything else.
func WriteMarkdown(w io.Writer, rep *Report) error {
	var b bytes.Buffer
	esc := recordings.MarkdownEscape
	fmt.Fprintf(&b, "## ehlo audit of %s\n\n", esc(session.SanitizeString(rep.Server)))
	fmt.Fprintf(&b, "Started %s. %s.\n\n", rep.Started.UTC().Format(time.RFC3339), counts(rep))
	for _, l := range mxLines(rep.MX) {
		fmt.Fprintf(&b, "%s\n\n", esc(l))
	}
	b.WriteString("| finding | status | severity | summary |\n| --- | --- | --- | --- |\n")
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", esc(f.ID), esc(string(f.Status)), esc(string(f.Severity)), esc(f.Summary))
	}
	for _, f := range rep.Findings {
		if len(f.Evidence) == 0 {
			continue
		}
		ev := []byte(strings.Join(f.Evidence, "\n") + "\n")
		fence := recordings.MarkdownFence(ev)
		fmt.Fprintf(&b, "\n### %s: %s\n\n%stext\n", esc(f.ID), esc(string(f.Status)), fence)
		b.Write(ev)
		b.WriteString(fence + "\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}
