package protocol

// Enhanced returns the RFC 3463 enhanced status code at the start of the
// reply's text ("5.1.1" in "550 5.1.1 no such user"), or "" when there is
// none. It is read whether or not the server advertised
// ENHANCEDSTATUSCODES (RFC 2034), since many servers send the codes
// without it. Only a well-formed code counts: class 2, 4 or 5 agreeing
// with the reply code's first digit (RFC 3463 §2), then subject and
// detail of one to three digits each, then white space or the end of the
// line. "250 mx.example.com" has none, and neither has "550 2.1.0 x",
// whose classes disagree.
func (r Reply) Enhanced() string {
	s := r.Message
	if len(s) < 5 || r.Code/100 != int(s[0]-'0') || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return ""
	}
	i := 2
	for part := 0; part < 2; part++ {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		if n < 1 || n > 3 {
			return ""
		}
		if part == 0 {
			if i >= len(s) || s[i] != '.' {
				return ""
			}
			i++
		}
	}
	if i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
		return ""
	}
	return s[:i]
}

// Enhanced returns the RFC 3463 enhanced status code of the refusal, as
// Reply.Enhanced reads it, or "" when its text starts with none. The
// errors that embed a ResponseError (SenderRefusedError, DataError,
// ConnectError, HeloError, AuthenticationError) have it too.
func (e *ResponseError) Enhanced() string {
	if e == nil {
		return ""
	}
	return Reply(*e).Enhanced()
}
