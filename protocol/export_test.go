package protocol

// SetHostname replaces os.Hostname for a test; the returned func restores it.
func SetHostname(f func() (string, error)) (restore func()) {
	old := hostname
	hostname = f
	return func() { hostname = old }
}
