package session

import (
	"fmt"
	"strings"

	"github.com/ehlo-dev/ehlo/protocol"
)

// xclient runs Postfix's XCLIENT (cfg.XClient, one command each) after the
// last greeting and before AUTH, as swaks does: the server must offer
// XCLIENT and, unless cfg.XClientNoVerify, every attribute sent; each
// command must get 220. The client then greets again (xclientGreet).
func xclient(c *protocol.Client, cfg SendConfig) error {
	params, ok := c.Extn("xclient")
	if !ok {
		return &protocol.NotSupportedError{Msg: "Host did not advertise XCLIENT"}
	}
	offered := map[string]bool{}
	for _, a := range strings.Fields(params) {
		offered[strings.ToUpper(a)] = true
	}
	for _, cmd := range cfg.XClient {
		for _, attr := range strings.Fields(cmd) {
			name, _, _ := strings.Cut(attr, "=")
			if !cfg.XClientNoVerify && !offered[strings.ToUpper(name)] {
				return &protocol.NotSupportedError{Msg: fmt.Sprintf("Host did not advertise XCLIENT attribute %s (it offers: %s)", name, params)}
			}
		}
	}
	for i, cmd := range cfg.XClient {
		if i == len(cfg.XClient)-1 {
			dropAtReply(c, cfg, "xclient")
		}
		r, err := c.Docmd("XCLIENT", cmd)
		if err != nil {
			return err
		}
		if r.Code != 220 {
			e := protocol.ResponseError(r)
			return &e
		}
	}
	return nil
}

// xclientGreet is the EHLO after XCLIENT.
func xclientGreet(c *protocol.Client, cfg SendConfig) error {
	r, err := c.Ehlo(cfg.Helo)
	if err == nil && r.Code != 250 {
		err = &protocol.HeloError{ResponseError: protocol.ResponseError(r)}
	}
	return err
}

// xclientStage is Send's XCLIENT stage: nil to carry on, or the result
// when it failed or --quit-after stopped it.
func xclientStage(c *protocol.Client, cfg SendConfig, res *SendResult, fail func(Stage, error) *SendResult) *SendResult {
	res.Stage = StageXClient
	if err := xclient(c, cfg); err != nil {
		return fail(StageXClient, err)
	}
	if stopAfter(cfg.QuitAfter, "xclient") {
		return stop(c, cfg, res)
	}
	res.Stage = StageHeloAfterXClient
	dropAtReply(c, cfg, "helo")
	if err := xclientGreet(c, cfg); err != nil {
		return fail(StageHeloAfterXClient, err)
	}
	if stopAfter(cfg.QuitAfter, "helo") {
		return stop(c, cfg, res)
	}
	return nil
}
