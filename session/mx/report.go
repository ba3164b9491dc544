package mx

// Report is everything DNS and HTTPS said about one delivery, for the
// transcript, --json and the TUI.
type Report struct {
	Domain   string    `json:"domain,omitempty"`
	Resolver string    `json:"resolver"`
	Hosts    []Host    `json:"hosts"`
	MTASTS   *STSState `json:"mta_sts,omitempty"`
	TLSRPT   string    `json:"tls_rpt,omitempty"`
	Attempts []Attempt `json:"attempts"`
}

// STSState is the domain's MTA-STS record and policy, or why there is
// none usable.
type STSState struct {
	Record *STSRecord `json:"record,omitempty"`
	Policy *Policy    `json:"policy,omitempty"`
	Error  string     `json:"error,omitempty"`
}

// Enforced is the policy when its mode is enforce.
func (s *STSState) Enforced() *Policy {
	if s == nil || s.Policy == nil || s.Policy.Mode != "enforce" {
		return nil
	}
	return s.Policy
}

// Attempt is one host tried (or passed over) and what secured it.
type Attempt struct {
	Host string `json:"host"`
	Addr string `json:"addr,omitempty"`
	Port int    `json:"port"`
	// TLSA is the lookup at _PORT._tcp.HOST, DANE says whether it
	// applied (authenticated records) and Verdict is its outcome.
	TLSA    *TLSAResult `json:"tlsa,omitempty"`
	DANE    bool        `json:"dane"`
	Verdict *Verdict    `json:"dane_verdict,omitempty"`
	// MTASTS is "match", "mismatch" or "" (no policy applied).
	MTASTS string `json:"mta_sts,omitempty"`
	// Skipped is why the host was not connected to; Result the outcome.
	Skipped string `json:"skipped,omitempty"`
	Result  string `json:"result,omitempty"`
}
