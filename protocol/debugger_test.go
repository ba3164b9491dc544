package protocol_test

import (
	"reflect"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// Client's methods are smtplib's API; the debugger's hooks live on
// Debugger only, so that the Client's godoc reads as smtplib's.
func TestDebuggerHooksAreNotOnClient(t *testing.T) {
	client := reflect.TypeOf(&protocol.Client{})
	debugger := reflect.TypeOf(protocol.Debugger{})
	for _, name := range []string{"Raw", "AuthRespond", "AuthCancel", "SendData", "UpgradeTLS", "CheckUnsolicited", "WatchIdle", "Abort"} {
		if _, ok := client.MethodByName(name); ok {
			t.Errorf("Client has %s; it belongs on Debugger", name)
		}
		if _, ok := debugger.MethodByName(name); !ok {
			t.Errorf("Debugger lacks %s", name)
		}
	}
}

// Abort is safe before a connection, twice, and through a Debugger taken
// before the connection closed.
func TestDebuggerAbortAnyTime(t *testing.T) {
	c := protocol.NewClient(protocol.SMTP, protocol.Options{})
	d := c.Debug()
	for i := 0; i < 2; i++ {
		if err := d.Abort(); err != nil {
			t.Errorf("Abort #%d on an unconnected client: %v", i+1, err)
		}
	}
}
