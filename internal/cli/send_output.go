package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
	"github.com/ehlo-dev/ehlo/recordings"
	"github.com/ehlo-dev/ehlo/session"
	"github.com/ehlo-dev/ehlo/session/mx"
)

// sendOutput is where a send's events go: the transcript (unless --quiet
// or --json), the recording (--record), and the JSON summary (--json).
// Every sink gets events after redaction; the recording keeps secrets only
// with --record-secrets.
type sendOutput struct {
	app     *appContext
	cmd     *sendCmd
	capture *session.Capture
	trans   *recordings.Transcript
	rec     *recordings.Recorder
	report  *session.SendReport // --json, written as the conversation goes
	scrub   *session.Scrubber
	route   *mx.Report // MX, DANE and MTA-STS findings (no SERVER, or --tls-verify dane)
	pems    []string   // --tls-chain with --json
	clock   lapseClock // --show-time-lapse in --json
}

func newSendOutput(app *appContext, s *sendCmd, secret string) (*sendOutput, error) {
	o := &sendOutput{app: app, cmd: s}
	o.scrub = session.NewScrubber()
	if secret != "" {
		o.scrub.Add(secret)
		o.scrub.AddPlain("", s.AuthUser, secret)
		o.scrub.AddXOAUTH2(s.AuthUser, secret)
	}
	o.capture = session.NewCapture(time.Time{}, session.Redaction{Scrubber: o.scrub})
	if !s.Quiet && !s.JSON {
		o.trans = recordings.NewTranscript(app.stdout, recordings.TranscriptOptions{Errors: app.stderr, Width: terminalWidth(app.stdout), DataLines: s.dataLines()})
		o.capture.Add(o.transcriptSink())
	}
	if s.JSON {
		o.report = session.NewSendReport(app.stdout)
		o.capture.Add(session.SinkFunc(o.jsonEvent))
	}
	if s.Record != "" {
		network := "tcp"
		if strings.HasPrefix(s.Server, "/") {
			network = "unix"
		}
		rec, err := recordings.Create(s.Record, recordings.Header{
			Created: o.capture.Start(), Server: s.Server, Transport: s.kind().String(), Network: network,
			EhloVersion: ehloVersion(), Secrets: s.RecordSecrets, Insecure: s.Insecure,
		})
		if err != nil {
			return nil, fmt.Errorf("--record: %w", err)
		}
		o.rec = rec
		o.capture.Add(rec)
	}
	return o, nil
}

// tracer is nil when nothing listens (--quiet without --json or --record):
// a 100 MB message then skips the copy and the redaction of every byte.
func (o *sendOutput) tracer() protocol.Tracer {
	if o.trans == nil && !o.cmd.JSON && o.rec == nil {
		return nil
	}
	return o.capture
}

// scrubWriter removes known secrets from each write (one debug line each).
type scrubWriter struct {
	w     io.Writer
	scrub *session.Scrubber
}

func (s *scrubWriter) Write(p []byte) (int, error) {
	out, _ := s.scrub.Scrub(p)
	if _, err := s.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// info prints ehlo's own lines: "===" information on stdout, "***"
// warnings and errors on stderr, always sanitised and scrubbed.
func (o *sendOutput) info(kind session.InfoKind, text string) {
	text, _ = o.scrub.ScrubString(text)
	if kind != session.Info {
		// A warning is a note event: the transcript prints it ("***" on
		// stderr), the recording keeps it and --json lists it, once each.
		o.capture.Note(text)
		if o.trans == nil && !o.cmd.JSON {
			fmt.Fprintf(o.app.stderr, "*** %s\n", session.SanitizeText(text))
		}
		return
	}
	text = session.SanitizeText(text)
	if o.cmd.JSON {
		o.report.Info(text)
		return
	}
	if o.trans != nil && !o.cmd.hides(session.KindState) {
		o.trans.Flush()
		fmt.Fprintf(o.app.stdout, "=== %s\n", text)
	}
}

// finish reports the outcome and turns it into the exit code.
func (o *sendOutput) finish(res *session.SendResult) error {
	code := res.ExitCode()
	var errText string
	if res.Err != nil {
		errText, _ = o.scrub.ScrubString(res.Err.Error())
		// An error's text is ehlo's, quoting bytes that are often escaped
		// already (Go's %q in x509 errors, protocol's previews): escaped
		// once more, "" would show as "\x1b".
		errText = session.SanitizeText(errText)
	}
	if o.trans != nil {
		o.trans.Flush()
	}
	if res.Err != nil && !o.cmd.JSON {
		fmt.Fprintf(o.app.stderr, "*** %s (stage %s, exit %d)\n", errText, res.Stage, code)
	}
	if o.trans != nil && o.trans.Err() != nil {
		// A full disk under a redirected transcript: the mail may have
		// gone, but what the user asked to keep of it did not.
		fmt.Fprintf(o.app.stderr, "*** %v\n", o.trans.Err())
		if code == 0 {
			code = 1
		}
	}
	if o.rec != nil {
		if err := o.rec.Close(); err != nil {
			fmt.Fprintf(o.app.stderr, "*** recording %s: %v\n", o.cmd.Record, err)
			if code == 0 {
				code = 1
			}
		}
	}
	if o.cmd.JSON {
		if err := o.writeJSON(res, code, errText); err != nil {
			return &exitError{code: 1, err: err}
		}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// jsonEvent feeds the --json report, with each reply's round trip for
// --show-time-lapse.
func (o *sendOutput) jsonEvent(e session.Event) {
	if lapse, ok := o.clock.reply(e); ok && o.cmd.ShowTimeLapse {
		o.report.Lapse(lapse)
	}
	o.report.Event(e)
}

// writeJSON ends the --json document.
func (o *sendOutput) writeJSON(res *session.SendResult, code int, errText string) error {
	return o.report.Finish(res, session.SendOutcome{
		Server: o.cmd.Server, ExitCode: code, Error: errText, Route: o.route, ChainPEM: o.pems,
	})
}
