package protocol_test

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"testing"

	"github.com/ehlo-dev/ehlo/protocol"
)

// After an AUTH exchange, whichever way it ended, nothing reachable from
// the Client holds the password, in clear or as it went on the wire: a
// Client kept for the rest of a session must not keep credentials for
// the life of the process.
func TestClientKeepsNoPasswordAfterAuth(t *testing.T) {
	const user, pw = "alice", "hunter2-Zq8"
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
	forms := []string{pw, base64.StdEncoding.EncodeToString([]byte(pw)), plain}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		name  string
		steps []step
		run   func(*protocol.Client) error
	}{
		{"Login PLAIN accepted", []step{C("AUTH PLAIN " + plain), S("235 ok")},
			func(c *protocol.Client) error { _, err := c.Login(user, pw, true); return err }},
		{"Login PLAIN and LOGIN refused", []step{C("AUTH PLAIN " + plain), S("535 5.7.8 no"), C("AUTH LOGIN " + b64(user)), S("334 UGFzc3dvcmQ6"), C(b64(pw)), S("535 5.7.8 no")},
			func(c *protocol.Client) error { _, err := c.Login(user, pw, true); return err }},
		{"Auth LOGIN accepted", []step{C("AUTH LOGIN"), S("334 VXNlcm5hbWU6"), C(b64(user)), S("334 UGFzc3dvcmQ6"), C(b64(pw)), S("235 ok")},
			func(c *protocol.Client) error {
				_, err := c.Auth("LOGIN", protocol.LoginAuth(user, pw), false)
				return err
			}},
		{"typed AUTH PLAIN", []step{C("AUTH PLAIN " + plain), S("235 ok")},
			func(c *protocol.Client) error { _, err := c.Debug().Raw("AUTH PLAIN " + plain); return err }},
		{"typed AUTH LOGIN answered", []step{C("AUTH LOGIN"), S("334 VXNlcm5hbWU6"), C(b64(user)), S("334 UGFzc3dvcmQ6"), C(b64(pw)), S("235 ok")},
			func(c *protocol.Client) error {
				d := c.Debug()
				if _, err := d.Raw("AUTH LOGIN"); err != nil {
					return err
				}
				if _, err := d.AuthRespond([]byte(user)); err != nil {
					return err
				}
				_, err := d.AuthRespond([]byte(pw))
				return err
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, script(greet("AUTH PLAIN LOGIN"), append(c.steps, C("NOOP"), S("250 ok"))))
			cl := srv.mustDial(t, withCleartext())
			if _, err := cl.Ehlo(""); err != nil {
				t.Fatal(err)
			}
			_ = c.run(cl)
			if _, err := cl.Docmd("NOOP", ""); err != nil {
				t.Fatalf("NOOP after AUTH: %v", err)
			}
			for _, f := range forms {
				if path, ok := holds(reflect.ValueOf(cl), []byte(f), "Client", map[uintptr]bool{}, 0); ok {
					t.Errorf("%s holds %q", path, f)
				}
			}
		})
	}
}

// holds walks v and reports the first string or byte slice that contains
// secret. It reads unexported fields through reflect without calling
// Interface, and stops at depth 12: the Client's own state is shallower
// than that, the network stack's internals deeper.
func holds(v reflect.Value, secret []byte, path string, seen map[uintptr]bool, depth int) (string, bool) {
	if depth > 12 || !v.IsValid() {
		return "", false
	}
	switch v.Kind() {
	case reflect.String:
		return path, bytes.Contains([]byte(v.String()), secret)
	case reflect.Slice:
		if v.IsNil() {
			return "", false
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			// The backing array beyond len may still hold old bytes.
			return path, bytes.Contains(v.Slice(0, v.Cap()).Bytes(), secret)
		}
		for i := 0; i < v.Len(); i++ {
			if p, ok := holds(v.Index(i), secret, path+"[]", seen, depth+1); ok {
				return p, true
			}
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if p, ok := holds(v.Index(i), secret, path+"[]", seen, depth+1); ok {
				return p, true
			}
		}
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return "", false
		}
		seen[v.Pointer()] = true
		return holds(v.Elem(), secret, path, seen, depth+1)
	case reflect.Interface:
		return holds(v.Elem(), secret, path, seen, depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if p, ok := holds(v.Field(i), secret, path+"."+v.Type().Field(i).Name, seen, depth+1); ok {
				return p, true
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if p, ok := holds(it.Value(), secret, path+"[k]", seen, depth+1); ok {
				return p, true
			}
			if p, ok := holds(it.Key(), secret, path+"{k}", seen, depth+1); ok {
				return p, true
			}
		}
	}
	return "", false
}
