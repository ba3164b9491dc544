package session

import "github.com/ehlo-dev/ehlo/protocol"

// greet is Send's first greeting: EHLO, HELO when EHLO is refused, or
// HELO alone with cfg.HeloOnly (swaks --protocol SMTP).
func greet(c *protocol.Client, cfg SendConfig) error {
	if !cfg.HeloOnly {
		return c.EhloOrHeloIfNeeded()
	}
	r, err := c.Helo(cfg.Helo)
	if err == nil && r.Code != 250 {
		err = &protocol.HeloError{ResponseError: protocol.ResponseError(r)}
	}
	return err
}
