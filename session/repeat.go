package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/ehlo-dev/ehlo/protocol"
)

// RepeatResult is the outcome of a load run: how many messages went, how
// long it took, and the latency of each stage.
type RepeatResult struct {
	Messages, Failed int
	Connections      int
	Elapsed          time.Duration
	// Stages holds, per stage name, every latency measured: "connect",
	// "ehlo", "mail-data" (from MAIL written to the last reply before the
	// message: RCPT's when pipelined, DATA's 354 otherwise), "final-reply"
	// (from there to the reply to the message) and "transaction" (the two
	// together).
	Stages map[string][]time.Duration
	// InFlight is the most transactions one connection had written and not
	// yet had answered (protocol.Pipeline.MaxInFlight): above 1 when they
	// were pipelined one behind another.
	InFlight int
	Err      error // the first error, if any
}

// RepeatStageOrder is the order stages are reported in.
var RepeatStageOrder = []string{"connect", "ehlo", "mail-data", "final-reply", "transaction"}

// PerSecond is messages sent per second of wall time.
func (r *RepeatResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Messages) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0–100) of a stage's latencies.
func (r *RepeatResult) Percentile(stage string, p float64) time.Duration {
	d := r.Stages[stage]
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d)-1) * p / 100)
	return d[i]
}

// finalTimer measures the final reply's latency: from the last bytes of
// the message written to the next reply line read.
type finalTimer struct {
	inData   bool
	lastSend time.Time
	got      time.Duration
}

func (f *finalTimer) Trace(e protocol.Event) {
	switch e.Kind {
	case protocol.EventState:
		f.inData = e.State.Phase == protocol.PhaseData
	case protocol.EventSend:
		f.lastSend = e.Time
	case protocol.EventRecv:
		if f.inData && !f.lastSend.IsZero() {
			f.got = e.Time.Sub(f.lastSend)
			f.inData = false
		}
	}
}

// SendRepeat sends n copies of msg over conns connections, as Postfix's
// smtp-source does: each connection greets once (and does STARTTLS and
// AUTH when asked), then sends its share of messages one after another.
// Nothing is traced per byte: a load run must not spend its time printing.
func SendRepeat(ctx context.Context, cfg SendConfig, msg []byte, n, conns int) *RepeatResult {
	if conns < 1 {
		conns = 1
	}
	if conns > n {
		conns = n
	}
	res := &RepeatResult{Connections: conns, Stages: map[string][]time.Duration{}}
	var mu sync.Mutex
	add := func(stage string, d time.Duration) {
		mu.Lock()
		res.Stages[stage] = append(res.Stages[stage], d)
		mu.Unlock()
	}
	fail := func(err error) {
		mu.Lock()
		if res.Err == nil {
			res.Err = err
		}
		mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		share := n / conns
		if i < n%conns {
			share++
		}
		wg.Add(1)
		go func(share int) {
			defer wg.Done()
			sent, failed, inFlight, err := repeatOne(ctx, cfg, msg, share, add)
			mu.Lock()
			res.Messages += sent
			res.Failed += failed
			res.InFlight = max(res.InFlight, inFlight)
			mu.Unlock()
			if err != nil {
				fail(err)
			}
		}(share)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	for _, d := range res.Stages {
		slices.Sort(d)
	}
	return res
}

// repeatOpen is what a load run's connection does once, before its
// messages: connect and greet, STARTTLS and AUTH when asked.
func repeatOpen(c *protocol.Client, cfg SendConfig, add func(string, time.Duration)) error {
	t0 := time.Now()
	r, err := c.Connect(cfg.Server, cfg.Port)
	if err == nil && r.Code != 220 {
		err = &protocol.ConnectError{ResponseError: protocol.ResponseError(r)}
	}
	if err != nil {
		return err
	}
	add("connect", time.Since(t0))
	t0 = time.Now()
	if err := c.EhloOrHeloIfNeeded(); err != nil {
		return err
	}
	add("ehlo", time.Since(t0))
	if cfg.StartTLS {
		if _, err := c.StartTLS(nil); err != nil {
			return err
		}
		if err := c.EhloOrHeloIfNeeded(); err != nil {
			return err
		}
	}
	if cfg.AuthMech != "" {
		return authenticate(c, cfg, func(InfoKind, string) {})
	}
	return nil
}

// repeatOne is one connection's share of a load run. Its messages go
// through a protocol.Pipeline, which writes each transaction behind the
// previous ones when the server offers PIPELINING and the user did not say
// --no-pipeline (several in flight with CHUNKING and --chunking, otherwise
// a message and the next transaction's commands in one write), and
// otherwise sends them one after another.
func repeatOne(ctx context.Context, cfg SendConfig, msg []byte, share int, add func(string, time.Duration)) (sent, failed, inFlight int, err error) {
	ft := &finalTimer{}
	opts := protocol.Options{
		LocalHostname: cfg.Helo, Timeout: cfg.Timeout, SourceAddress: cfg.Source, TLSConfig: cfg.TLSConfig,
		AllowCleartextAuth: cfg.AuthCleartext, Pipelining: cfg.Pipelining, Chunking: cfg.Chunking, Tracer: ft,
	}
	// An interrupt is what ended the connection, whatever the client
	// saw of it (the Abort below).
	defer func() {
		if err != nil && ctx.Err() != nil {
			err = ErrInterrupted
		}
	}()
	c := protocol.NewClient(cfg.Kind, opts)
	defer c.Close()
	// Before Connect, so that Ctrl+C also stops a dial or a greeting that
	// does not come.
	stop := context.AfterFunc(ctx, func() { c.Debug().Abort() })
	defer stop()
	if err := repeatOpen(c, cfg, add); err != nil {
		return 0, share, 0, err
	}
	prep, err := c.PrepareMessage(bytes.NewReader(msg), cfg.envelope(), cfg.MailOptions)
	if err != nil {
		return 0, share, 0, err
	}
	var firstErr, closeErr error
	p := c.NewPipeline(cfg.PipelineDepth, func(r protocol.TxResult) {
		total := r.Done.Sub(r.Written)
		add("transaction", total)
		switch {
		case !r.Envelope.IsZero():
			add("mail-data", r.Envelope.Sub(r.Written))
			add("final-reply", r.Done.Sub(r.Envelope))
		case ft.got > 0:
			add("mail-data", total-ft.got)
			add("final-reply", ft.got)
		}
		ft.got = 0
		if r.Err == nil {
			sent++
			return
		}
		if firstErr == nil {
			firstErr = r.Err
		}
		if !c.Connected() && closeErr == nil {
			closeErr = r.Err
		}
	})
	for i := 0; i < share && c.Connected() && ctx.Err() == nil; i++ {
		p.Send(prep.From, prep.To, prep.Data, prep.MailOptions, cfg.RcptOptions)
	}
	p.Flush()
	inFlight = p.MaxInFlight()
	failed = share - sent // never attempted counts as failed too
	switch {
	case ctx.Err() != nil:
		return sent, failed, inFlight, ErrInterrupted
	case closeErr != nil:
		return sent, failed, inFlight, closeErr
	}
	if _, err := c.Quit(); err != nil && !errors.Is(err, io.EOF) && firstErr == nil {
		return sent, failed, inFlight, fmt.Errorf("QUIT: %w", err)
	}
	return sent, failed, inFlight, firstErr
}
